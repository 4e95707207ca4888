// Command launcher starts an app process or task inside a container:
//
//	launcher <app dir> <start command> <metadata>
//
// It sets HOME, TMPDIR and DEPS_DIR, sources the droplet's profile scripts
// and execs the start command (or the droplet's, when empty) with bash. The
// metadata argument is accepted for Cloud Foundry compatibility and unused.
// It is a static program the rep mounts at /tmp/lifecycle/launcher.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/anvilpaas/anvil/diego/lifecycle/launcher"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintf(os.Stderr, "%s: received only %d arguments\n", os.Args[0], len(os.Args)-1)
		fmt.Fprintf(os.Stderr, "Usage: %s <app-directory> <start-command> <metadata>\n", os.Args[0])
		os.Exit(1)
	}
	err := launcher.Run(launcher.Config{AppDir: os.Args[1], StartCommand: os.Args[2]})
	fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[0], err)
	if errors.Is(err, launcher.ErrNoCommand) {
		os.Exit(1)
	}
	os.Exit(4)
}
