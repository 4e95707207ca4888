package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The files of a cache entry, and the prefixes of the directories that
// are not (yet, or any more) entries.
const (
	rootfsDir    = "rootfs"
	packagesFile = "packages.txt"
	stampFile    = "stack.json"
	buildLog     = "build.log"
	buildPrefix  = ".build-"
	oldPrefix    = ".old-"
)

// stamp is stack.json, written last into a build before its rename.
type stamp struct {
	Name          string    `json:"name"`
	RecipeHash    string    `json:"recipe_hash"`
	RecipeVersion int       `json:"recipe_version"`
	BuiltAt       time.Time `json:"built_at"`
	BuildSeconds  float64   `json:"build_seconds"`
	SizeBytes     int64     `json:"size_bytes"`
	Packages      int       `json:"package_count"`
	// PackagesFile and RootFS are relative to the entry.
	PackagesFile string            `json:"packages_file"`
	RootFS       string            `json:"rootfs"`
	Mirror       string            `json:"mirror"`
	OSRelease    string            `json:"os_release"`
	Env          map[string]string `json:"env"`
}

func (s stamp) result(dir string) Result {
	return Result{
		Name:         s.Name,
		RecipeHash:   s.RecipeHash,
		Dir:          dir,
		RootFS:       filepath.Join(dir, s.RootFS),
		PackagesFile: filepath.Join(dir, s.PackagesFile),
		StampFile:    filepath.Join(dir, stampFile),
		Packages:     s.Packages,
		SizeBytes:    s.SizeBytes,
		BuiltAt:      s.BuiltAt,
		BuildTime:    time.Duration(s.BuildSeconds * float64(time.Second)),
	}
}

func writeStamp(dir string, s stamp) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, stampFile))
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Find returns the build of the current recipe in cacheDir (empty means
// DefaultCacheDir), without building anything. It returns ErrNotBuilt when
// there is none; a build that did not finish is never returned.
func Find(cacheDir string) (Result, error) {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir
	}
	dir, err := filepath.Abs(filepath.Join(cacheDir, entryName(RecipeHash())))
	if err != nil {
		return Result{}, err
	}
	return readEntry(dir, RecipeHash())
}

// readEntry checks that dir is a finished build with the given hash.
func readEntry(dir, hash string) (Result, error) {
	data, err := os.ReadFile(filepath.Join(dir, stampFile))
	if errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("%w in %s", ErrNotBuilt, filepath.Dir(dir))
	} else if err != nil {
		return Result{}, fmt.Errorf("find stack: %w", err)
	}
	var s stamp
	if err := json.Unmarshal(data, &s); err != nil {
		return Result{}, fmt.Errorf("%w: %s: %v", ErrNotBuilt, filepath.Join(dir, stampFile), err)
	}
	if s.Name != Name || s.RecipeHash != hash || !local(s.RootFS) || !local(s.PackagesFile) {
		return Result{}, fmt.Errorf("%w: %s does not describe %s-%s", ErrNotBuilt, filepath.Join(dir, stampFile), Name, hash)
	}
	res := s.result(dir)
	if _, err := os.Lstat(filepath.Join(res.RootFS, "usr/bin/bash")); err != nil {
		return Result{}, fmt.Errorf("%w: %s has no usr/bin/bash", ErrNotBuilt, res.RootFS)
	}
	return res, nil
}

func local(p string) bool { return p != "" && filepath.IsLocal(p) }

// removeLeftovers removes the directories of builds that did not finish
// and of replaced builds. Build calls it holding the cache lock.
func removeLeftovers(cacheDir string) error {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() && (strings.HasPrefix(e.Name(), buildPrefix) || strings.HasPrefix(e.Name(), oldPrefix)) {
			errs = append(errs, removeBuildDir(filepath.Join(cacheDir, e.Name())))
		}
	}
	return errors.Join(errs...)
}
