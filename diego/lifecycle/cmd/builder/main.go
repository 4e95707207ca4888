// Command builder stages an app inside a staging container: it runs
// buildpacks over the app bits and writes the droplet, the build-artifacts
// cache and the staging result. It is a static program the rep mounts at
// /tmp/lifecycle/builder; flags and exit codes are Cloud Foundry's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/anvilpaas/anvil/diego/lifecycle/builder"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg builder.Config
	var order string
	fs := flag.NewFlagSet("builder", flag.ContinueOnError)
	fs.StringVar(&cfg.BuildDir, "buildDir", "/tmp/app", "directory containing the app bits")
	fs.StringVar(&order, "buildpackOrder", "", "comma-separated buildpack keys, tried in order")
	fs.StringVar(&cfg.BuildpacksDir, "buildpacksDir", "/tmp/buildpacks", "directory holding each buildpack in <md5 of key>/")
	fs.StringVar(&cfg.BuildArtifactsCacheDir, "buildArtifactsCacheDir", "/tmp/cache", "directory holding the extracted previous build-artifacts cache")
	fs.StringVar(&cfg.OutputDroplet, "outputDroplet", "/tmp/droplet", "file to write the droplet tgz to")
	fs.StringVar(&cfg.OutputBuildArtifactsCache, "outputBuildArtifactsCache", "/tmp/output-cache", "file to write the build-artifacts cache tgz to")
	fs.StringVar(&cfg.OutputMetadata, "outputMetadata", "/tmp/result.json", "file to write the staging result JSON to")
	fs.BoolVar(&cfg.SkipDetect, "skipDetect", false, "run -buildpackOrder as given: all but the last supply, the last finalizes")
	fs.BoolVar(&cfg.SkipCertVerify, "skipCertVerify", false, "accepted for compatibility; the builder downloads nothing")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if order != "" {
		cfg.BuildpackOrder = strings.Split(order, ",")
	}
	b, err := builder.New(cfg, builder.Deps{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fs.Usage()
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := b.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return builder.ExitCode(err)
	}
	return 0
}
