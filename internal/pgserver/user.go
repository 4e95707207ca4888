package pgserver

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// runAs is the identity the server processes run with. A nil *runAs means
// "the current user".
type runAs struct {
	name     string
	uid, gid uint32
}

// resolveUser returns who should run initdb and postgres: nil when the caller
// is not root, else the configured user (or postgres, or nobody).
func resolveUser(name string) (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	if name != "" {
		u, err = user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("look up user %q: %w", name, err)
		}
	} else {
		u, err = user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			return nil, errors.New("running as root and neither user postgres nor nobody exists: set User")
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %s has uid 0: postgres refuses to run as root", u.Username)
	}
	return &runAs{name: u.Username, uid: uint32(uid), gid: uint32(gid)}, nil
}

func (r *runAs) credential() *syscall.Credential {
	if r == nil {
		return nil
	}
	return &syscall.Credential{Uid: r.uid, Gid: r.gid}
}

// chown gives path to the run-as user. It is a no-op for the current user.
func (r *runAs) chown(path string) error {
	if r == nil {
		return nil
	}
	if err := os.Lchown(path, int(r.uid), int(r.gid)); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, r.name, err)
	}
	return nil
}

// mkdirAll is os.MkdirAll(dir, 0o700) that also chowns every directory it
// creates to the run-as user.
func (r *runAs) mkdirAll(dir string) error {
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		created = append(created, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, d := range created {
		if err := r.chown(d); err != nil {
			return err
		}
	}
	return nil
}

// checkTraverse reports the first parent of dir that the run-as user cannot
// search. The child runs without supplementary groups, so only the owner,
// the primary group and "other" bits count.
func (r *runAs) checkTraverse(dir string) error {
	if r == nil {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok {
			perm := fi.Mode().Perm()
			var bit os.FileMode
			switch {
			case st.Uid == r.uid:
				bit = 0o100
			case st.Gid == r.gid:
				bit = 0o010
			default:
				bit = 0o001
			}
			if perm&bit == 0 {
				return fmt.Errorf("user %s cannot traverse %s (mode %v, owner %d): put the data dir somewhere it can reach, e.g. under %s", r.name, d, perm, st.Uid, os.TempDir())
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// CheckReachable reports whether the account that would run postgres (see
// Config.User) can reach dataDir. It is nil when the caller is not root.
func CheckReachable(userName, dataDir string) error {
	r, err := resolveUser(userName)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	return r.checkTraverse(abs)
}
