//go:build !linux

package capacity

// MemoryMB returns ErrUnsupported.
func MemoryMB() (int64, error) { return 0, ErrUnsupported }

// DiskMB returns ErrUnsupported.
func DiskMB(string) (int64, error) { return 0, ErrUnsupported }
