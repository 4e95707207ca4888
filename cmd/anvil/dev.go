package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/anvilpaas/anvil/internal/launcher"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/runner"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "anvil",
		Short:         "Anvil: a Cloud Foundry-style platform. Launcher and operator CLI.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDevCommand())
	root.AddCommand(newStackCommand())
	return root
}

func newDevCommand() *cobra.Command {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole platform on this machine",
	}
	var stateDir string
	dev.PersistentFlags().StringVar(&stateDir, "state-dir", ".anvil", "directory holding the platform's state")
	dev.AddCommand(newUpCommand(&stateDir), newDownCommand(&stateDir), newStatusCommand(&stateDir), newLogsCommand(&stateDir))
	return dev
}

func newUpCommand(stateDir *string) *cobra.Command {
	var opts launcher.Options
	var detach bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start Postgres, NATS and every daemon built into --bin-dir, and supervise them",
		Long: `Start the whole platform: a private Postgres cluster, an embedded NATS server and
each daemon found in --bin-dir as its own supervised process. Runs in the
foreground until interrupted (Ctrl-C stops everything), or with --detach in the
background until 'anvil dev down'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.StateDir = *stateDir
			if detach {
				args := []string{"dev", "up"}
				cmd.Flags().Visit(func(f *pflag.Flag) {
					if f.Name != "detach" {
						args = append(args, "--"+f.Name+"="+f.Value.String())
					}
				})
				if !cmd.Flags().Changed("state-dir") {
					args = append(args, "--state-dir="+*stateDir)
				}
				return launcher.Detach(cmd.Context(), *stateDir, args, cmd.OutOrStdout())
			}
			return runUp(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&detach, "detach", false, "run in the background and return once the platform is ready")
	f.StringVar(&opts.BinDir, "bin-dir", "bin", "directory holding the daemon binaries (make build)")
	f.StringVar(&opts.PGBinDir, "pg-bin", "", "directory holding initdb and postgres (default $PG_BIN or /usr/lib/postgresql/15/bin)")
	f.IntVar(&opts.APIPort, "api-port", 9022, "Cloud Controller port on localhost")
	f.IntVar(&opts.RouterHTTPPort, "router-http-port", 8080, "router HTTP port")
	f.IntVar(&opts.RouterHTTPSPort, "router-https-port", 8443, "router HTTPS port")
	f.StringVar(&opts.AppsDomain, "apps-domain", "apps.localhost", "shared domain for app routes")
	f.StringVar(&opts.SystemDomain, "system-domain", "", "serve system components through the router at https://NAME.DOMAIN (production shape)")
	return cmd
}

func runUp(ctx context.Context, opts launcher.Options, progress io.Writer) error {
	if err := os.MkdirAll(filepath.Join(opts.StateDir, "logs"), 0o755); err != nil {
		return fmt.Errorf("state dir %s is not writable: %w", opts.StateDir, err)
	}
	logf, err := os.OpenFile(filepath.Join(opts.StateDir, "logs", "anvil.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open launcher log: %w", err)
	}
	defer logf.Close()
	logger, err := logging.New(logf, "anvil", logging.Config{})
	if err != nil {
		return err
	}
	ctx, stop := runner.Signals(ctx, runner.SignalOptions{Logger: logger.Logger})
	defer stop()
	return launcher.New(opts, logger.Logger, progress).Run(ctx)
}

func newDownCommand(stateDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the platform and everything it started",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			if err := launcher.Down(ctx, *stateDir); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Anvil is down.")
			return nil
		},
	}
}

func newStatusCommand(stateDir *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each daemon: pid, state, restarts, log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := launcher.GetStatus(cmd.Context(), *stateDir)
			if errors.Is(err, launcher.ErrNotRunning) {
				fmt.Fprintln(cmd.OutOrStdout(), "Anvil is not running (anvil dev up starts it).")
				return err
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(out, "launcher pid %d, phase %s, state dir %s\n\n", st.Pid, st.Phase, st.StateDir)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPID\tSTATE\tRESTARTS\tLOG")
			if st.Postgres != nil {
				fmt.Fprintf(tw, "postgres\t%d\tready\t0\t%s\n", st.Postgres.Pid, st.Postgres.Log)
			}
			if st.NATS != nil {
				fmt.Fprintf(tw, "nats\t%d\tready\t0\t(embedded in the launcher, %s)\n", st.NATS.Pid, st.NATS.Addr)
			}
			for _, d := range st.Daemons {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", d.Name, d.Pid, d.State, d.Restarts, d.Log)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func newLogsCommand(stateDir *string) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs DAEMON",
		Short: "Print a daemon's log (postgres, anvil and anvil-up work too)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := filepath.Join(*stateDir, "logs", filepath.Base(args[0])+".log")
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("no log for %s: %w", args[0], err)
			}
			defer f.Close()
			out := cmd.OutOrStdout()
			if _, err := io.Copy(out, f); err != nil {
				return err
			}
			if !follow {
				return nil
			}
			ctx, stop := runner.Signals(cmd.Context(), runner.SignalOptions{})
			defer stop()
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
					if _, err := io.Copy(out, f); err != nil {
						return err
					}
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	return cmd
}
