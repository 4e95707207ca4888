package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/anvilpaas/anvil/internal/runner"
	"github.com/anvilpaas/anvil/internal/stack"
)

func newStackCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Build the " + stack.Name + " stack (the root filesystem apps run on)",
	}
	cmd.AddCommand(newStackBuildCommand())
	return cmd
}

func newStackBuildCommand() *cobra.Command {
	var opts stack.Options
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the " + stack.Name + " stack with debootstrap, or reuse the cached build",
		Long: "Build the " + stack.Name + " stack with debootstrap (needs root and network access to a Debian\n" +
			"mirror) into the cache directory, or print the cached build of the current recipe.\n" +
			"The rep's stacks config points at the printed rootfs directory.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := runner.Signals(cmd.Context(), runner.SignalOptions{})
			defer stop()
			out := cmd.OutOrStdout()
			opts.Progress = out
			res, err := stack.Build(ctx, opts)
			if err != nil {
				return err
			}
			how := "built in " + res.BuildTime.String()
			if res.Reused {
				how = "cached, built " + res.BuiltAt.Format("2006-01-02 15:04 MST") + " in " + res.BuildTime.String()
			}
			fmt.Fprintf(out, "stack %s (recipe %s): %s\n  rootfs   %s\n  size     %.0f MB, %d packages (%s)\n",
				res.Name, res.RecipeHash, how, res.RootFS, float64(res.SizeBytes)/1e6, res.Packages, res.PackagesFile)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.CacheDir, "cache-dir", stack.DefaultCacheDir, "directory holding built stacks")
	f.StringVar(&opts.Mirror, "mirror", "", "Debian mirror URL (default: the first URIs line of "+stack.DefaultSourcesFile+")")
	f.StringVar(&opts.SecurityMirror, "security-mirror", "", "Debian security mirror URL (default: from the sources file, none with --mirror)")
	f.BoolVar(&opts.Force, "force", false, "rebuild even if the cache holds a build of the current recipe")
	return cmd
}
