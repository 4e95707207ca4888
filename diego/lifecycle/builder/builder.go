package builder

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/anvilpaas/anvil/diego/lifecycle/internal/procfile"
	"github.com/anvilpaas/anvil/diego/lifecycle/internal/staging"
	"github.com/anvilpaas/anvil/diego/lifecycle/internal/targz"
)

// Config is what the builder's flags set. Paths are as seen inside the
// staging container.
type Config struct {
	// BuildDir holds the app's source bits; buildpacks compile it in place.
	BuildDir string
	// BuildpackOrder lists buildpack keys: the candidates for detection,
	// or with SkipDetect the buildpacks to run, the last one final.
	BuildpackOrder []string
	// BuildpacksDir holds each buildpack, unzipped, in the directory
	// BuildpackDirName(key).
	BuildpacksDir string
	// BuildArtifactsCacheDir holds the previous build-artifacts cache,
	// already extracted (possibly empty).
	BuildArtifactsCacheDir string
	// OutputDroplet, OutputBuildArtifactsCache and OutputMetadata are the
	// files written: the droplet tgz, the cache tgz and the result JSON.
	OutputDroplet             string
	OutputBuildArtifactsCache string
	OutputMetadata            string
	// SkipDetect runs BuildpackOrder as given (multi-buildpack).
	SkipDetect bool
	// SkipCertVerify is accepted for compatibility with CF's task
	// definitions; the builder downloads nothing, so it changes nothing.
	SkipCertVerify bool
}

// Deps are the builder's outputs. Buildpack stdout and stderr are connected
// straight to them, so they stream line by line.
type Deps struct {
	Stdout io.Writer
	Stderr io.Writer
}

// Builder stages one app. It is used once.
type Builder struct {
	cfg    Config
	stdout io.Writer
	stderr io.Writer

	contentsDir string // the droplet's root, app excepted
	depsDir     string
	profileDir  string
}

// New checks cfg and returns a Builder.
func New(cfg Config, deps Deps) (*Builder, error) {
	var errs []error
	for name, v := range map[string]string{
		"buildDir": cfg.BuildDir, "buildpacksDir": cfg.BuildpacksDir,
		"buildArtifactsCacheDir": cfg.BuildArtifactsCacheDir, "outputDroplet": cfg.OutputDroplet,
		"outputBuildArtifactsCache": cfg.OutputBuildArtifactsCache, "outputMetadata": cfg.OutputMetadata,
	} {
		if v == "" {
			errs = append(errs, fmt.Errorf("missing flag: -%s", name))
		}
	}
	if len(cfg.BuildpackOrder) == 0 || slices.Contains(cfg.BuildpackOrder, "") {
		errs = append(errs, errors.New("missing flag: -buildpackOrder (a comma-separated list of buildpack keys)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if deps.Stdout == nil {
		deps.Stdout = io.Discard
	}
	if deps.Stderr == nil {
		deps.Stderr = io.Discard
	}
	return &Builder{cfg: cfg, stdout: deps.Stdout, stderr: deps.Stderr}, nil
}

// BuildpackDirName is the directory, under the buildpacks dir, holding the
// buildpack with this key: the hex MD5 of the key, as the Cloud Controller's
// staging task lays buildpacks out for CF's builder.
func BuildpackDirName(key string) string {
	sum := md5.Sum([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Run stages the app: detect (unless SkipDetect), supply, finalize or
// compile, release, then write the droplet, the cache and the result. The
// error, if any, maps to an exit code with ExitCode.
func (b *Builder) Run(ctx context.Context) error {
	if err := b.setup(); err != nil {
		return fmt.Errorf("Failed to set up filesystem when generating droplet: %w", err) //nolint:staticcheck // CF's message
	}
	defer os.RemoveAll(b.contentsDir)

	var (
		final     string // key of the final buildpack
		finalPath string
		metaKeys  []string
		detectOut string
	)
	if b.cfg.SkipDetect {
		var err error
		if final, finalPath, err = b.runSupply(ctx); err != nil {
			return err
		}
		metaKeys = b.cfg.BuildpackOrder
	} else {
		var ok bool
		if final, finalPath, detectOut, ok = b.detect(ctx); !ok {
			return ErrNoAppDetected
		}
		metaKeys = []string{final}
	}

	result, err := b.build(ctx, final, finalPath)
	buildpacks := b.buildpacksMetadata(metaKeys, detectOut)
	if err != nil {
		// The result still records which buildpacks ran, as CF's does.
		_ = b.writeResult(Result{ProcessTypes: map[string]string{}}, buildpacks)
		return err
	}
	if result.ProcessTypes["web"] == "" {
		b.warn("No start command specified by buildpack or via Procfile.")
		b.warn("App will not start unless a command is provided at runtime.")
	}
	if err := b.writeStagingInfo(result, buildpacks); err != nil {
		return fmt.Errorf("write %s: %w", staging.StagingInfoFile, err)
	}
	if err := b.writeResult(result, buildpacks); err != nil {
		return fmt.Errorf("write staging result: %w", err)
	}
	return b.packageDroplet()
}

func (b *Builder) warn(msg string) { fmt.Fprintln(b.stderr, msg) }

// finalIndex is the deps index of the final buildpack.
func (b *Builder) finalIndex() int { return len(b.supplyBuildpacks()) }

// supplyBuildpacks are the buildpacks that only supply: with SkipDetect,
// all but the last.
func (b *Builder) supplyBuildpacks() []string {
	if !b.cfg.SkipDetect {
		return nil
	}
	return b.cfg.BuildpackOrder[:len(b.cfg.BuildpackOrder)-1]
}

// depsIndex is the deps/<idx> name for buildpack i, zero-padded to the
// width of the largest index, as CF does.
func (b *Builder) depsIndex(i int) string {
	width := len(fmt.Sprint(b.finalIndex()))
	return fmt.Sprintf("%0*d", width, i)
}

func (b *Builder) finalCacheDir() string {
	return filepath.Join(b.cfg.BuildArtifactsCacheDir, "final")
}

func (b *Builder) supplyCacheDir(key string) string {
	return filepath.Join(b.cfg.BuildArtifactsCacheDir, BuildpackDirName(key))
}

func (b *Builder) setup() error {
	for _, f := range []string{b.cfg.OutputDroplet, b.cfg.OutputMetadata, b.cfg.OutputBuildArtifactsCache} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
	}
	keep := map[string]bool{b.finalCacheDir(): true}
	for _, key := range b.supplyBuildpacks() {
		keep[b.supplyCacheDir(key)] = true
	}
	for dir := range keep {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	// Drop cache entries of buildpacks no longer in use.
	entries, err := os.ReadDir(b.cfg.BuildArtifactsCacheDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if p := filepath.Join(b.cfg.BuildArtifactsCacheDir, e.Name()); !keep[p] {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}

	if b.contentsDir, err = os.MkdirTemp("", "droplet-contents"); err != nil {
		return err
	}
	b.depsDir = filepath.Join(b.contentsDir, "deps")
	b.profileDir = filepath.Join(b.contentsDir, "profile.d")
	dirs := []string{b.profileDir, filepath.Join(b.contentsDir, "tmp"), filepath.Join(b.contentsDir, "logs")}
	for i := 0; i <= b.finalIndex(); i++ {
		dirs = append(dirs, filepath.Join(b.depsDir, b.depsIndex(i)))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// buildpackPath finds a buildpack's root: its directory, or the single
// directory inside it when the zip had a top-level folder.
func (b *Builder) buildpackPath(key string) (string, error) {
	base := filepath.Join(b.cfg.BuildpacksDir, BuildpackDirName(key))
	if isDir(filepath.Join(base, "bin")) {
		return base, nil
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return "", fmt.Errorf("Failed to read buildpack directory '%s' for buildpack '%s'", base, key) //nolint:staticcheck // CF's message
	}
	if len(entries) == 1 && isDir(filepath.Join(base, entries[0].Name(), "bin")) {
		return filepath.Join(base, entries[0].Name()), nil
	}
	return "", fmt.Errorf("malformed buildpack does not contain a /bin dir: %s", key)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func (b *Builder) run(ctx context.Context, stdout io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = stdout
	cmd.Stderr = b.stderr
	return cmd.Run()
}

// detect runs each buildpack's bin/detect in order; the first to exit 0
// wins. It returns the key, path and trimmed detect output.
func (b *Builder) detect(ctx context.Context) (key, path, output string, ok bool) {
	for _, key := range b.cfg.BuildpackOrder {
		path, err := b.buildpackPath(key)
		if err != nil {
			b.warn(err.Error())
			continue
		}
		detect := filepath.Join(path, "bin", "detect")
		if !isExecutable(detect) {
			b.warn(fmt.Sprintf("WARNING: buildpack script '/bin/detect' is not executable: %s", key))
			continue
		}
		var out bytes.Buffer
		if err := b.run(ctx, &out, detect, b.cfg.BuildDir); err == nil {
			return key, path, strings.TrimRight(out.String(), "\r\n"), true
		}
	}
	return "", "", "", false
}

// runSupply runs bin/supply of every buildpack but the last and returns the
// last one's key and path.
func (b *Builder) runSupply(ctx context.Context) (string, string, error) {
	supply := b.supplyBuildpacks()
	paths := make([]string, len(supply))
	for i, key := range supply {
		path, err := b.buildpackPath(key)
		if err != nil {
			b.warn(err.Error())
			return "", "", fmt.Errorf("%w: %w", ErrSupplyFailed, err)
		}
		if !isExecutable(filepath.Join(path, "bin", "supply")) {
			return "", "", ErrNoSupply
		}
		paths[i] = path
	}
	for i, key := range supply {
		err := b.run(ctx, b.stdout, filepath.Join(paths[i], "bin", "supply"),
			b.cfg.BuildDir, b.supplyCacheDir(key), b.depsDir, b.depsIndex(i))
		if err != nil {
			return "", "", fmt.Errorf("%w: %w", ErrSupplyFailed, err)
		}
	}
	final := b.cfg.BuildpackOrder[len(supply)]
	path, err := b.buildpackPath(final)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrSupplyFailed, err)
	}
	return final, path, nil
}

// build runs the final buildpack (supply+finalize, or legacy compile) and
// works out the process types.
func (b *Builder) build(ctx context.Context, key, path string) (Result, error) {
	if err := b.runFinal(ctx, path); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrCompileFailed, err)
	}
	procs := map[string]string{}
	for i := range b.supplyBuildpacks() {
		if err := b.mergeLaunch(i, procs); err != nil {
			return Result{}, err
		}
	}
	if hasLaunch(b.launchPath(b.finalIndex())) {
		if err := b.mergeLaunch(b.finalIndex(), procs); err != nil {
			return Result{}, err
		}
	} else {
		rel, err := b.release(ctx, path)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %w", ErrReleaseFailed, err)
		}
		maps.Copy(procs, rel.DefaultProcessTypes)
		if err := b.writeConfigVars(rel.ConfigVars); err != nil {
			return Result{}, fmt.Errorf("%w: %w", ErrReleaseFailed, err)
		}
	}
	fromProcfile, err := b.readProcfile()
	if err != nil {
		return Result{}, fmt.Errorf("Failed to read command from Procfile: %w", err) //nolint:staticcheck // CF's message
	}
	maps.Copy(procs, fromProcfile)
	return Result{ProcessTypes: procs}, nil
}

func (b *Builder) runFinal(ctx context.Context, path string) error {
	idx := b.depsIndex(b.finalIndex())
	if isExecutable(filepath.Join(path, "bin", "finalize")) {
		if isExecutable(filepath.Join(path, "bin", "supply")) {
			if err := b.run(ctx, b.stdout, filepath.Join(path, "bin", "supply"),
				b.cfg.BuildDir, b.finalCacheDir(), b.depsDir, idx); err != nil {
				return fmt.Errorf("%w: %w", ErrSupplyFailed, err)
			}
		}
		if err := b.run(ctx, b.stdout, filepath.Join(path, "bin", "finalize"),
			b.cfg.BuildDir, b.finalCacheDir(), b.depsDir, idx, b.profileDir); err != nil {
			return fmt.Errorf("%w: %w", ErrFinalize, err)
		}
		return nil
	}
	// The legacy API: bin/compile BUILD_DIR CACHE_DIR, no deps dir.
	if len(b.supplyBuildpacks()) > 0 {
		b.warn(missingFinalizeWarning)
	}
	if err := os.RemoveAll(filepath.Join(b.depsDir, idx)); err != nil {
		return err
	}
	return b.run(ctx, b.stdout, filepath.Join(path, "bin", "compile"), b.cfg.BuildDir, b.finalCacheDir())
}

func (b *Builder) launchPath(i int) string {
	return filepath.Join(b.depsDir, b.depsIndex(i), "launch.yml")
}

func hasLaunch(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (b *Builder) mergeLaunch(i int, procs map[string]string) error {
	data, err := os.ReadFile(b.launchPath(i))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	list, err := staging.ParseLaunch(data)
	if err != nil {
		return err
	}
	for _, p := range list {
		procs[p.Type] = p.Command
	}
	return nil
}

func (b *Builder) release(ctx context.Context, path string) (staging.Release, error) {
	var out bytes.Buffer
	if err := b.run(ctx, &out, filepath.Join(path, "bin", "release"), b.cfg.BuildDir); err != nil {
		return staging.Release{}, err
	}
	return staging.ParseRelease(out.Bytes())
}

// configVarsFile is the profile.d script exporting a legacy buildpack's
// config_vars. It sorts before buildpacks' own scripts.
const configVarsFile = "000_config_vars.sh"

// writeConfigVars turns release config_vars into defaults: each is exported
// unless the environment (the app's env vars) already sets it.
func (b *Builder) writeConfigVars(vars map[string]string) error {
	if len(vars) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("# config_vars from the buildpack's bin/release\n")
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&sb, "[ -n \"${%s+x}\" ] || export %s=%s\n", k, k, shellQuote(vars[k]))
	}
	return os.WriteFile(filepath.Join(b.profileDir, configVarsFile), []byte(sb.String()), 0o644)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (b *Builder) readProcfile() (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(b.cfg.BuildDir, "Procfile"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return procfile.Parse(data)
}

func (b *Builder) buildpacksMetadata(keys []string, detectOutput string) []Buildpack {
	out := make([]Buildpack, 0, len(keys))
	for i, key := range keys {
		bp := Buildpack{Key: key}
		if data, err := os.ReadFile(filepath.Join(b.depsDir, b.depsIndex(i), "config.yml")); err == nil {
			if c, err := staging.ParseDepsConfig(data); err == nil {
				bp.Name, bp.Version, bp.Config = c.Name, c.Version, c.Config
			} else {
				b.warn(err.Error())
			}
		}
		if !b.cfg.SkipDetect {
			bp.DetectOutput = detectOutput
			if bp.Name == "" {
				bp.Name = detectOutput
			}
		}
		out = append(out, bp)
	}
	return out
}

func (b *Builder) writeStagingInfo(result Result, buildpacks []Buildpack) error {
	var last Buildpack
	if len(buildpacks) > 0 {
		last = buildpacks[len(buildpacks)-1]
	}
	data, err := json.Marshal(staging.StagingInfo{
		DetectedBuildpack: last.Name,
		StartCommand:      result.ProcessTypes["web"],
		Config:            last.Config,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.contentsDir, staging.StagingInfoFile), append(data, '\n'), 0o644)
}

func (b *Builder) writeResult(result Result, buildpacks []Buildpack) error {
	var last Buildpack
	if len(buildpacks) > 0 {
		last = buildpacks[len(buildpacks)-1]
	}
	result.LifecycleType = "buildpack"
	result.ExecutionMetadata = ""
	result.LifecycleMetadata = LifecycleMetadata{
		BuildpackKey:      last.Key,
		DetectedBuildpack: last.Name,
		Buildpacks:        buildpacks,
	}
	data, err := json.Marshal(result)
	if err != nil {
		return err
	}
	return os.WriteFile(b.cfg.OutputMetadata, append(data, '\n'), 0o644)
}

// packageDroplet writes the droplet (the contents dir with the compiled app
// as ./app) and the build-artifacts cache.
func (b *Builder) packageDroplet() error {
	err := targz.WriteFile(b.cfg.OutputDroplet,
		targz.Source{Dir: b.contentsDir},
		targz.Source{Dir: b.cfg.BuildDir, Prefix: "app"})
	if err != nil {
		return fmt.Errorf("Failed to compress droplet filesystem: %w", err) //nolint:staticcheck // CF's message
	}
	if err := targz.WriteFile(b.cfg.OutputBuildArtifactsCache, targz.Source{Dir: b.cfg.BuildArtifactsCacheDir}); err != nil {
		return fmt.Errorf("Failed to compress build artifacts: %w", err) //nolint:staticcheck // CF's message
	}
	return nil
}
