package containerd

import (
	"errors"
	"testing"
)

func TestResolveUser(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nvcap:x:2000:2000:vcap:/home/vcap:/bin/sh\n" +
			"app:x:3000:3001::/srv/app:/bin/sh\ntoor:x:0:5::/root:/bin/sh\nbroken:x:abc:1::/:/bin/sh\n",
		"/etc/group": "root:x:0:\nvcap:x:2000:\nstaff:x:50:\n",
	}
	read := func(path string) []byte { return []byte(files[path]) }
	none := func(string) []byte { return nil }
	tests := []struct {
		spec     string
		read     func(string) []byte
		want     user
		wantErr  bool
		wantRoot bool
	}{
		{spec: "", read: read, want: user{2000, 2000, "/home/vcap"}},
		{spec: "vcap", read: read, want: user{2000, 2000, "/home/vcap"}},
		{spec: "vcap", read: none, want: user{2000, 2000, "/home/vcap"}},
		{spec: "app", read: read, want: user{3000, 3001, "/srv/app"}},
		{spec: "3000", read: read, want: user{3000, 3001, "/srv/app"}},
		{spec: "4242", read: read, want: user{4242, 4242, ""}},
		{spec: "4242:7", read: none, want: user{4242, 7, ""}},
		{spec: "vcap:staff", read: read, want: user{2000, 50, "/home/vcap"}},
		{spec: "app:2000", read: read, want: user{3000, 2000, "/srv/app"}},
		{spec: "root", read: read, wantErr: true, wantRoot: true},
		{spec: "0", read: none, wantErr: true, wantRoot: true},
		{spec: "0:2000", read: read, wantErr: true, wantRoot: true},
		{spec: "toor", read: read, wantErr: true, wantRoot: true},
		{spec: "vcap:0", read: read, wantErr: true, wantRoot: true},
		{spec: "vcap:root", read: read, wantErr: true, wantRoot: true},
		{spec: ":2000", read: read, wantErr: true, wantRoot: true},
		{spec: "nobody", read: read, wantErr: true},
		{spec: "vcap:nogroup", read: read, wantErr: true},
		{spec: "broken", read: read, wantErr: true},
	}
	for _, tt := range tests {
		got, err := resolveUser(tt.spec, tt.read)
		if (err != nil) != tt.wantErr || errors.Is(err, ErrRootUser) != tt.wantRoot {
			t.Errorf("resolveUser(%q) error %v, want error %v (root %v)", tt.spec, err, tt.wantErr, tt.wantRoot)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("resolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
		}
	}
}
