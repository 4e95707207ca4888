// Command staticfile-server is the static file server the staticfile
// buildpack installs into apps as .staticfile/server. It serves the app
// directory (or the Staticfile's root) on $PORT, honouring the Staticfile
// options described in buildpacks/staticfile/README.md. With -check it only
// validates the Staticfile and the root, which bin/finalize does at staging
// time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "staticfile-server:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("staticfile-server", flag.ContinueOnError)
	dir := fset.String("dir", ".", "app directory holding the Staticfile")
	check := fset.Bool("check", false, "validate the Staticfile and root, then exit")
	if err := fset.Parse(args); err != nil {
		return err
	}
	opts, err := loadOptions(*dir)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(filepath.Join(*dir, opts.Root))
	if err != nil {
		return fmt.Errorf("root %q: %w", opts.Root, err)
	}
	defer root.Close()
	for _, k := range opts.Unknown {
		fmt.Fprintf(stdout, "       WARNING: Staticfile option %q is not supported and is ignored\n", k)
	}
	if *check {
		fmt.Fprintf(stdout, "       Serving %s (directory listing %s, pushstate %s)\n",
			opts.Root, onOff(opts.DirectoryListing), onOff(opts.PushState))
		return nil
	}

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(stdout, newHandler(root.FS(), opts)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "staticfile-server: serving %s on %s\n", opts.Root, ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func loadOptions(dir string) (Options, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Staticfile"))
	if errors.Is(err, fs.ErrNotExist) {
		data = nil
	} else if err != nil {
		return Options{}, err
	}
	opts, err := ParseStaticfile(data)
	if err != nil {
		return Options{}, err
	}
	fi, err := os.Stat(filepath.Join(dir, opts.Root))
	if err != nil || !fi.IsDir() {
		return Options{}, fmt.Errorf("the Staticfile's root %q is not a directory of the app", opts.Root)
	}
	if strings.HasPrefix(opts.Root, serverDir) {
		return Options{}, fmt.Errorf("the Staticfile's root %q is the server's own directory", opts.Root)
	}
	return opts, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
