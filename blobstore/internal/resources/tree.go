package resources

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Path bounds inside a package.
const (
	maxPathLen     = 4096
	maxSegmentLen  = 255
	maxLinkHops    = 40
	maxLinkTarget  = 4096
	maxPathSegment = 256
)

// cleanPath checks a package path and returns it without a trailing slash.
// It accepts only relative paths of clean segments: no "", ".", "..",
// backslash, NUL or drive letter, valid UTF-8, bounded lengths.
func cleanPath(p string) (string, error) {
	q := strings.TrimSuffix(p, "/")
	switch {
	case q == "":
		return "", errors.New("empty path")
	case len(q) > maxPathLen:
		return "", fmt.Errorf("path longer than %d bytes", maxPathLen)
	case !utf8.ValidString(q):
		return "", fmt.Errorf("path %q is not UTF-8", truncate(q))
	case strings.ContainsAny(q, "\\\x00"):
		return "", fmt.Errorf("path %q holds a backslash or NUL", truncate(q))
	case q[0] == '/':
		return "", fmt.Errorf("path %q is absolute", truncate(q))
	case len(q) >= 2 && q[1] == ':':
		return "", fmt.Errorf("path %q has a drive letter", truncate(q))
	}
	n := 0
	for seg := range strings.SplitSeq(q, "/") {
		n++
		switch {
		case seg == "" || seg == "." || seg == "..":
			return "", fmt.Errorf("path %q has a %q segment", truncate(q), seg)
		case len(seg) > maxSegmentLen:
			return "", fmt.Errorf("path %q has a segment longer than %d bytes", truncate(q), maxSegmentLen)
		case n > maxPathSegment:
			return "", fmt.Errorf("path %q is deeper than %d", truncate(q), maxPathSegment)
		}
	}
	return q, nil
}

type kind uint8

const (
	kindFile kind = iota
	kindDir
	kindSymlink
)

func (k kind) String() string {
	switch k {
	case kindDir:
		return "directory"
	case kindSymlink:
		return "symlink"
	}
	return "file"
}

// tree is the set of paths a package will hold, for the checks that need
// all of them: duplicates, entries below files, symlink escapes.
type tree struct {
	nodes map[string]*entry
}

func newTree(n int) *tree { return &tree{nodes: make(map[string]*entry, n)} }

// add records e, rejecting a second entry with the same path.
func (t *tree) add(e *entry) error {
	if prev, ok := t.nodes[e.path]; ok {
		if prev.kind == kindDir && e.kind == kindDir {
			return fmt.Errorf("duplicate directory %q", truncate(e.path))
		}
		return fmt.Errorf("duplicate path %q", truncate(e.path))
	}
	t.nodes[e.path] = e
	return nil
}

// check rejects entries below a file or symlink and symlinks that resolve
// outside the package.
func (t *tree) check() error {
	for p, e := range t.nodes {
		for i := strings.IndexByte(p, '/'); i >= 0; {
			if parent, ok := t.nodes[p[:i]]; ok && parent.kind != kindDir {
				return fmt.Errorf("%q is below %s %q", truncate(p), parent.kind, truncate(parent.path))
			}
			j := strings.IndexByte(p[i+1:], '/')
			if j < 0 {
				break
			}
			i += 1 + j
		}
		if e.kind == kindSymlink {
			if err := t.checkLink(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkLink resolves a symlink's target lexically, following the package's
// own symlinks, and fails if the resolution ever leaves the package root.
// Paths that do not exist in the package are taken as plain names.
func (t *tree) checkLink(link *entry) error {
	target := link.target
	switch {
	case target == "":
		return fmt.Errorf("symlink %q has an empty target", truncate(link.path))
	case target[0] == '/':
		return fmt.Errorf("symlink %q points to the absolute path %q", truncate(link.path), truncate(target))
	case strings.ContainsAny(target, "\\\x00") || !utf8.ValidString(target):
		return fmt.Errorf("symlink %q has a target with a backslash, NUL or invalid UTF-8", truncate(link.path))
	}
	var cur []string
	if i := strings.LastIndexByte(link.path, '/'); i >= 0 {
		cur = strings.Split(link.path[:i], "/")
	}
	queue := strings.Split(target, "/")
	hops := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return fmt.Errorf("symlink %q points outside the package (%q)", truncate(link.path), truncate(target))
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		n, ok := t.nodes[strings.Join(cur, "/")]
		if !ok || n.kind != kindSymlink {
			continue
		}
		if hops++; hops > maxLinkHops {
			return fmt.Errorf("symlink %q: too many levels of symlinks", truncate(link.path))
		}
		if n.target == "" || n.target[0] == '/' {
			return fmt.Errorf("symlink %q goes through symlink %q, which points outside the package", truncate(link.path), truncate(n.path))
		}
		cur = cur[:len(cur)-1]
		queue = append(strings.Split(n.target, "/"), queue...)
	}
	return nil
}
