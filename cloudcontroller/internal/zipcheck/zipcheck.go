// Package zipcheck validates an untrusted app package zip before the Cloud
// Controller stores it: `cf push` uploads, which anyone with a space
// developer role can send.
//
// Check refuses, with an *Error whose Reason is meant for the API's 422:
//   - archives that are not zips, or whose central directory holds more
//     than Limits.MaxEntries records (counted by walking the directory
//     headers, before archive/zip allocates anything per record);
//   - entry names that are empty, absolute, not UTF-8, longer than 4096
//     bytes, or that contain NUL, a backslash, a drive letter or a "." or
//     ".." segment; duplicates; entries below a file or symlink;
//   - entries other than files, directories and symlinks, and compression
//     methods other than store and deflate;
//   - symlinks whose target, resolved through the package's own symlinks,
//     leaves the package (absolute targets, "../" out of the root);
//   - a declared or actual uncompressed total above Limits.MaxUncompressed,
//     an entry larger than it declares or with a bad CRC-32, and an entry
//     over 1 MiB whose compression ratio exceeds Limits.MaxRatio (zip
//     bombs). Every entry is decompressed through a limit, so a lying
//     header costs at most the bound.
//
// Check holds at most one entry's buffer at a time and is safe for
// concurrent use on different readers.
package zipcheck

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"
)

// Defaults of Limits' zero fields.
const (
	DefaultMaxEntries      = 100_000
	DefaultMaxUncompressed = 4 << 30
	DefaultMaxRatio        = 200
	// MaxPathBytes bounds an entry name.
	MaxPathBytes = 4096
	// ratioFloor: entries smaller than this are never refused for their
	// ratio (a small file of zeros compresses well and is harmless).
	ratioFloor = 1 << 20
	// maxLinkTarget bounds a symlink's target.
	maxLinkTarget = 4096
	// maxDirectoryBytes bounds the central directory.
	maxDirectoryBytes = 64 << 20
)

// Limits bound a package. Zero fields take the defaults.
type Limits struct {
	MaxEntries      int
	MaxUncompressed int64
	// MaxRatio is the highest uncompressed/compressed ratio of one entry
	// of at least 1 MiB.
	MaxRatio int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = DefaultMaxUncompressed
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultMaxRatio
	}
	return l
}

// Error is a package Check refuses. Reason is a sentence for the client.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return "zipcheck: " + e.Reason }

func refuse(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Summary describes a package Check accepted.
type Summary struct {
	Entries      int
	Uncompressed int64
}

// Check validates the zip in r (size bytes).
func Check(r io.ReaderAt, size int64, limits Limits) (Summary, error) {
	l := limits.withDefaults()
	n, err := countEntries(r, size, l.MaxEntries)
	if err != nil {
		return Summary{}, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return Summary{}, refuse("The uploaded package is not a valid zip file.")
	}
	if len(zr.File) != n {
		return Summary{}, refuse("The uploaded package is not a valid zip file.")
	}
	kinds := map[string]fs.FileMode{} // cleaned name → type
	links := map[string]string{}
	var declared uint64
	for _, f := range zr.File {
		name, err := CleanPath(f.Name)
		if err != nil {
			return Summary{}, err
		}
		mode := f.Mode()
		typ := mode.Type()
		if strings.HasSuffix(f.Name, "/") {
			typ = fs.ModeDir
		}
		switch typ {
		case 0, fs.ModeDir, fs.ModeSymlink:
		default:
			return Summary{}, refuse("The package entry %q is not a file, directory or symlink.", name)
		}
		if _, dup := kinds[name]; dup {
			return Summary{}, refuse("The package has two entries named %q.", name)
		}
		kinds[name] = typ
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return Summary{}, refuse("The package entry %q uses an unsupported compression method.", name)
		}
		declared += f.UncompressedSize64
		if declared > uint64(l.MaxUncompressed) {
			return Summary{}, refuse("The package is larger than %d bytes uncompressed.", l.MaxUncompressed)
		}
		if f.UncompressedSize64 >= ratioFloor && f.UncompressedSize64/max(f.CompressedSize64, 1) > uint64(l.MaxRatio) {
			return Summary{}, refuse("The package entry %q has a compression ratio above %d:1.", name, l.MaxRatio)
		}
	}
	// Nothing may sit below a file or a symlink: extracting it would
	// write through the link, or fail.
	for name := range kinds {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if t, ok := kinds[dir]; ok && t != fs.ModeDir {
				return Summary{}, refuse("The package entry %q is below a file or symlink.", name)
			}
		}
	}
	var total int64
	for _, f := range zr.File {
		name, _ := CleanPath(f.Name)
		if kinds[name] == fs.ModeDir {
			continue
		}
		n, target, err := readEntry(f, kinds[name] == fs.ModeSymlink, l.MaxUncompressed-total)
		if err != nil {
			return Summary{}, err
		}
		total += n
		if kinds[name] == fs.ModeSymlink {
			links[name] = target
		}
	}
	for name, target := range links {
		if err := checkLink(name, target, links); err != nil {
			return Summary{}, err
		}
	}
	return Summary{Entries: len(zr.File), Uncompressed: total}, nil
}

// readEntry decompresses one entry through its limits and returns its
// size (and content, for a symlink).
func readEntry(f *zip.File, link bool, budget int64) (int64, string, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, "", refuse("The package entry %q cannot be read.", f.Name)
	}
	defer rc.Close()
	limit := int64(f.UncompressedSize64)
	if limit > budget {
		limit = budget
	}
	var target strings.Builder
	var w io.Writer = io.Discard
	if link {
		if limit > maxLinkTarget {
			return 0, "", refuse("The package symlink %q has a target longer than %d bytes.", f.Name, maxLinkTarget)
		}
		w = &target
	}
	n, err := io.Copy(w, io.LimitReader(rc, limit+1))
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return 0, "", refuse("The package entry %q is corrupt (CRC-32 mismatch).", f.Name)
	case errors.Is(err, zip.ErrFormat):
		return 0, "", refuse("The package entry %q is corrupt or larger than its header declares.", f.Name)
	case err != nil:
		return 0, "", refuse("The package entry %q cannot be read.", f.Name)
	case n > limit && limit == budget:
		return 0, "", refuse("The package is larger than allowed uncompressed.")
	case n > limit:
		return 0, "", refuse("The package entry %q is larger than its header declares.", f.Name)
	case n < int64(f.UncompressedSize64):
		return 0, "", refuse("The package entry %q is shorter than its header declares.", f.Name)
	}
	return n, target.String(), nil
}

// CleanPath checks an entry name (or a matched resource's path) and
// returns it without a trailing slash.
func CleanPath(name string) (string, error) {
	show := name
	if len(show) > 200 {
		show = show[:200] + "…"
	}
	trimmed := strings.TrimSuffix(name, "/")
	switch {
	case trimmed == "":
		return "", refuse("The package has an entry with an empty name.")
	case len(name) > MaxPathBytes:
		return "", refuse("The package entry %q has a name longer than %d bytes.", show, MaxPathBytes)
	case !utf8.ValidString(name):
		return "", refuse("The package entry %q has a name that is not UTF-8.", show)
	case strings.ContainsAny(name, "\x00\\"):
		return "", refuse("The package entry %q has a NUL or backslash in its name.", show)
	case strings.HasPrefix(name, "/"):
		return "", refuse("The package entry %q has an absolute path.", show)
	case len(name) >= 2 && name[1] == ':':
		return "", refuse("The package entry %q has a drive letter.", show)
	}
	for _, seg := range strings.Split(trimmed, "/") {
		switch seg {
		case "..":
			return "", refuse("The package entry %q escapes the package (\"..\").", show)
		case ".", "":
			return "", refuse("The package entry %q has an empty or \".\" path segment.", show)
		}
	}
	return trimmed, nil
}

// checkLink resolves a symlink's target through the package's symlinks
// and fails if it leaves the package.
func checkLink(name, target string, links map[string]string) error {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsAny(target, "\x00\\") {
		return refuse("The package symlink %q points outside the package.", name)
	}
	// Components still to walk, and the resolved directory so far.
	todo := strings.Split(target, "/")
	var at []string
	if d := path.Dir(name); d != "." {
		at = strings.Split(d, "/")
	}
	hops := 0
	for len(todo) > 0 {
		seg := todo[0]
		todo = todo[1:]
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(at) == 0 {
				return refuse("The package symlink %q points outside the package.", name)
			}
			at = at[:len(at)-1]
			continue
		}
		at = append(at, seg)
		if t, ok := links[strings.Join(at, "/")]; ok {
			if hops++; hops > 40 {
				return refuse("The package symlink %q is part of a loop.", name)
			}
			if strings.HasPrefix(t, "/") {
				return refuse("The package symlink %q points outside the package.", name)
			}
			at = at[:len(at)-1]
			todo = append(strings.Split(t, "/"), todo...)
		}
	}
	return nil
}

// countEntries finds the central directory as archive/zip does (the
// end record, its zip64 form, the base offset of prefixed archives) and
// walks its headers, counting them, so that a directory of millions of
// tiny records is refused before archive/zip allocates one File per
// record.
func countEntries(r io.ReaderAt, size int64, maxEntries int) (int, error) {
	bad := refuse("The uploaded package is not a valid zip file.")
	const eocdLen = 22
	if size < eocdLen {
		return 0, bad
	}
	tail := min(size, eocdLen+65535)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return 0, bad
	}
	at := -1
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == 0x06054b50 && int(binary.LittleEndian.Uint16(buf[i+20:]))+eocdLen+i <= len(buf) {
			at = i
			break
		}
	}
	if at < 0 {
		return 0, bad
	}
	eocd := buf[at:]
	records := uint64(binary.LittleEndian.Uint16(eocd[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(eocd[12:]))
	dirOffset := uint64(binary.LittleEndian.Uint32(eocd[16:]))
	dirEnd := size - tail + int64(at)
	if records == 0xffff || dirSize == 0xffff || dirOffset == 0xffffffff {
		// zip64, when the locator sits just before the end record.
		loc := make([]byte, 20)
		if dirEnd >= 20 {
			if _, err := r.ReadAt(loc, dirEnd-20); err == nil && binary.LittleEndian.Uint32(loc) == 0x07064b50 {
				off := binary.LittleEndian.Uint64(loc[8:])
				rec := make([]byte, 56)
				if off > uint64(size) {
					return 0, bad
				}
				if _, err := r.ReadAt(rec, int64(off)); err != nil || binary.LittleEndian.Uint32(rec) != 0x06064b50 {
					return 0, bad
				}
				records = binary.LittleEndian.Uint64(rec[32:])
				dirSize = binary.LittleEndian.Uint64(rec[40:])
				dirOffset = binary.LittleEndian.Uint64(rec[48:])
				dirEnd = int64(off)
			}
		}
	}
	if records > uint64(maxEntries) {
		return 0, refuse("The package has more than %d entries.", maxEntries)
	}
	if dirSize > maxDirectoryBytes || dirOffset > uint64(size) {
		return 0, bad
	}
	hdr := make([]byte, 46)
	header := func(pos int64) bool {
		_, err := r.ReadAt(hdr, pos)
		return err == nil && binary.LittleEndian.Uint32(hdr) == 0x02014b50
	}
	base := dirEnd - int64(dirSize) - int64(dirOffset)
	if o := base + int64(dirOffset); o < 0 || o >= size {
		return 0, bad
	}
	if base > 0 && header(int64(dirOffset)) {
		base = 0
	}
	// archive/zip reads headers until one does not parse, whatever the
	// end record says: count what it will read.
	count := 0
	for pos := base + int64(dirOffset); header(pos); {
		count++
		if count > maxEntries {
			return 0, refuse("The package has more than %d entries.", maxEntries)
		}
		pos += 46 + int64(binary.LittleEndian.Uint16(hdr[28:])) + int64(binary.LittleEndian.Uint16(hdr[30:])) + int64(binary.LittleEndian.Uint16(hdr[32:]))
	}
	return count, nil
}
