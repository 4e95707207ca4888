package containerd

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// maxAccountFile bounds the /etc/passwd and /etc/group read from a
// container.
const maxAccountFile = 1 << 20

// user is whom a process runs as.
type user struct {
	uid, gid uint32
	home     string
}

// resolveUser resolves a ProcessSpec.User ("name", "uid", "name:gid",
// "uid:gid", "name:group"; empty means vcap) against the /etc/passwd and
// /etc/group of the container whose PID 1 is pid. vcap resolves to
// 2000:2000 even when the stack lacks it.
func (r *Runtime) resolveUser(pid uint32, spec string) (user, error) {
	read := func(path string) []byte {
		data, err := readInRoot(procRoot(pid), path, maxAccountFile)
		if err != nil {
			return nil
		}
		return data
	}
	return resolveUser(spec, read)
}

// resolveUser is resolveUser with the account files read by read (nil
// when missing).
func resolveUser(spec string, read func(path string) []byte) (user, error) {
	if spec == "" {
		spec = "vcap"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "root" || name == "" {
		return user{}, fmt.Errorf("user %q: %w", spec, ErrRootUser)
	}
	var (
		u     user
		found bool
	)
	passwd := read("/etc/passwd")
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		u, found = lookupPasswd(passwd, func(e []string) bool { return e[2] == name })
		if !found {
			u = user{uid: uint32(uid), gid: uint32(uid)}
		}
	} else {
		u, found = lookupPasswd(passwd, func(e []string) bool { return e[0] == name })
		switch {
		case found:
		case name == "vcap":
			u = user{uid: vcapUID, gid: vcapGID, home: "/home/vcap"}
		default:
			return user{}, fmt.Errorf("user %q: no such user in the container's /etc/passwd", spec)
		}
	}
	if hasGroup {
		gid, err := strconv.ParseUint(group, 10, 32)
		if err != nil {
			g, ok := lookupGroup(read("/etc/group"), group)
			if !ok {
				return user{}, fmt.Errorf("user %q: no such group in the container's /etc/group", spec)
			}
			gid = uint64(g)
		}
		u.gid = uint32(gid)
	}
	if u.uid == 0 || u.gid == 0 {
		return user{}, fmt.Errorf("user %q (uid %d, gid %d): %w", spec, u.uid, u.gid, ErrRootUser)
	}
	return u, nil
}

// lookupPasswd returns the first passwd entry matching.
func lookupPasswd(data []byte, match func(fields []string) bool) (user, bool) {
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		f := strings.Split(s.Text(), ":")
		if len(f) < 7 || !match(f) {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return user{uid: uint32(uid), gid: uint32(gid), home: f[5]}, true
	}
	return user{}, false
}

func lookupGroup(data []byte, name string) (uint32, bool) {
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		f := strings.Split(s.Text(), ":")
		if len(f) < 3 || f[0] != name {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		return uint32(gid), true
	}
	return 0, false
}
