package pgserver

import (
	"bytes"
	"io"
	"os"
)

const (
	tailLines = 20
	tailBytes = 8 << 10
)

// logTail returns up to the last tailLines lines written to path at or after
// offset, for error messages.
func logTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	start := max(offset, fi.Size()-tailBytes)
	if start < 0 {
		start = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, start, fi.Size()-start))
	if err != nil {
		return ""
	}
	return lastLines(b, tailLines)
}

// lastLines returns the last n lines of b, trimmed.
func lastLines(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	i := len(b)
	for ; n > 0 && i > 0; n-- {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			i = 0
			break
		}
		i = j
	}
	return string(bytes.TrimLeft(b[i:], "\n"))
}
