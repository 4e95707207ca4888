package localfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// metaXattr is the extended attribute that holds an object's metadata.
const metaXattr = "user.anvil.blob"

// Metadata layout, version 1: version byte, size (uint64 big-endian),
// SHA-256, SHA-1.
const (
	metaVersion = 1
	metaLen     = 1 + 8 + 32 + 20
)

func writeMeta(f *os.File, d storage.Digest) error {
	var b [metaLen]byte
	b[0] = metaVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(d.Size))
	copy(b[9:41], d.SHA256[:])
	copy(b[41:61], d.SHA1[:])
	return withFd(f, func(fd int) error { return unix.Fsetxattr(fd, metaXattr, b[:], 0) })
}

// readMeta reads the metadata of an open object file and checks it
// against the file's size.
func readMeta(f *os.File, size int64) (storage.Digest, error) {
	var b [metaLen + 1]byte
	var n int
	err := withFd(f, func(fd int) error {
		var err error
		n, err = unix.Fgetxattr(fd, metaXattr, b[:])
		return err
	})
	if errors.Is(err, unix.ENODATA) {
		return storage.Digest{}, fmt.Errorf("%w: %s has no %s attribute", storage.ErrCorrupt, f.Name(), metaXattr)
	}
	if err != nil {
		return storage.Digest{}, fmt.Errorf("read metadata of %s: %w", f.Name(), err)
	}
	if n != metaLen || b[0] != metaVersion {
		return storage.Digest{}, fmt.Errorf("%w: %s has unknown metadata (%d bytes, version %d)", storage.ErrCorrupt, f.Name(), n, b[0])
	}
	var d storage.Digest
	d.Size = int64(binary.BigEndian.Uint64(b[1:9]))
	copy(d.SHA256[:], b[9:41])
	copy(d.SHA1[:], b[41:61])
	if d.Size != size {
		return storage.Digest{}, fmt.Errorf("%w: %s is %d bytes, its metadata says %d", storage.ErrCorrupt, f.Name(), size, d.Size)
	}
	return d, nil
}
