package placement

import "strings"

// The failure reasons that are fixed strings (Diego's wording).
const (
	// NoCompatibleCell: no cell offers the root file system.
	NoCompatibleCell = "found no compatible cell for required rootfs"
	// CellCommunication: there was no cell to place on (none answered
	// for its state, or all evacuate), or the chosen cell could not be
	// reached.
	CellCommunication = "unable to communicate to compatible cells"
)

// TagMismatch is the reason when cells offer the root file system but none
// matches the placement tags (Diego's PlacementTagMismatchError).
func TagMismatch(tags []string) string {
	quoted := make([]string, len(tags))
	for i, t := range tags {
		quoted[i] = `"` + t + `"`
	}
	switch len(tags) {
	case 0:
		return "found no compatible cell with no placement tags"
	case 1:
		return "found no compatible cell with placement tag " + quoted[0]
	default:
		return "found no compatible cell with placement tags " +
			strings.Join(quoted[:len(quoted)-1], ", ") + " and " + quoted[len(quoted)-1]
	}
}

// problems is a set of resources a cell lacks.
type problems uint8

const (
	lacksContainers problems = 1 << iota
	lacksDisk
	lacksMemory

	allProblems = lacksContainers | lacksDisk | lacksMemory
)

// insufficientResources is Diego's InsufficientResourcesError text: the
// resources in p, sorted, or none when p is empty.
func insufficientResources(p problems) string {
	var names []string
	for _, n := range []struct {
		bit  problems
		name string
	}{{lacksContainers, "containers"}, {lacksDisk, "disk"}, {lacksMemory, "memory"}} {
		if p&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "insufficient resources"
	}
	return "insufficient resources: " + strings.Join(names, ", ")
}
