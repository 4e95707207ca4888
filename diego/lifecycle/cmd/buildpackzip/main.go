// Command buildpackzip packs a buildpack source directory into a system
// buildpack zip (see package buildpackzip):
//
//	buildpackzip -dir buildpacks/staticfile -o bin/buildpacks/staticfile_buildpack.zip \
//	    -add lib/staticfile-server=bin/lifecycle/staticfile-server
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/anvilpaas/anvil/diego/lifecycle/buildpackzip"
)

type extras []buildpackzip.Extra

func (e *extras) String() string { return fmt.Sprint(*e) }

func (e *extras) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want NAME_IN_ZIP=FILE, got %q", v)
	}
	*e = append(*e, buildpackzip.Extra{Name: name, Path: path})
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "buildpackzip:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "buildpack source directory")
	out := flag.String("o", "", "zip file to write")
	var add extras
	flag.Var(&add, "add", "NAME_IN_ZIP=FILE to add (repeatable)")
	flag.Parse()
	if *dir == "" || *out == "" {
		flag.Usage()
		return fmt.Errorf("-dir and -o are required")
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(*out), ".buildpackzip-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := buildpackzip.Write(f, *dir, add...); err != nil {
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
