package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// The executor's container labels: what a restarted rep needs to rebuild
// its allocations and watch the instance again. (The runtime keeps the
// prefix anvil.rep/ for its own.)
const (
	labelPrefix      = "anvil.cell/"
	labelKind        = labelPrefix + "kind"
	labelGUID        = labelPrefix + "guid"
	labelProcessGUID = labelPrefix + "process-guid"
	labelIndex       = labelPrefix + "index"
	labelDomain      = labelPrefix + "domain"
	labelMemoryMB    = labelPrefix + "memory-mb"
	labelDiskMB      = labelPrefix + "disk-mb"
	labelRun         = labelPrefix + "run"
)

// maxRunLabel bounds the run label: containerd refuses labels whose key
// and value exceed 4096 bytes.
const maxRunLabel = 4000

// runInfo is how to watch a running container and report about it.
type runInfo struct {
	LogGUID        string            `json:"log_guid,omitempty"`
	LogSource      string            `json:"log_source,omitempty"`
	LogRateLimit   int64             `json:"log_rate_limit"`
	SuppressLogs   bool              `json:"suppress_logs,omitempty"`
	MetricTags     map[string]string `json:"metric_tags,omitempty"`
	Check          *checkInfo        `json:"check,omitempty"`
	Readiness      *checkInfo        `json:"readiness,omitempty"`
	StartTimeoutMs uint32            `json:"start_timeout_ms,omitempty"`
	// Ports are the desired LRP's ports, in order: the container ports
	// reported to the BBS (routes name them), whatever the runtime mapped.
	Ports []uint32 `json:"ports,omitempty"`
}

// checkInfo is a health or readiness check, its port resolved to an index
// into the container's port mappings (which the runtime may remap).
type checkInfo struct {
	Type       bbsv1.HealthCheckType `json:"type"`
	PortIndex  int                   `json:"port_index"`
	Endpoint   string                `json:"endpoint,omitempty"`
	TimeoutMs  uint32                `json:"timeout_ms,omitempty"`
	IntervalMs uint32                `json:"interval_ms,omitempty"`
}

// identity is what the labels say about a container.
type identity struct {
	kind     kind
	guid     string
	key      *bbsv1.ActualLRPKey // LRPs
	memoryMB int32
	diskMB   int32
	run      runInfo
}

var errNotOurs = errors.New("not a container of the rep's")

// encodeLabels returns the labels of a new container.
func encodeLabels(id identity) map[string]string {
	l := map[string]string{
		labelKind:     id.kind.String(),
		labelGUID:     id.guid,
		labelMemoryMB: strconv.Itoa(int(id.memoryMB)),
		labelDiskMB:   strconv.Itoa(int(id.diskMB)),
	}
	if id.kind == kindLRP {
		l[labelProcessGUID] = id.key.GetProcessGuid()
		l[labelIndex] = strconv.Itoa(int(id.key.GetIndex()))
		l[labelDomain] = id.key.GetDomain()
	}
	run, _ := json.Marshal(id.run) // plain types: cannot fail
	if len(run) > maxRunLabel {
		trimmed := id.run
		trimmed.MetricTags = nil
		run, _ = json.Marshal(trimmed)
	}
	l[labelRun] = string(run)
	return l
}

// decodeLabels reads a container's labels back. Containers without the
// kind label are not the executor's (errNotOurs).
func decodeLabels(l map[string]string) (identity, error) {
	var id identity
	switch l[labelKind] {
	case "":
		return id, errNotOurs
	case "lrp":
		id.kind = kindLRP
	case "task":
		id.kind = kindTask
	default:
		return id, fmt.Errorf("unknown kind %q", l[labelKind])
	}
	id.guid = l[labelGUID]
	if id.guid == "" {
		return id, errors.New("no guid label")
	}
	var err error
	if id.memoryMB, err = labelInt(l, labelMemoryMB); err != nil {
		return id, err
	}
	if id.diskMB, err = labelInt(l, labelDiskMB); err != nil {
		return id, err
	}
	if id.kind == kindLRP {
		index, err := labelInt(l, labelIndex)
		if err != nil {
			return id, err
		}
		if l[labelProcessGUID] == "" {
			return id, errors.New("no process guid label")
		}
		id.key = &bbsv1.ActualLRPKey{ProcessGuid: l[labelProcessGUID], Index: index, Domain: l[labelDomain]}
	}
	if s := l[labelRun]; s != "" {
		if err := json.Unmarshal([]byte(s), &id.run); err != nil {
			return id, fmt.Errorf("run label: %w", err)
		}
	}
	for _, c := range []*checkInfo{id.run.Check, id.run.Readiness} {
		if c != nil && c.PortIndex < 0 {
			return id, fmt.Errorf("run label: port index %d", c.PortIndex)
		}
	}
	return id, nil
}

func labelInt(l map[string]string, name string) (int32, error) {
	n, err := strconv.ParseInt(l[name], 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("label %s %q is not a count", name, l[name])
	}
	return int32(n), nil
}
