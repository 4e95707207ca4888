package scimfilter

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"testing"
)

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// FuzzParse checks that Parse and ToSQL never panic, that every error
// matches ErrInvalidFilter, that String round-trips, and that ToSQL's
// placeholders are exactly $first…$first+len(args)-1, in order.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`userName eq "bob" and origin eq "uaa"`,
		`id eq "x" or id eq "y"`,
		`displayName sw "cloud_controller."`,
		`emails.value co "@example.com"`,
		`active eq true`,
		`meta.lastModified gt "2026-01-01T00:00:00Z"`,
		`name pr`,
		`not (origin eq "ldap")`,
		`(userName eq "a" or id ne "b") and not (active eq false)`,
		`meta.version ge -1.5e3 or meta.version lt 7`,
		`groups.display ew "admin" and userName eq null`,
		`a eq "esc\"aped \\ \u00e9 \ud83d\ude00"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`,
		`userName co "100%_!"`,
		`userName bob`,
		`((((id pr))))`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("Parse(%q) error %v does not match ErrInvalidFilter", s, err)
			}
			return
		}
		if canon := e.String(); len(canon) <= MaxLength {
			again, err := Parse(canon)
			if err != nil {
				t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, canon, err)
			}
			if !reflect.DeepEqual(again, e) {
				t.Fatalf("Parse(%q).String() = %q parses to a different tree", s, canon)
			}
		}
		const first = 4
		where, args, err := ToSQL(e, testAttrs, first)
		if err != nil {
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("ToSQL(%q) error %v does not match ErrInvalidFilter", s, err)
			}
			return
		}
		found := placeholder.FindAllStringSubmatch(where, -1)
		if len(found) != len(args) {
			t.Fatalf("ToSQL(%q) = %s with %d placeholders but %d args", s, where, len(found), len(args))
		}
		for i, m := range found {
			if n, _ := strconv.Atoi(m[1]); n != first+i {
				t.Fatalf("ToSQL(%q) = %s: placeholder %d is $%d, want $%d", s, where, i, n, first+i)
			}
		}
	})
}
