package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realBuildWanted reports whether TestBuildReal should run: it takes
// minutes and needs root, debootstrap and a Debian mirror, so it runs only
// in CI or when asked for with ANVIL_STACK_TEST=1.
func realBuildWanted() bool {
	if os.Getenv("ANVIL_STACK_TEST") == "1" {
		return true
	}
	ci := os.Getenv("CI")
	return ci != "" && ci != "false" && ci != "0"
}

// TestBuildReal builds the real stack with debootstrap into the shared
// cache (DefaultCacheDir, or $ANVIL_STACK_CACHE) and checks that apps can
// use it as vcap. The end-to-end suite uses the same build, so in CI the
// stack is built once, by whichever needs it first. Run it from scratch
// with
//
//	ANVIL_STACK_TEST=1 ANVIL_STACK_CACHE=$(mktemp -d) go test -count=1 -timeout 30m -run TestBuildReal -v ./internal/stack/
func TestBuildReal(t *testing.T) {
	if !realBuildWanted() {
		t.Skip("builds the real stack (minutes): set ANVIL_STACK_TEST=1 (CI runs it)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("TestBuildReal needs root (debootstrap, chroot)")
	}
	cache := os.Getenv("ANVIL_STACK_CACHE")
	if cache == "" {
		cache = DefaultCacheDir
	}
	// Nothing may be left mounted in the cache.
	t.Cleanup(func() {
		if m, err := mountsUnder(cache); err != nil || len(m) > 0 {
			t.Errorf("mounts left in the cache: %v %v", m, err)
			for _, p := range m {
				unmount(p)
			}
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Minute)
	defer cancel()
	began := time.Now()
	res, err := Build(ctx, Options{CacheDir: cache, Progress: t.Output()})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Logf("built %s in %s: %d bytes (%s), %d packages", res.RootFS, time.Since(began).Round(time.Second), res.SizeBytes, humanSize(res.SizeBytes), res.Packages)
	if res.Reused {
		t.Logf("reused the finished build of this recipe in %s", res.Dir)
	}
	if res.Dir != filepath.Join(cache, entryName(RecipeHash())) {
		t.Errorf("Build result %+v", res)
	}

	t.Run("runs as vcap", func(t *testing.T) {
		out := chrootVcap(t, res.RootFS, `id -u; id -un; echo "$HOME"; python3 --version; node --version; ruby --version; `+
			`bundle --version; gcc --version | head -1; make --version | head -1; locale -a | grep -i en_US.utf8`)
		for _, want := range []string{"2000\nvcap\n/home/vcap\n", "Python 3.11", "\nv18.", "ruby 3.1", "Bundler version", "gcc (Debian 12", "GNU Make", "en_US.utf8"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})
	t.Run("compiles native code as vcap", func(t *testing.T) {
		out := chrootVcap(t, res.RootFS, `cd /home/vcap && printf '#include <stdio.h>\nint main(void){puts("hello from C");return 0;}\n' > h.c && `+
			`gcc -o h h.c && ./h && rm h h.c && python3 -c 'import venv, ssl, sqlite3; print("py ok")' && ruby -e 'require "openssl"; puts "rb ok"'`)
		for _, want := range []string{"hello from C", "py ok", "rb ok"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})
	t.Run("files", func(t *testing.T) {
		checkStackFiles(t, res)
	})
	t.Run("cache", func(t *testing.T) {
		found, err := Find(cache)
		if err != nil || found.RootFS != res.RootFS || found.RecipeHash != res.RecipeHash {
			t.Fatalf("Find = %+v, %v", found, err)
		}
		again, err := Build(ctx, Options{CacheDir: cache})
		if err != nil || !again.Reused || again.RootFS != res.RootFS {
			t.Fatalf("second Build = %+v, %v; want the cached build", again, err)
		}
		link, err := os.Readlink(filepath.Join(cache, Name))
		if err != nil || link != entryName(RecipeHash()) {
			t.Errorf("symlink %s -> %q, %v", Name, link, err)
		}
	})
}

// chrootVcap runs script with bash as uid and gid 2000 in root.
func chrootVcap(t *testing.T, root, script string) string {
	t.Helper()
	chroot, err := findProgram("chroot")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chroot, "--userspec=2000:2000", root, "/bin/bash", "-c", script)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/vcap", "LANG=" + Locale}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("chroot %s: %v\n%s", script, err, out.String())
	}
	t.Logf("%s", out.String())
	return out.String()
}

// checkStackFiles checks what the build writes and removes.
func checkStackFiles(t *testing.T, res Result) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(res.RootFS, name))
		if err != nil {
			t.Error(err)
		}
		return string(data)
	}
	if s := read("etc/os-release"); !strings.Contains(s, `VERSION_CODENAME=bookworm`) {
		t.Errorf("os-release:\n%s", s)
	}
	if s := read("etc/passwd"); !strings.Contains(s, "vcap:x:2000:2000::/home/vcap:/bin/bash") {
		t.Errorf("passwd lacks vcap:\n%s", s)
	}
	if s := read("etc/default/locale"); s != "LANG=en_US.UTF-8\n" {
		t.Errorf("etc/default/locale = %q", s)
	}
	if fi, err := os.Stat(filepath.Join(res.RootFS, "home/vcap")); err != nil || fi.Sys() == nil {
		t.Errorf("home/vcap: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(res.RootFS, "dev/null")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("dev/null is not a device: %v", err)
	}
	for _, dir := range []string{"usr/share/man", "usr/share/info"} {
		if entries, _ := os.ReadDir(filepath.Join(res.RootFS, dir)); len(entries) > 0 {
			t.Errorf("%s is not empty: %v", dir, entries)
		}
	}
	if _, err := os.Stat(filepath.Join(res.RootFS, "usr/share/doc/bash/copyright")); err != nil {
		t.Errorf("copyright files must stay: %v", err)
	}
	for _, dir := range []string{"proc", "sys", "var/cache/apt/archives", "tmp"} {
		entries, err := os.ReadDir(filepath.Join(res.RootFS, dir))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Error(err)
		}
		if len(entries) > 0 && dir != "var/cache/apt/archives" {
			t.Errorf("%s is not empty: %v", dir, entries)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".deb") {
				t.Errorf("%s holds %s", dir, e.Name())
			}
		}
	}
	lists, _ := filepath.Glob(filepath.Join(res.RootFS, "var/lib/apt/lists/*_Packages*"))
	if len(lists) > 0 {
		t.Errorf("apt lists left: %v", lists)
	}
	pkgs, err := os.ReadFile(res.PackagesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Packages {
		if !bytes.Contains(pkgs, []byte("\n"+p+"\t")) && !bytes.HasPrefix(pkgs, []byte(p+"\t")) && !bytes.Contains(pkgs, []byte("\n"+p+":amd64\t")) {
			t.Errorf("packages.txt lacks %s", p)
		}
	}
	var st stamp
	data, err := os.ReadFile(res.StampFile)
	if err != nil || json.Unmarshal(data, &st) != nil || st.Name != Name || st.SizeBytes != res.SizeBytes || st.Env["LANG"] != Locale {
		t.Errorf("stack.json: %v\n%s", err, data)
	}
}
