package procfile

import (
	"errors"
	"maps"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  bool
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "web and worker", in: "web: ./server -p $PORT\nworker: bundle exec sidekiq\n",
			want: map[string]string{"web": "./server -p $PORT", "worker": "bundle exec sidekiq"}},
		{name: "number command", in: "web: 42", want: map[string]string{"web": "42"}},
		{name: "null command dropped", in: "web:\nworker: w", want: map[string]string{"worker": "w"}},
		{name: "quoted colon", in: `web: "java -Da=b: c"`, want: map[string]string{"web": "java -Da=b: c"}},
		{name: "list", in: "- web", err: true},
		{name: "nested", in: "web:\n  cmd: x", err: true},
		{name: "bad yaml", in: "web: a: b", err: true},
		{name: "scalar", in: "hello", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tc.in))
			if tc.err {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse(%q) error = %v, want ErrInvalid", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("web: ./app\nworker: ./w\n"))
	f.Add([]byte("web:\n"))
	f.Add([]byte("- a\n- b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		procs, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for k, v := range procs {
			if k == "" || v == "" {
				t.Fatalf("empty entry %q: %q", k, v)
			}
		}
	})
}
