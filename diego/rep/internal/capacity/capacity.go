// Package capacity reads the cell machine's resources, from which the rep
// derives its default capacity: the memory the kernel reports (MemTotal in
// /proc/meminfo) and the size of the filesystem holding a directory.
package capacity

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrUnsupported is returned where the machine's resources cannot be read
// (not Linux): the capacity must then be configured.
var ErrUnsupported = errors.New("capacity: cannot read the machine's resources on this platform")

// parseMemTotal returns MemTotal from /proc/meminfo's format, in MiB.
func parseMemTotal(r io.Reader) (int64, error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		name, rest, ok := strings.Cut(s.Text(), ":")
		if !ok || name != "MemTotal" {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("capacity: unexpected MemTotal line %q", s.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("capacity: unexpected MemTotal line %q", s.Text())
		}
		return kb / 1024, nil
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("capacity: read meminfo: %w", err)
	}
	return 0, errors.New("capacity: no MemTotal in meminfo")
}
