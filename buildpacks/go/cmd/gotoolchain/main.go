// Command gotoolchain packs the Go toolchain that go_buildpack bundles (see
// package toolchain) from a GOROOT into a gzipped tarball:
//
//	gotoolchain -goroot "$(go env GOROOT)" -o bin/buildpacks/.go-toolchain.tar.gz
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anvilpaas/anvil/buildpacks/go/toolchain"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gotoolchain:", err)
		os.Exit(1)
	}
}

func run() error {
	goroot := flag.String("goroot", "", "the GOROOT to pack (go env GOROOT)")
	out := flag.String("o", "", "tarball to write")
	flag.Parse()
	if *goroot == "" || *out == "" {
		flag.Usage()
		return fmt.Errorf("-goroot and -o are required")
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(*out), ".gotoolchain-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := toolchain.Write(f, *goroot); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), *out)
}
