package placement

import (
	"cmp"
	"slices"
	"strings"
)

// Resources is an amount of memory, disk and container slots.
type Resources struct {
	MemoryMB   int32
	DiskMB     int32
	Containers int32
}

// Cell is one cell's state as its rep reported it.
type Cell struct {
	ID   string
	Zone string
	// Total is what the cell offers; Available what is left of it.
	Total     Resources
	Available Resources
	// Stacks are the root file systems the cell runs ("cflinuxfs4").
	Stacks                []string
	PlacementTags         []string
	OptionalPlacementTags []string
	// Instances holds the process guid of every LRP instance the cell
	// holds, one entry per instance.
	Instances []string
	// Tasks is the number of tasks the cell holds.
	Tasks int
	// StartingContainers is the number of containers still starting.
	StartingContainers int
	// Evacuating cells take no work.
	Evacuating bool
}

// Kind says whether work is an LRP instance or a task.
type Kind uint8

// The kinds of work.
const (
	LRP Kind = iota + 1
	Task
)

// Work is one LRP instance or one task to place.
type Work struct {
	Kind Kind
	// ProcessGUID and Index name an LRP instance.
	ProcessGUID string
	Index       int32
	// TaskGUID names a task.
	TaskGUID string
	// RootFS is "preloaded:<stack>" or an image URL.
	RootFS        string
	PlacementTags []string
	MemoryMB      int32
	DiskMB        int32
	// Avoid names cells that refused this work before; the work goes to
	// one of them only when no other cell can take it.
	Avoid []string
}

// Options tunes the score.
type Options struct {
	// StartingContainerWeight is added to a cell's resource score for each
	// container it is still starting (Diego's starting_container_weight).
	StartingContainerWeight float64
}

// Assignment says which cell runs a piece of work.
type Assignment struct {
	// Work is the index of the work in Place's input.
	Work int
	Cell string
}

// Failure says why a piece of work could not be placed.
type Failure struct {
	// Work is the index of the work in Place's input.
	Work   int
	Reason string
}

// Result is the outcome of Place: every piece of work is in exactly one
// of the two lists, both in placement order.
type Result struct {
	Assignments []Assignment
	Failures    []Failure
}

// Place assigns each piece of work to a cell, or says why it cannot. It
// does not modify its arguments. With no cell to consider (none given, or
// all evacuating) every piece fails with CellCommunication, as in Diego.
func Place(cells []Cell, work []Work, opts Options) Result {
	s := newScheduler(cells, work, opts)
	res := Result{Assignments: make([]Assignment, 0, len(work))}
	for _, wi := range order(work) {
		if len(s.cells) == 0 {
			res.Failures = append(res.Failures, Failure{Work: wi, Reason: CellCommunication})
			continue
		}
		ci, reason := s.place(&work[wi])
		if ci < 0 {
			res.Failures = append(res.Failures, Failure{Work: wi, Reason: reason})
			continue
		}
		res.Assignments = append(res.Assignments, Assignment{Work: wi, Cell: s.cells[ci].ID})
	}
	return res
}

// cellState is what placement changes about a cell.
type cellState struct {
	zone     int
	total    Resources
	avail    Resources
	starting int
	tasks    int
}

// compat is the cells compatible with one (root_fs, tags) pair, or why
// there are none.
type compat struct {
	cells  []int
	reason string
}

// procCount counts one process's instances per cell and per zone.
type procCount struct {
	cell []int32
	zone []int32
}

type scheduler struct {
	opts   Options
	cells  []*Cell // candidates, sorted by id
	state  []cellState
	byID   map[string]int
	compat map[string]*compat
	procs  map[string]*procCount
}

func newScheduler(in []Cell, work []Work, opts Options) *scheduler {
	s := &scheduler{
		opts:   opts,
		byID:   make(map[string]int, len(in)),
		compat: map[string]*compat{},
		procs:  map[string]*procCount{},
	}
	for i := range in {
		if !in[i].Evacuating {
			s.cells = append(s.cells, &in[i])
		}
	}
	slices.SortStableFunc(s.cells, func(a, b *Cell) int { return strings.Compare(a.ID, b.ID) })
	s.cells = slices.CompactFunc(s.cells, func(a, b *Cell) bool { return a.ID == b.ID })

	zones := map[string]int{}
	for _, c := range s.cells {
		zones[c.Zone] = 0
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	slices.Sort(names)
	for i, z := range names {
		zones[z] = i
	}

	s.state = make([]cellState, len(s.cells))
	for i, c := range s.cells {
		s.byID[c.ID] = i
		s.state[i] = cellState{
			zone:     zones[c.Zone],
			total:    c.Total,
			avail:    c.Available,
			starting: c.StartingContainers,
			tasks:    c.Tasks,
		}
	}

	// Count instances only for the processes this batch places, in one
	// backing array.
	for i := range work {
		if work[i].Kind == LRP {
			s.procs[work[i].ProcessGUID] = nil
		}
	}
	stride := len(s.cells) + len(names)
	backing := make([]int32, len(s.procs)*stride)
	for guid := range s.procs {
		s.procs[guid] = &procCount{cell: backing[:len(s.cells):len(s.cells)], zone: backing[len(s.cells):stride:stride]}
		backing = backing[stride:]
	}
	for ci, c := range s.cells {
		for _, guid := range c.Instances {
			if pc := s.procs[guid]; pc != nil {
				pc.cell[ci]++
				pc.zone[s.state[ci].zone]++
			}
		}
	}
	return s
}

// candidate is a cell that can take the work, with its ranking keys.
type candidate struct {
	cell  int
	zone  int32 // instances of the process in the cell's zone (LRPs)
	local int32 // instances of the process, or tasks, on the cell
	score float64
}

func (a candidate) less(b candidate) bool {
	if a.zone != b.zone {
		return a.zone < b.zone
	}
	if a.local != b.local {
		return a.local < b.local
	}
	if a.score != b.score {
		return a.score < b.score
	}
	return a.cell < b.cell
}

// place picks w's cell and reserves its resources there. It returns the
// cell's index, or -1 and the reason.
func (s *scheduler) place(w *Work) (int, string) {
	c := s.compatFor(w)
	if len(c.cells) == 0 {
		return -1, c.reason
	}
	var pc *procCount
	if w.Kind == LRP {
		pc = s.procs[w.ProcessGUID]
	}
	avoid := s.avoided(w)
	best, fallback := candidate{cell: -1}, candidate{cell: -1}
	missing := allProblems
	for _, ci := range c.cells {
		st := &s.state[ci]
		if p := st.lacks(w); p != 0 {
			missing &= p
			continue
		}
		cand := candidate{cell: ci, score: st.score(w, s.opts.StartingContainerWeight)}
		if pc != nil {
			cand.zone, cand.local = pc.zone[st.zone], pc.cell[ci]
		} else {
			cand.local = int32(st.tasks)
		}
		if len(avoid) > 0 && slices.Contains(avoid, ci) {
			if fallback.cell < 0 || cand.less(fallback) {
				fallback = cand
			}
			continue
		}
		if best.cell < 0 || cand.less(best) {
			best = cand
		}
	}
	if best.cell < 0 {
		best = fallback
	}
	if best.cell < 0 {
		return -1, insufficientResources(missing)
	}
	st := &s.state[best.cell]
	st.avail.MemoryMB -= w.MemoryMB
	st.avail.DiskMB -= w.DiskMB
	st.avail.Containers--
	st.starting++
	if pc != nil {
		pc.cell[best.cell]++
		pc.zone[st.zone]++
	} else {
		st.tasks++
	}
	return best.cell, ""
}

// avoided returns the indices of the cells w avoids.
func (s *scheduler) avoided(w *Work) []int {
	if len(w.Avoid) == 0 {
		return nil
	}
	out := make([]int, 0, len(w.Avoid))
	for _, id := range w.Avoid {
		if ci, ok := s.byID[id]; ok {
			out = append(out, ci)
		}
	}
	return out
}

// compatFor returns the cells offering w's root_fs and matching its
// placement tags, computed once per distinct pair.
func (s *scheduler) compatFor(w *Work) *compat {
	tags := w.PlacementTags
	if len(tags) > 1 {
		tags = slices.Clone(tags)
		slices.Sort(tags)
		tags = slices.Compact(tags)
	}
	key := w.RootFS
	if len(tags) > 0 {
		key += "\x00" + strings.Join(tags, "\x00")
	}
	if c, ok := s.compat[key]; ok {
		return c
	}
	c := &compat{}
	rootFSFound := false
	for ci, cell := range s.cells {
		if !offersRootFS(cell.Stacks, w.RootFS) {
			continue
		}
		rootFSFound = true
		if matchTags(cell, tags) {
			c.cells = append(c.cells, ci)
		}
	}
	switch {
	case len(c.cells) > 0:
	case !rootFSFound:
		c.reason = NoCompatibleCell
	default:
		c.reason = TagMismatch(tags)
	}
	s.compat[key] = c
	return c
}

// offersRootFS reports whether a cell with stacks runs rootFS.
func offersRootFS(stacks []string, rootFS string) bool {
	scheme, rest, hasScheme := strings.Cut(rootFS, ":")
	if hasScheme && scheme == "preloaded" {
		return slices.Contains(stacks, rest)
	}
	if slices.Contains(stacks, rootFS) {
		return true
	}
	return hasScheme && scheme != "" && slices.Contains(stacks, scheme)
}

// matchTags is Diego's rule: the cell's required tags are all wanted, and
// every wanted tag is one of the cell's required or optional tags.
func matchTags(c *Cell, want []string) bool {
	for _, t := range c.PlacementTags {
		if !slices.Contains(want, t) {
			return false
		}
	}
	for _, t := range want {
		if !slices.Contains(c.PlacementTags, t) && !slices.Contains(c.OptionalPlacementTags, t) {
			return false
		}
	}
	return true
}

// lacks returns the resources the cell lacks for w.
func (st *cellState) lacks(w *Work) problems {
	var p problems
	if st.avail.DiskMB < w.DiskMB {
		p |= lacksDisk
	}
	if st.avail.MemoryMB < w.MemoryMB {
		p |= lacksMemory
	}
	if st.avail.Containers < 1 {
		p |= lacksContainers
	}
	return p
}

// score is Diego's resource score: the mean fraction of memory, disk and
// containers in use once w is placed, plus the starting-container penalty.
func (st *cellState) score(w *Work, startingWeight float64) float64 {
	used := fractionUsed(st.avail.MemoryMB-w.MemoryMB, st.total.MemoryMB) +
		fractionUsed(st.avail.DiskMB-w.DiskMB, st.total.DiskMB) +
		fractionUsed(st.avail.Containers-1, st.total.Containers)
	return used/3 + float64(st.starting)*startingWeight
}

// fractionUsed is 1 - avail/total; a cell reporting no total counts as
// full.
func fractionUsed(avail, total int32) float64 {
	if total <= 0 {
		return 1
	}
	return 1 - float64(avail)/float64(total)
}

// order returns the indices of work in placement order (see the package
// documentation).
func order(work []Work) []int {
	idx := make([]int, len(work))
	for i := range idx {
		idx[i] = i
	}
	group := func(w *Work) int {
		switch {
		case w.Kind == LRP && w.Index == 0:
			return 0
		case w.Kind == Task:
			return 1
		default:
			return 2
		}
	}
	slices.SortFunc(idx, func(i, j int) int {
		a, b := &work[i], &work[j]
		if c := cmp.Compare(group(a), group(b)); c != 0 {
			return c
		}
		if a.Kind == LRP {
			if c := cmp.Compare(a.Index, b.Index); c != 0 {
				return c
			}
		}
		if c := cmp.Compare(b.MemoryMB, a.MemoryMB); c != 0 {
			return c
		}
		if c := cmp.Compare(b.DiskMB, a.DiskMB); c != 0 {
			return c
		}
		if c := strings.Compare(a.ProcessGUID, b.ProcessGUID); c != 0 {
			return c
		}
		if c := strings.Compare(a.TaskGUID, b.TaskGUID); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	return idx
}
