// Package placement decides which cell runs which instance or task. It is
// the auctioneer's scheduler, modelled on Diego's auctionrunner.Scheduler,
// and does no I/O: the input is the cells' states and the work of one
// batch, the output is an assignment or a failure reason for every piece
// of work.
//
// # Order
//
// Work is placed one piece at a time, updating the chosen cell's state
// before the next, so one batch never overfills a cell and instances of
// one process spread. The order follows Diego: LRP instances with index 0
// first, then tasks, then the other LRP instances by index; within each
// group bigger work (memory, then disk) first. Ties are broken by process
// guid and index or task guid, so the output depends only on the input.
//
// # Filters
//
// A cell is a candidate when
//
//   - it is not evacuating;
//   - it offers the work's root file system: "preloaded:<stack>" needs
//     <stack> in the cell's stacks; any other root_fs (a "docker:///…"
//     image) needs either the whole root_fs or its scheme ("docker") in the
//     cell's stacks, the latter standing for Diego's "arbitrary" root FS
//     provider;
//   - its placement tags match Diego's rule: every tag the cell requires is
//     requested by the work, and every tag the work requests is among the
//     cell's required or optional tags. A cell with required tags therefore
//     takes only work that asks for them, and untagged work runs only on
//     untagged cells;
//   - it has enough memory, disk and a free container slot.
//
// # Score
//
// Among the candidates the winner is the smallest of, compared in turn:
//
//  1. for an LRP instance, the number of instances of its process in the
//     cell's zone (spread across zones first);
//  2. the number of instances of its process on the cell, or for a task the
//     number of tasks on the cell (then spread across cells);
//  3. the resource score: the mean of the fractions of memory, disk and
//     containers the cell would have in use after the placement, plus
//     Options.StartingContainerWeight per container the cell is still
//     starting (least loaded);
//  4. the cell id.
//
// Diego adds the first two terms to the score with large offsets; comparing
// them in turn is the same order without the arithmetic. Work that names
// cells to avoid (cells that refused it before) goes to one of those only
// when no other cell can take it.
//
// # Failures
//
// The reasons are Diego's strings, which end up in the BBS as the
// instance's placement_error or the task's failure_reason:
//
//	found no compatible cell for required rootfs        no cell offers the root_fs
//	found no compatible cell with placement tag "x"     root_fs matches, tags do not
//	insufficient resources: disk, memory                every compatible cell lacks these
//	unable to communicate to compatible cells           no cell at all (none answered, all evacuate)
//
// The resources named are those every compatible cell lacks (Diego's
// intersection), sorted; when the cells lack different things the reason
// is plain "insufficient resources".
//
// # Cost
//
// Place runs in O(W log W + W·C) time for W pieces of work and C cells:
// the compatible cells of each distinct (root_fs, tags) pair are computed
// once, and the per-process counts are kept in arrays updated as work is
// placed.
package placement
