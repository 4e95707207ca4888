package capacity

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MemoryMB returns the machine's memory in MiB.
func MemoryMB() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("capacity: %w", err)
	}
	defer f.Close()
	return parseMemTotal(f)
}

// DiskMB returns the size in MiB of the filesystem holding dir.
func DiskMB(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("capacity: statfs %s: %w", dir, err)
	}
	return int64(st.Blocks) * int64(st.Bsize) >> 20, nil
}
