package localfs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
	"github.com/anvilpaas/anvil/blobstore/internal/storage/localfs"
	"github.com/anvilpaas/anvil/blobstore/internal/storage/storagetest"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func open(t *testing.T, dir string) *localfs.Store {
	t.Helper()
	s, err := localfs.Open(dir, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		dir := t.TempDir()
		s := open(t, dir)
		t.Cleanup(func() { wantNoTemp(t, dir) })
		return s
	})
}

// wantNoTemp checks that no upload left a temp file behind.
func wantNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("temp file left behind: %s", e.Name())
	}
}

func TestOpenSweepsTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	storagetest.Put(t, s, apiblob.BucketPackages, "p", []byte("kept"))
	s.Close()
	for _, name := range []string{"abc.part", "def.part"} {
		if err := os.WriteFile(filepath.Join(dir, "tmp", name), []byte("half an upload"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = open(t, dir)
	wantNoTemp(t, dir)
	if got := storagetest.Read(t, s, apiblob.BucketPackages, "p"); string(got) != "kept" {
		t.Errorf("content %q", got)
	}
}

func TestOneOwner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := localfs.Open(dir, nil); err == nil || !strings.Contains(err.Error(), "in use by another blobstore process") {
		t.Fatalf("second Open = %v", err)
	}
	s.Close()
	open(t, dir) // the lock is released on Close
}

func TestPlainFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	storagetest.Put(t, s, apiblob.BucketDroplets, "guid/sha", []byte("droplet bytes"))
	got, err := os.ReadFile(filepath.Join(dir, "objects", "droplets", "guid", "sha"))
	if err != nil || string(got) != "droplet bytes" {
		t.Errorf("object file = %q, %v", got, err)
	}
}

func TestPrefixConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, t.TempDir())
	storagetest.Put(t, s, apiblob.BucketPackages, "a", []byte("x"))
	if _, err := s.Put(ctx, apiblob.BucketPackages, "a/b", strings.NewReader("y"), storage.PutOptions{Size: -1, MaxSize: -1}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("Put a/b over object a = %v, want ErrConflict", err)
	}
	storagetest.Put(t, s, apiblob.BucketPackages, "c/d", []byte("x"))
	if _, err := s.Put(ctx, apiblob.BucketPackages, "c", strings.NewReader("y"), storage.PutOptions{Size: -1, MaxSize: -1}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("Put c over prefix c/ = %v, want ErrConflict", err)
	}
	if _, err := s.Stat(ctx, apiblob.BucketPackages, "c"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat of a prefix = %v", err)
	}
}

func TestDeleteRemovesEmptyDirs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	storagetest.Put(t, s, apiblob.BucketResources, "ab/cd/abcd", []byte("x"))
	storagetest.Put(t, s, apiblob.BucketResources, "ab/ef/abef", []byte("y"))
	if err := s.Delete(context.Background(), apiblob.BucketResources, "ab/cd/abcd"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "resources", "ab", "cd")); !os.IsNotExist(err) {
		t.Errorf("empty dir ab/cd left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "resources", "ab", "ef", "abef")); err != nil {
		t.Errorf("sibling gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "resources")); err != nil {
		t.Errorf("bucket dir gone: %v", err)
	}
}

func TestCorruptObject(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	storagetest.Put(t, s, apiblob.BucketPackages, "p", []byte("content"))
	// A file dropped in by hand has no metadata; a truncated one
	// contradicts it.
	if err := os.WriteFile(filepath.Join(dir, "objects", "packages", "manual"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "objects", "packages", "p"), 3); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"manual", "p"} {
		if _, err := s.Open(context.Background(), apiblob.BucketPackages, key); !errors.Is(err, storage.ErrCorrupt) {
			t.Errorf("Open %s = %v, want ErrCorrupt", key, err)
		}
	}
}

func TestSymlinkEscape(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Someone plants a symlink out of the tree: reads through it fail.
	if err := os.MkdirAll(filepath.Join(dir, "objects", "packages"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "objects", "packages", "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(context.Background(), apiblob.BucketPackages, "link/secret"); err == nil {
		t.Error("read through a symlink out of the store")
	}
	if _, err := s.Put(context.Background(), apiblob.BucketPackages, "link/new", bytes.NewReader([]byte("x")), storage.PutOptions{Size: -1, MaxSize: -1}); err == nil {
		t.Error("wrote through a symlink out of the store")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); !os.IsNotExist(err) {
		t.Errorf("file created outside the store: %v", err)
	}
}
