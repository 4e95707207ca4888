package containerd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// stateDirs is the cell's state directory:
//
//	fifo/      stdio FIFOs of exec'd processes, one directory per process
//	netns/     bind-mounted network namespaces (bridge mode)
//	ipam/      host-local IPAM allocations (bridge mode)
//	networks/  one record per container whose network (ports, netns) is
//	           set up, written before the setup and removed after the
//	           teardown, so that Cleanup can undo a crashed Create
//	mnt/       temporary mounts (tarball extraction, stack import)
type stateDirs string

func (d stateDirs) fifo() string     { return filepath.Join(string(d), "fifo") }
func (d stateDirs) netns() string    { return filepath.Join(string(d), "netns") }
func (d stateDirs) ipam() string     { return filepath.Join(string(d), "ipam") }
func (d stateDirs) networks() string { return filepath.Join(string(d), "networks") }
func (d stateDirs) mnt() string      { return filepath.Join(string(d), "mnt") }

func (d stateDirs) make() error {
	for _, dir := range []string{d.fifo(), d.netns(), d.ipam(), d.networks(), d.mnt()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create state dir: %w", err)
		}
	}
	return nil
}

// netRecord is a container's network: its host ports and, in bridge mode,
// its network namespace and address.
type netRecord struct {
	ID    string                `json:"id"`
	NetNS string                `json:"netns,omitempty"`
	IP    string                `json:"ip,omitempty"`
	Ports []runtime.PortMapping `json:"ports,omitempty"`
}

func (d stateDirs) recordPath(id string) string {
	return filepath.Join(d.networks(), id+".json")
}

func (d stateDirs) writeRecord(rec netRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := d.recordPath(rec.ID) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write network record: %w", err)
	}
	if err := os.Rename(tmp, d.recordPath(rec.ID)); err != nil {
		return fmt.Errorf("write network record: %w", err)
	}
	return nil
}

func (d stateDirs) readRecord(id string) (netRecord, bool, error) {
	data, err := os.ReadFile(d.recordPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return netRecord{}, false, nil
	}
	if err != nil {
		return netRecord{}, false, fmt.Errorf("read network record: %w", err)
	}
	var rec netRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return netRecord{}, false, fmt.Errorf("read network record %s: %w", id, err)
	}
	return rec, true, nil
}

func (d stateDirs) removeRecord(id string) error {
	if err := os.Remove(d.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network record: %w", err)
	}
	return nil
}

// records returns every network record.
func (d stateDirs) records() ([]netRecord, error) {
	entries, err := os.ReadDir(d.networks())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network records: %w", err)
	}
	var recs []netRecord
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		rec, found, err := d.readRecord(id)
		if err != nil || !found {
			// A torn record (crash while writing) still names the id.
			rec = netRecord{ID: id}
		}
		recs = append(recs, rec)
	}
	return recs, nil
}
