package resources

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxDirectoryBytes bounds a package zip's central directory.
// archive/zip holds every directory record in memory, names included, so
// this bounds what opening an upload can allocate.
const MaxDirectoryBytes = 64 << 20

// Zip format constants (APPNOTE.TXT), as archive/zip uses them.
const (
	sigDirectoryHeader = 0x02014b50
	sigDirectoryEnd    = 0x06054b50
	sigDirectory64Loc  = 0x07064b50
	sigDirectory64End  = 0x06064b50
	lenDirectoryHeader = 46
	lenDirectoryEnd    = 22
	lenDirectory64Loc  = 20
	lenDirectory64End  = 56
)

// checkDirectory counts the central directory records archive/zip's
// NewReader would read from r, without keeping them, and fails if there are
// more than maxEntries or they take more than MaxDirectoryBytes. It finds
// the directory the way archive/zip does (end record in the last 1 KiB or
// 65 KiB, zip64 locator, base offset) and, where archive/zip may pick one of
// two start offsets, counts from both.
func checkDirectory(r io.ReaderAt, size int64, maxEntries int) error {
	starts, err := directoryStarts(r, size)
	if err != nil {
		return fmt.Errorf("%w: not a zip file: %w", ErrInvalidPackage, err)
	}
	for _, off := range starts {
		n, bytes, err := countRecords(r, off, size, maxEntries)
		if err != nil {
			return fmt.Errorf("%w: central directory: %w", ErrInvalidPackage, err)
		}
		if n > maxEntries {
			return fmt.Errorf("%w: more than %d zip entries", ErrLimit, maxEntries)
		}
		if bytes > MaxDirectoryBytes {
			return fmt.Errorf("%w: zip central directory larger than %d bytes", ErrLimit, MaxDirectoryBytes)
		}
	}
	return nil
}

// directoryStarts returns the offsets where archive/zip may start reading
// directory records.
func directoryStarts(r io.ReaderAt, size int64) ([]int64, error) {
	var buf []byte
	var endOff int64
	for i, n := range []int64{1024, 65 * 1024} {
		n = min(n, size)
		buf = make([]byte, n)
		if _, err := r.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if p := findEnd(buf); p >= 0 {
			buf = buf[p:]
			endOff = size - n + int64(p)
			break
		}
		if i == 1 || n == size {
			return nil, errors.New("no end of central directory record")
		}
	}
	records := uint64(binary.LittleEndian.Uint16(buf[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(buf[12:]))
	dirOff := uint64(binary.LittleEndian.Uint32(buf[16:]))
	if records == 0xffff || dirSize == 0xffff || dirOff == 0xffffffff {
		p, err := findEnd64(r, endOff)
		if err != nil {
			return nil, err
		}
		if p >= 0 {
			endOff = p
			var b [lenDirectory64End]byte
			if _, err := r.ReadAt(b[:], p); err != nil {
				return nil, err
			}
			if binary.LittleEndian.Uint32(b[:]) != sigDirectory64End {
				return nil, errors.New("bad zip64 end record")
			}
			dirSize = binary.LittleEndian.Uint64(b[40:])
			dirOff = binary.LittleEndian.Uint64(b[48:])
		}
	}
	const maxInt64 = 1<<63 - 1
	if dirSize > maxInt64 || dirOff > maxInt64 {
		return nil, errors.New("directory offset out of range")
	}
	base := endOff - int64(dirSize) - int64(dirOff)
	start := base + int64(dirOff)
	if start < 0 || start >= size {
		return nil, errors.New("directory offset out of range")
	}
	starts := []int64{start}
	if base > 0 {
		starts = append(starts, int64(dirOff)) // archive/zip's base-0 fallback
	}
	return starts, nil
}

// findEnd mirrors archive/zip's findSignatureInBlock.
func findEnd(b []byte) int {
	for i := len(b) - lenDirectoryEnd; i >= 0; i-- {
		if binary.LittleEndian.Uint32(b[i:]) == sigDirectoryEnd {
			n := int(binary.LittleEndian.Uint16(b[i+lenDirectoryEnd-2:]))
			if n+lenDirectoryEnd+i > len(b) {
				return -1
			}
			return i
		}
	}
	return -1
}

// findEnd64 mirrors archive/zip's findDirectory64End.
func findEnd64(r io.ReaderAt, endOff int64) (int64, error) {
	loc := endOff - lenDirectory64Loc
	if loc < 0 {
		return -1, nil
	}
	var b [lenDirectory64Loc]byte
	if _, err := r.ReadAt(b[:], loc); err != nil {
		return -1, err
	}
	if binary.LittleEndian.Uint32(b[0:]) != sigDirectory64Loc || binary.LittleEndian.Uint32(b[4:]) != 0 || binary.LittleEndian.Uint32(b[16:]) != 1 {
		return -1, nil
	}
	p := binary.LittleEndian.Uint64(b[8:])
	if p > 1<<63-1 {
		return -1, errors.New("zip64 end offset out of range")
	}
	return int64(p), nil
}

// countRecords counts directory headers from off on, as archive/zip reads
// them (until a header with another signature or a short read), stopping
// once more than limit are found. It returns the count and the bytes they
// take.
func countRecords(r io.ReaderAt, off, size int64, limit int) (int, int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), 64<<10)
	var hdr [lenDirectoryHeader]byte
	n := 0
	var total int64
	for n <= limit && total <= MaxDirectoryBytes {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return 0, 0, err
		}
		if binary.LittleEndian.Uint32(hdr[:]) != sigDirectoryHeader {
			break
		}
		rest := int64(binary.LittleEndian.Uint16(hdr[28:])) + int64(binary.LittleEndian.Uint16(hdr[30:])) + int64(binary.LittleEndian.Uint16(hdr[32:]))
		if _, err := br.Discard(int(rest)); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, 0, err
		}
		n++
		total += lenDirectoryHeader + rest
	}
	return n, total, nil
}
