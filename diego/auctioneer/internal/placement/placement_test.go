package placement

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

const stack = "cflinuxfs4"

// cell returns a cell with the default stack and the given free capacity,
// which is also its total.
func cell(id, zone string, memMB, diskMB, containers int32, opts ...func(*Cell)) Cell {
	r := Resources{MemoryMB: memMB, DiskMB: diskMB, Containers: containers}
	c := Cell{ID: id, Zone: zone, Total: r, Available: r, Stacks: []string{stack}}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func stacks(s ...string) func(*Cell) { return func(c *Cell) { c.Stacks = s } }
func tags(required, optional []string) func(*Cell) {
	return func(c *Cell) { c.PlacementTags, c.OptionalPlacementTags = required, optional }
}
func evacuating(c *Cell)                  { c.Evacuating = true }
func starting(n int) func(*Cell)          { return func(c *Cell) { c.StartingContainers = n } }
func holding(guids ...string) func(*Cell) { return func(c *Cell) { c.Instances = guids } }
func tasksHeld(n int) func(*Cell)         { return func(c *Cell) { c.Tasks = n } }
func used(memMB, diskMB, containers int32) func(*Cell) {
	return func(c *Cell) {
		c.Available.MemoryMB -= memMB
		c.Available.DiskMB -= diskMB
		c.Available.Containers -= containers
	}
}

func lrp(guid string, index int32, memMB, diskMB int32, opts ...func(*Work)) Work {
	w := Work{Kind: LRP, ProcessGUID: guid, Index: index, RootFS: "preloaded:" + stack, MemoryMB: memMB, DiskMB: diskMB}
	for _, o := range opts {
		o(&w)
	}
	return w
}

func task(guid string, memMB, diskMB int32, opts ...func(*Work)) Work {
	w := Work{Kind: Task, TaskGUID: guid, RootFS: "preloaded:" + stack, MemoryMB: memMB, DiskMB: diskMB}
	for _, o := range opts {
		o(&w)
	}
	return w
}

func rootFS(r string) func(*Work)        { return func(w *Work) { w.RootFS = r } }
func wantTags(t ...string) func(*Work)   { return func(w *Work) { w.PlacementTags = t } }
func avoiding(ids ...string) func(*Work) { return func(w *Work) { w.Avoid = ids } }

// outcome is where each piece of work went ("cell id") or why not
// ("!reason"), by input index.
func outcome(t *testing.T, work []Work, res Result) []string {
	t.Helper()
	out := make([]string, len(work))
	seen := 0
	for _, a := range res.Assignments {
		out[a.Work] = a.Cell
		seen++
	}
	for _, f := range res.Failures {
		if out[f.Work] != "" {
			t.Fatalf("work %d both placed and failed", f.Work)
		}
		out[f.Work] = "!" + f.Reason
		seen++
	}
	if seen != len(work) {
		t.Fatalf("result covers %d of %d pieces of work", seen, len(work))
	}
	return out
}

func TestFiltersAndFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cells []Cell
		work  Work
		want  string // cell id, or "!" + reason
	}{
		{"stack matches", []Cell{cell("a", "z1", 1024, 1024, 10, stacks("cflinuxfs3")), cell("b", "z1", 512, 512, 10)}, lrp("p", 0, 256, 256), "b"},
		{"no cell with the stack", []Cell{cell("a", "z1", 1024, 1024, 10, stacks("cflinuxfs3"))}, lrp("p", 0, 256, 256), "!found no compatible cell for required rootfs"},
		{"docker image by scheme", []Cell{cell("a", "z1", 1024, 1024, 10), cell("b", "z1", 512, 512, 10, stacks(stack, "docker"))}, lrp("p", 0, 256, 256, rootFS("docker:///busybox")), "b"},
		{"docker image literally", []Cell{cell("a", "z1", 1024, 1024, 10), cell("b", "z1", 512, 512, 10, stacks("docker:///busybox"))}, lrp("p", 0, 256, 256, rootFS("docker:///busybox")), "b"},
		{"docker image nowhere", []Cell{cell("a", "z1", 1024, 1024, 10, stacks(stack, "docker:///nginx"))}, lrp("p", 0, 256, 256, rootFS("docker:///busybox")), "!found no compatible cell for required rootfs"},
		{"preloaded needs the stack, not the scheme", []Cell{cell("a", "z1", 1024, 1024, 10, stacks("preloaded"))}, lrp("p", 0, 256, 256), "!found no compatible cell for required rootfs"},
		{"required tag", []Cell{cell("a", "z1", 1024, 1024, 10), cell("b", "z1", 512, 512, 10, tags([]string{"gpu"}, nil))}, lrp("p", 0, 256, 256, wantTags("gpu")), "b"},
		{"tag nobody offers", []Cell{cell("a", "z1", 1024, 1024, 10)}, lrp("p", 0, 256, 256, wantTags("gpu")), `!found no compatible cell with placement tag "gpu"`},
		{"tags nobody offers", []Cell{cell("a", "z1", 1024, 1024, 10)}, task("t", 256, 256, wantTags("ssd", "gpu", "fast")), `!found no compatible cell with placement tags "fast", "gpu" and "ssd"`},
		{"tagged cell refuses untagged work", []Cell{cell("a", "z1", 1024, 1024, 10, tags([]string{"gpu"}, nil))}, lrp("p", 0, 256, 256), "!found no compatible cell with no placement tags"},
		{"tagged cell refuses work missing its tag", []Cell{cell("a", "z1", 1024, 1024, 10, tags([]string{"gpu"}, []string{"ssd"}))}, lrp("p", 0, 256, 256, wantTags("ssd")), `!found no compatible cell with placement tag "ssd"`},
		{"required plus optional tag", []Cell{cell("a", "z1", 1024, 1024, 10, tags([]string{"gpu"}, []string{"ssd"}))}, lrp("p", 0, 256, 256, wantTags("ssd", "gpu")), "a"},
		{"optional tag", []Cell{cell("a", "z1", 1024, 1024, 10), cell("b", "z1", 512, 512, 10, tags(nil, []string{"ssd"}))}, lrp("p", 0, 256, 256, wantTags("ssd")), "b"},
		{"optional-tag cell takes untagged work", []Cell{cell("a", "z1", 1024, 1024, 10, tags(nil, []string{"ssd"}))}, lrp("p", 0, 256, 256), "a"},
		{"stack found but tag not", []Cell{cell("a", "z1", 1024, 1024, 10, stacks("cflinuxfs3"), tags([]string{"gpu"}, nil)), cell("b", "z1", 1024, 1024, 10)}, lrp("p", 0, 256, 256, wantTags("gpu")), `!found no compatible cell with placement tag "gpu"`},
		{"evacuating cell skipped", []Cell{cell("a", "z1", 4096, 4096, 10, evacuating), cell("b", "z1", 512, 512, 10)}, lrp("p", 0, 256, 256), "b"},
		{"only evacuating cells", []Cell{cell("a", "z1", 4096, 4096, 10, evacuating)}, lrp("p", 0, 256, 256), "!unable to communicate to compatible cells"},
		{"no cells", nil, task("t", 1, 1), "!unable to communicate to compatible cells"},
		{"memory", []Cell{cell("a", "z1", 255, 1024, 10)}, lrp("p", 0, 256, 256), "!insufficient resources: memory"},
		{"disk", []Cell{cell("a", "z1", 1024, 255, 10)}, lrp("p", 0, 256, 256), "!insufficient resources: disk"},
		{"containers", []Cell{cell("a", "z1", 1024, 1024, 10, used(0, 0, 10))}, task("t", 256, 256), "!insufficient resources: containers"},
		{"disk and memory", []Cell{cell("a", "z1", 100, 100, 10), cell("b", "z1", 200, 200, 10)}, lrp("p", 0, 256, 256), "!insufficient resources: disk, memory"},
		{"everything", []Cell{cell("a", "z1", 100, 100, 0)}, lrp("p", 0, 256, 256), "!insufficient resources: containers, disk, memory"},
		{"cells lack different things", []Cell{cell("a", "z1", 100, 1024, 10), cell("b", "z1", 1024, 100, 10)}, lrp("p", 0, 256, 256), "!insufficient resources"},
		{"incompatible cells do not count for resources", []Cell{cell("a", "z1", 100, 1024, 10), cell("b", "z1", 1024, 100, 10, stacks("other"))}, lrp("p", 0, 256, 256), "!insufficient resources: memory"},
		{"exact fit", []Cell{cell("a", "z1", 256, 256, 1)}, lrp("p", 0, 256, 256), "a"},
		{"zero-sized work", []Cell{cell("a", "z1", 0, 0, 1)}, task("t", 0, 0), "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			work := []Work{tt.work}
			got := outcome(t, work, Place(tt.cells, work, Options{}))
			if got[0] != tt.want {
				t.Errorf("got %q, want %q", got[0], tt.want)
			}
		})
	}
}

// countBy returns how many placed pieces of work went to each key of the
// assigned cell.
func countBy(res Result, key func(cell string) string) map[string]int {
	out := map[string]int{}
	for _, a := range res.Assignments {
		out[key(a.Cell)]++
	}
	return out
}

func TestSpread(t *testing.T) {
	t.Parallel()
	zoneOf := func(cells []Cell) func(string) string {
		return func(id string) string {
			for _, c := range cells {
				if c.ID == id {
					return c.Zone
				}
			}
			return "?"
		}
	}
	same := func(id string) string { return id }
	tests := []struct {
		name  string
		cells []Cell
		work  []Work
		by    string // "zone" or "cell"
		want  map[string]int
	}{
		{
			name: "three zones, six instances: two per zone",
			cells: []Cell{
				// z1 has the emptiest cells: least-loaded alone would fill it.
				cell("a1", "z1", 64000, 64000, 250), cell("a2", "z1", 64000, 64000, 250),
				cell("b1", "z2", 8000, 8000, 250), cell("c1", "z3", 8000, 8000, 250),
			},
			work: []Work{lrp("p", 0, 512, 512), lrp("p", 1, 512, 512), lrp("p", 2, 512, 512), lrp("p", 3, 512, 512), lrp("p", 4, 512, 512), lrp("p", 5, 512, 512)},
			by:   "zone",
			want: map[string]int{"z1": 2, "z2": 2, "z3": 2},
		},
		{
			name: "existing instances count towards their zone",
			cells: []Cell{
				cell("a1", "z1", 64000, 64000, 250, holding("p", "p", "other")),
				cell("b1", "z2", 8000, 8000, 250, holding("p")),
				cell("c1", "z3", 8000, 8000, 250),
			},
			work: []Work{lrp("p", 3, 512, 512), lrp("p", 4, 512, 512), lrp("p", 5, 512, 512)},
			by:   "zone",
			want: map[string]int{"z2": 1, "z3": 2},
		},
		{
			name: "other processes do not count",
			cells: []Cell{
				cell("a1", "z1", 8000, 8000, 250, holding("q", "q", "q")),
				cell("b1", "z2", 8000, 8000, 250),
			},
			work: []Work{lrp("p", 0, 512, 512), lrp("p", 1, 512, 512)},
			by:   "zone",
			want: map[string]int{"z1": 1, "z2": 1},
		},
		{
			name:  "cells within a zone before load",
			cells: []Cell{cell("big", "z1", 64000, 64000, 250), cell("small", "z1", 2048, 2048, 250)},
			work:  []Work{lrp("p", 0, 512, 512), lrp("p", 1, 512, 512), lrp("p", 2, 512, 512), lrp("p", 3, 512, 512)},
			by:    "cell",
			want:  map[string]int{"big": 2, "small": 2},
		},
		{
			name:  "an instance already on the emptier cell",
			cells: []Cell{cell("big", "z1", 64000, 64000, 250, holding("p")), cell("small", "z1", 2048, 2048, 250)},
			work:  []Work{lrp("p", 1, 512, 512)},
			by:    "cell",
			want:  map[string]int{"small": 1},
		},
		{
			name:  "zone spread wins over cell spread",
			cells: []Cell{cell("a1", "z1", 8000, 8000, 250), cell("a2", "z1", 8000, 8000, 250), cell("b1", "z2", 8000, 8000, 250, holding("p"))},
			work:  []Work{lrp("p", 1, 512, 512), lrp("p", 2, 512, 512)},
			by:    "cell",
			want:  map[string]int{"a1": 1, "a2": 1},
		},
		{
			name:  "a full zone is passed over",
			cells: []Cell{cell("a1", "z1", 256, 8000, 250), cell("b1", "z2", 8000, 8000, 250, holding("p", "p"))},
			work:  []Work{lrp("p", 2, 512, 512)},
			by:    "cell",
			want:  map[string]int{"b1": 1},
		},
		{
			name:  "tasks spread by task count",
			cells: []Cell{cell("busy", "z1", 64000, 64000, 250, tasksHeld(3)), cell("idle", "z1", 4096, 4096, 250)},
			work:  []Work{task("t1", 512, 512)},
			by:    "cell",
			want:  map[string]int{"idle": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := Place(tt.cells, tt.work, Options{StartingContainerWeight: 0.25})
			if len(res.Failures) > 0 {
				t.Fatalf("failures: %v", res.Failures)
			}
			key := same
			if tt.by == "zone" {
				key = zoneOf(tt.cells)
			}
			if got := countBy(res, key); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("per %s: got %v, want %v", tt.by, got, tt.want)
			}
		})
	}
}

func TestLeastLoaded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cells  []Cell
		work   Work
		weight float64
		want   string
	}{
		{"most free memory", []Cell{cell("a", "z1", 4096, 4096, 100, used(3000, 0, 0)), cell("b", "z1", 4096, 4096, 100, used(1000, 0, 0)), cell("c", "z1", 4096, 4096, 100, used(2000, 0, 0))}, lrp("p", 0, 256, 256), 0, "b"},
		{"fractions, not amounts", []Cell{cell("large", "z1", 16384, 16384, 100, used(12288, 12288, 50)), cell("small", "z1", 4096, 4096, 100, used(1024, 1024, 50))}, lrp("p", 0, 256, 256), 0, "small"},
		{"containers count", []Cell{cell("a", "z1", 4096, 4096, 10, used(0, 0, 8)), cell("b", "z1", 4096, 4096, 10, used(100, 100, 1))}, task("t", 256, 256), 0, "b"},
		{"starting containers penalised", []Cell{cell("a", "z1", 4096, 4096, 100, starting(4)), cell("b", "z1", 4096, 4096, 100, used(400, 400, 4))}, lrp("p", 0, 256, 256), 0.25, "b"},
		{"starting containers ignored without weight", []Cell{cell("a", "z1", 4096, 4096, 100, starting(4)), cell("b", "z1", 4096, 4096, 100, used(400, 400, 4))}, lrp("p", 0, 256, 256), 0, "a"},
		{"ties by cell id", []Cell{cell("c", "z1", 4096, 4096, 100), cell("a", "z1", 4096, 4096, 100), cell("b", "z1", 4096, 4096, 100)}, lrp("p", 0, 256, 256), 0, "a"},
		{"avoided cell passed over", []Cell{cell("a", "z1", 8192, 8192, 100), cell("b", "z1", 4096, 4096, 100, used(2000, 2000, 50))}, lrp("p", 0, 256, 256, avoiding("a")), 0, "b"},
		{"avoided cell when nothing else fits", []Cell{cell("a", "z1", 8192, 8192, 100), cell("b", "z1", 4096, 4096, 100, used(4000, 0, 0))}, lrp("p", 0, 256, 256, avoiding("a", "gone")), 0, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			work := []Work{tt.work}
			if got := outcome(t, work, Place(tt.cells, work, Options{StartingContainerWeight: tt.weight}))[0]; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBatchOrderAndSharedCapacity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cells []Cell
		work  []Work
		want  []string
	}{
		{
			name:  "index 0, then tasks, then other indices",
			cells: []Cell{cell("a", "z1", 1024, 8192, 100)},
			work:  []Work{lrp("p", 1, 512, 10), task("t", 512, 10), lrp("q", 0, 512, 10)},
			want:  []string{"!insufficient resources: memory", "a", "a"},
		},
		{
			name:  "bigger first",
			cells: []Cell{cell("a", "z1", 1024, 8192, 100)},
			work:  []Work{task("small", 256, 10), task("big", 1024, 10)},
			want:  []string{"!insufficient resources: memory", "a"},
		},
		{
			name:  "lower index first",
			cells: []Cell{cell("a", "z1", 1024, 8192, 100)},
			work:  []Work{lrp("p", 3, 512, 10), lrp("p", 2, 512, 10), lrp("p", 1, 512, 10)},
			want:  []string{"!insufficient resources: memory", "a", "a"},
		},
		{
			name:  "one batch does not overfill a cell",
			cells: []Cell{cell("a", "z1", 8192, 8192, 2)},
			work:  []Work{task("t1", 1, 1), task("t2", 1, 1), task("t3", 1, 1)},
			want:  []string{"a", "a", "!insufficient resources: containers"},
		},
		{
			name:  "fills the second cell when the first is full",
			cells: []Cell{cell("a", "z1", 1024, 8192, 100), cell("b", "z1", 512, 8192, 100)},
			work:  []Work{task("t1", 1024, 1), task("t2", 512, 1), task("t3", 1, 1)},
			want:  []string{"a", "b", "!insufficient resources: memory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := outcome(t, tt.work, Place(tt.cells, tt.work, Options{})); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// fleet is n cells over zones with some existing load, and processes ×
// instances LRPs plus tasks, sized to fit.
func fleet(r *rand.Rand, n, zones, processes, instances, tasks int) ([]Cell, []Work) {
	cells := make([]Cell, n)
	for i := range cells {
		c := cell(fmt.Sprintf("cell-%03d", i), fmt.Sprintf("z%d", i%zones), 32768, 131072, 250)
		load := int32(r.IntN(50))
		c.Available.MemoryMB -= load * 64
		c.Available.DiskMB -= load * 128
		c.Available.Containers -= load
		for range load {
			c.Instances = append(c.Instances, fmt.Sprintf("proc-%d", r.IntN(processes)))
		}
		c.StartingContainers = r.IntN(3)
		cells[i] = c
	}
	var work []Work
	for p := range processes {
		for i := range instances {
			work = append(work, lrp(fmt.Sprintf("proc-%d", p), int32(i), 128+int32(p%4)*64, 256))
		}
	}
	for t := range tasks {
		work = append(work, task(fmt.Sprintf("task-%d", t), 256, 512))
	}
	return cells, work
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	cells, work := fleet(rand.New(rand.NewPCG(1, 2)), 30, 3, 50, 5, 40)
	want := outcome(t, work, Place(cells, work, Options{StartingContainerWeight: 0.25}))

	r := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		c2, w2 := slices.Clone(cells), slices.Clone(work)
		r.Shuffle(len(c2), func(i, j int) { c2[i], c2[j] = c2[j], c2[i] })
		perm := r.Perm(len(w2))
		for i, p := range perm {
			w2[p] = work[i]
		}
		got := outcome(t, w2, Place(c2, w2, Options{StartingContainerWeight: 0.25}))
		for i, p := range perm {
			if got[p] != want[i] {
				t.Fatalf("shuffled input: work %d went to %q, want %q", i, got[p], want[i])
			}
		}
	}
}

func TestPlaceKeepsInputs(t *testing.T) {
	t.Parallel()
	cells, work := fleet(rand.New(rand.NewPCG(5, 6)), 10, 2, 10, 3, 5)
	work[0].PlacementTags = []string{"b", "a"}
	cells[0].OptionalPlacementTags = []string{"a", "b"}
	cellsBefore := deepCopyCells(cells)
	workBefore := deepCopyWork(work)
	Place(cells, work, Options{StartingContainerWeight: 0.25})
	if !reflect.DeepEqual(cells, cellsBefore) {
		t.Error("Place modified the cells")
	}
	if !reflect.DeepEqual(work, workBefore) {
		t.Error("Place modified the work")
	}
}

func TestEveryPieceAccountedFor(t *testing.T) {
	t.Parallel()
	// More work than fits: the fleet takes some, the rest fail, nothing is
	// lost or placed twice, and no cell goes below zero.
	cells, work := fleet(rand.New(rand.NewPCG(7, 8)), 5, 2, 40, 30, 100)
	res := Place(cells, work, Options{})
	outcome(t, work, res)
	if len(res.Failures) == 0 || len(res.Assignments) == 0 {
		t.Fatalf("want both placements and failures, got %d and %d", len(res.Assignments), len(res.Failures))
	}
	left := map[string]Resources{}
	for _, c := range cells {
		left[c.ID] = c.Available
	}
	for _, a := range res.Assignments {
		r := left[a.Cell]
		r.MemoryMB -= work[a.Work].MemoryMB
		r.DiskMB -= work[a.Work].DiskMB
		r.Containers--
		left[a.Cell] = r
	}
	for id, r := range left {
		if r.MemoryMB < 0 || r.DiskMB < 0 || r.Containers < 0 {
			t.Errorf("cell %s overfilled: %+v left", id, r)
		}
	}
}

func deepCopyCells(in []Cell) []Cell {
	out := slices.Clone(in)
	for i := range out {
		out[i].Stacks = slices.Clone(out[i].Stacks)
		out[i].PlacementTags = slices.Clone(out[i].PlacementTags)
		out[i].OptionalPlacementTags = slices.Clone(out[i].OptionalPlacementTags)
		out[i].Instances = slices.Clone(out[i].Instances)
	}
	return out
}

func deepCopyWork(in []Work) []Work {
	out := slices.Clone(in)
	for i := range out {
		out[i].PlacementTags = slices.Clone(out[i].PlacementTags)
		out[i].Avoid = slices.Clone(out[i].Avoid)
	}
	return out
}
