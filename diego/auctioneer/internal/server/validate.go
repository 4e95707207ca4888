package server

import (
	"errors"
	"fmt"
	"strings"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// validateLRPStarts returns every problem with starts, naming each entry,
// or nil. The rules are Diego's LRPStartRequest.Validate plus non-negative
// indices.
func validateLRPStarts(starts []*auctioneerv1.LRPStartRequest) error {
	var errs []error
	for i, st := range starts {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("starts[%d] (%q): %s", i, st.GetProcessGuid(), fmt.Sprintf(format, args...)))
		}
		if st.GetProcessGuid() == "" {
			bad("process_guid is empty")
		}
		if st.GetDomain() == "" {
			bad("domain is empty")
		}
		if len(st.GetIndices()) == 0 {
			bad("indices is empty")
		}
		for _, index := range st.GetIndices() {
			if index < 0 {
				bad("index %d is negative", index)
				break
			}
		}
		if st.GetMemoryMb() < 0 || st.GetDiskMb() < 0 || st.GetMaxPids() < 0 {
			bad("memory_mb, disk_mb and max_pids must not be negative")
		}
		if st.GetRootFs() == "" {
			bad("root_fs is empty")
		}
	}
	return joinCapped(errs)
}

// validateTasks returns every problem with tasks, naming each entry, or
// nil. The rules are Diego's TaskStartRequest.Validate.
func validateTasks(tasks []*bbsv1.Task) error {
	var errs []error
	for i, t := range tasks {
		bad := func(msg string) {
			errs = append(errs, fmt.Errorf("tasks[%d] (%q): %s", i, t.GetTaskGuid(), msg))
		}
		if t == nil {
			bad("missing")
			continue
		}
		if t.GetTaskGuid() == "" {
			bad("task_guid is empty")
		}
		def := t.GetDefinition()
		if def == nil {
			bad("definition is missing")
			continue
		}
		if def.GetMemoryMb() < 0 || def.GetDiskMb() < 0 || def.GetMaxPids() < 0 {
			bad("memory_mb, disk_mb and max_pids must not be negative")
		}
		if def.GetRootFs() == "" {
			bad("root_fs is empty")
		}
	}
	return joinCapped(errs)
}

// maxProblems bounds the problems an error lists, keeping the status
// message small whatever the request's size.
const maxProblems = 10

// joinCapped joins the first maxProblems errors and counts the rest.
func joinCapped(errs []error) error {
	if len(errs) <= maxProblems {
		return errors.Join(errs...)
	}
	msgs := make([]string, 0, maxProblems+1)
	for _, e := range errs[:maxProblems] {
		msgs = append(msgs, e.Error())
	}
	msgs = append(msgs, fmt.Sprintf("and %d more problems", len(errs)-maxProblems))
	return errors.New(strings.Join(msgs, "\n"))
}
