package web

import (
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
)

func TestParseLabelSelector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sel     string
		want    string // ops joined
		wantErr bool
	}{
		{sel: "env", want: "env exists"},
		{sel: "!env", want: "env !exists"},
		{sel: "env=prod", want: "env = prod"},
		{sel: "env==prod", want: "env = prod"},
		{sel: "env!=prod", want: "env != prod"},
		{sel: "env in (prod,staging),tier notin (db)", want: "env in prod|staging;tier notin db"},
		{sel: "example.com/team=a,!legacy", want: "example.com/team = a;legacy !exists"},
		{sel: "", wantErr: true},
		{sel: "env=", want: "env = "},
		{sel: "env in prod", wantErr: true},
		{sel: "env in (prod", wantErr: true},
		{sel: "a,", wantErr: true},
		{sel: "bad key=1", wantErr: true},
		{sel: "env=has space", wantErr: true},
		{sel: "cloudfoundry.org/x=1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			t.Parallel()
			reqs, err := parseLabelSelector(tt.sel)
			if tt.wantErr {
				if e, ok := apierr.As(err); !ok || e.Status != 400 {
					t.Fatalf("err = %v, want a 400", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, r := range reqs {
				s := r.Key + " " + r.Op
				if len(r.Values) > 0 {
					s += " " + strings.Join(r.Values, "|")
				}
				parts = append(parts, s)
			}
			if got := strings.Join(parts, ";"); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzLabelSelector(f *testing.F) {
	for _, s := range []string{"env=prod", "env in (a,b),!x", "a.b/c notin (d)", "((", "a=b,,c", "x!=", "k in ()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sel string) {
		where, args, err := labelSQL(sel)
		if err != nil {
			if e, ok := apierr.As(err); !ok || e.Status != 400 {
				t.Fatalf("err %v is not a 400", err)
			}
			return
		}
		if strings.Count(where, "?") != len(args) {
			t.Fatalf("%d placeholders for %d args in %q", strings.Count(where, "?"), len(args), where)
		}
	})
}
