package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultCacheDir is where built stacks are kept unless Options.CacheDir
// says otherwise.
const DefaultCacheDir = "/var/cache/anvil/stacks"

// Options configure Build. The zero value builds into DefaultCacheDir from
// the mirror in DefaultSourcesFile.
type Options struct {
	// CacheDir holds the cache entries. Default DefaultCacheDir.
	CacheDir string
	// Mirror is the Debian archive to install from. Default: the first
	// URI of SourcesFile. When set, only the "bookworm" suite is used and
	// SecurityMirror is used only if it is set too.
	Mirror string
	// SecurityMirror is the Debian security archive whose
	// "bookworm-security" suite the stack's apt also installs from.
	// Default: taken from SourcesFile when Mirror is empty.
	SecurityMirror string
	// SourcesFile is the deb822 apt sources file the mirrors are read
	// from. Default DefaultSourcesFile.
	SourcesFile string
	// Force rebuilds even when the cache holds a build of the recipe.
	Force bool
	// Progress receives one line per step, with timings. Default: none.
	Progress io.Writer
	// Debootstrap is the debootstrap program. Default: found in PATH or
	// /usr/sbin.
	Debootstrap string
}

// Result describes a finished build, new or found in the cache.
type Result struct {
	Name       string
	RecipeHash string
	// Dir is the cache entry; RootFS (Dir/rootfs) is the root filesystem
	// to give the rep, PackagesFile (Dir/packages.txt) the output of
	// dpkg-query -W inside it, and StampFile (Dir/stack.json) the stamp.
	Dir          string
	RootFS       string
	PackagesFile string
	StampFile    string
	// Packages is the number of installed packages.
	Packages  int
	SizeBytes int64
	BuiltAt   time.Time
	// BuildTime is how long the build took (when it was made).
	BuildTime time.Duration
	// Reused is true when Build found the entry in the cache.
	Reused bool
}

// aptEnv is the environment of every program run in the chroot.
var aptEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"DEBIAN_FRONTEND=noninteractive",
	"DEBCONF_NONINTERACTIVE_SEEN=true",
	"LC_ALL=C",
	"HOME=/root",
}

// Build builds the stack into the cache, or returns the cached build of
// the current recipe unless opts.Force is set. See the package doc for
// the steps. A failed or cancelled build leaves nothing in the cache.
func Build(ctx context.Context, opts Options) (Result, error) {
	began := time.Now()
	p := progress{w: opts.Progress}
	if p.w == nil {
		p.w = io.Discard
	}
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir
	}
	if os.Geteuid() != 0 {
		return Result{}, ErrNotRoot
	}
	debootstrap, err := findDebootstrap(opts.Debootstrap)
	if err != nil {
		return Result{}, err
	}
	chroot, err := findProgram("chroot")
	if err != nil {
		return Result{}, err
	}
	m, err := resolveMirrors(opts)
	if err != nil {
		return Result{}, err
	}
	cacheDir, err := filepath.Abs(opts.CacheDir)
	if err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	unlock, err := lockDir(ctx, cacheDir)
	if err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	defer unlock()

	hash := RecipeHash()
	if !opts.Force {
		if res, err := Find(cacheDir); err == nil {
			res.Reused = true
			p.printf("stack %s is built: %s", Name, res.RootFS)
			return res, nil
		}
	}
	if err := removeLeftovers(cacheDir); err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	p.printf("checking mirror %s", m.mirror)
	if err := checkReachable(ctx, m.mirror); err != nil {
		return Result{}, err
	}

	tmp, err := os.MkdirTemp(cacheDir, buildPrefix+hash+"-")
	if err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	done := false
	defer func() {
		if !done {
			if err := removeBuildDir(tmp); err != nil {
				p.printf("warning: %v", err)
			}
		}
	}()
	b := &builder{p: p, dir: tmp, rootfs: filepath.Join(tmp, "rootfs"), mirrors: m, debootstrap: debootstrap, chroot: chroot}
	if err := b.run(ctx); err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}

	size, err := diskUsage(b.rootfs)
	if err != nil {
		return Result{}, fmt.Errorf("build stack: size: %w", err)
	}
	st := stamp{
		Name:          Name,
		RecipeHash:    hash,
		RecipeVersion: RecipeVersion,
		BuiltAt:       time.Now().UTC().Truncate(time.Second),
		BuildSeconds:  time.Since(began).Round(time.Second).Seconds(),
		SizeBytes:     size,
		Packages:      b.packages,
		PackagesFile:  packagesFile,
		RootFS:        rootfsDir,
		Mirror:        m.mirror,
		OSRelease:     b.osRelease,
		Env:           map[string]string{"LANG": Locale},
	}
	if err := writeStamp(tmp, st); err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	final := filepath.Join(cacheDir, entryName(hash))
	if err := replaceDir(tmp, final); err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	done = true
	if err := pointCurrent(cacheDir, entryName(hash)); err != nil {
		return Result{}, fmt.Errorf("build stack: %w", err)
	}
	res := st.result(final)
	p.printf("built %s in %s: %s (%s, %d packages)", Name, res.BuildTime, res.RootFS, humanSize(size), st.Packages)
	return res, nil
}

type mirrors struct {
	mirror   string
	suites   []string
	security string
}

// resolveMirrors applies the Options' mirror defaults.
func resolveMirrors(opts Options) (mirrors, error) {
	if opts.Mirror != "" {
		m := mirrors{mirror: strings.TrimRight(opts.Mirror, "/"), suites: []string{suite}, security: strings.TrimRight(opts.SecurityMirror, "/")}
		if err := checkMirror(m.mirror); err != nil {
			return mirrors{}, err
		}
		if m.security != "" {
			if err := checkMirror(m.security); err != nil {
				return mirrors{}, err
			}
		}
		return m, nil
	}
	file := opts.SourcesFile
	if file == "" {
		file = DefaultSourcesFile
	}
	src, err := ReadSources(file)
	if err != nil {
		return mirrors{}, fmt.Errorf("%w (give one with --mirror): %w", ErrNoMirror, err)
	}
	m := mirrors{mirror: src.Mirror, suites: src.Suites, security: src.SecurityMirror}
	if opts.SecurityMirror != "" {
		m.security = strings.TrimRight(opts.SecurityMirror, "/")
	}
	if len(m.suites) == 0 {
		m.suites = []string{suite}
	}
	return m, nil
}

func findDebootstrap(path string) (string, error) {
	if path != "" {
		if _, err := exec.LookPath(path); err != nil {
			return "", fmt.Errorf("%w (%v)", ErrNoDebootstrap, err)
		}
		return path, nil
	}
	p, err := findProgram("debootstrap")
	if err != nil {
		return "", ErrNoDebootstrap
	}
	return p, nil
}

// findProgram looks for name in PATH, then in /usr/sbin and /sbin, which a
// PATH does not always have.
func findProgram(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH, /usr/sbin or /sbin", name)
}

// checkReachable fetches the suite's Release file from the mirror.
func checkReachable(ctx context.Context, mirror string) error {
	u, err := url.Parse(mirror)
	if err != nil {
		return err
	}
	release := mirror + "/dists/" + suite + "/Release"
	if u.Scheme == "file" {
		if _, err := os.Stat(filepath.Join(u.Path, "dists", suite, "Release")); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrMirrorUnreachable, release, err)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, release, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMirrorUnreachable, release, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: %s", ErrMirrorUnreachable, release, resp.Status)
	}
	return nil
}

// replaceDir renames tmp to final. An existing final (a forced rebuild)
// is moved aside first and removed after.
func replaceDir(tmp, final string) error {
	err := os.Rename(tmp, final)
	if err == nil {
		return nil
	}
	if _, serr := os.Lstat(final); serr != nil {
		return err
	}
	old := filepath.Join(filepath.Dir(final), oldPrefix+filepath.Base(final)+"-"+time.Now().UTC().Format("20060102T150405"))
	if err := os.Rename(final, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return removeBuildDir(old)
}

// pointCurrent points the symlink <cacheDir>/<Name> at entry, atomically.
func pointCurrent(cacheDir, entry string) error {
	link := filepath.Join(cacheDir, Name)
	tmp := filepath.Join(cacheDir, "."+Name+".link")
	os.Remove(tmp)
	if err := os.Symlink(entry, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

// lockDir takes an exclusive flock on dir/.lock, waiting for ctx.
func lockDir(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type progress struct{ w io.Writer }

func (p progress) printf(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}

func humanSize(n int64) string {
	return fmt.Sprintf("%.0f MB", float64(n)/1e6)
}
