// Command anvil is Anvil's launcher and operator CLI: `anvil dev up` runs the
// whole platform on this machine.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "anvil:", err)
		os.Exit(1)
	}
}
