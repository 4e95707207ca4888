package scimfilter

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// sexpr renders e fully parenthesised, so tests can see its structure.
func sexpr(e Expr) string {
	switch e := e.(type) {
	case *And:
		return "(and " + sexpr(e.Left) + " " + sexpr(e.Right) + ")"
	case *Or:
		return "(or " + sexpr(e.Left) + " " + sexpr(e.Right) + ")"
	case *Not:
		return "(not " + sexpr(e.X) + ")"
	case *Compare:
		if e.Op == OpPr {
			return "[" + e.Attr + " pr]"
		}
		return fmt.Sprintf("[%s %s %s]", e.Attr, e.Op, e.Value)
	}
	return fmt.Sprintf("?%T", e)
}

func TestParseStructure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{`userName eq "bob"`, `[userName eq "bob"]`},
		{`userName eq "bob" and origin eq "uaa"`, `(and [userName eq "bob"] [origin eq "uaa"])`},
		{`id eq "x" or id eq "y"`, `(or [id eq "x"] [id eq "y"])`},
		{`displayName sw "cloud_controller."`, `[displayName sw "cloud_controller."]`},
		{`emails.value co "@example.com"`, `[emails.value co "@example.com"]`},
		{`active eq true`, `[active eq true]`},
		{`active eq FALSE`, `[active eq false]`},
		{`name pr`, `[name pr]`},
		{`meta.lastModified gt "2026-01-01T00:00:00Z"`, `[meta.lastModified gt "2026-01-01T00:00:00Z"]`},
		{`not (origin eq "ldap")`, `(not [origin eq "ldap"])`},
		{`not(origin eq "ldap")`, `(not [origin eq "ldap"])`},
		{`meta.version ge -1.5e+3`, `[meta.version ge -1.5e+3]`},
		{`x eq 0`, `[x eq 0]`},
		{`x eq null`, `[x eq null]`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`, `[urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"]`},
		// Precedence: not > and > or; both binary operators are left-associative.
		{`a eq 1 or b eq 2 and c eq 3`, `(or [a eq 1] (and [b eq 2] [c eq 3]))`},
		{`a eq 1 and b eq 2 or c eq 3`, `(or (and [a eq 1] [b eq 2]) [c eq 3])`},
		{`(a eq 1 or b eq 2) and c eq 3`, `(and (or [a eq 1] [b eq 2]) [c eq 3])`},
		{`a eq 1 and b eq 2 and c eq 3`, `(and (and [a eq 1] [b eq 2]) [c eq 3])`},
		{`a eq 1 or b eq 2 or c eq 3`, `(or (or [a eq 1] [b eq 2]) [c eq 3])`},
		{`a eq 1 and (b eq 2 and c eq 3)`, `(and [a eq 1] (and [b eq 2] [c eq 3]))`},
		{`not (a eq 1) and b eq 2`, `(and (not [a eq 1]) [b eq 2])`},
		{`not (a eq 1 or b eq 2) or not (c pr)`, `(or (not (or [a eq 1] [b eq 2])) (not [c pr]))`},
		{`((((a eq 1))))`, `[a eq 1]`},
		// Case-insensitive keywords and operators; names kept as written.
		{`UserName EQ "Bob" AND Origin Eq "uaa" Or NOT (x PR)`, `(or (and [UserName eq "Bob"] [Origin eq "uaa"]) (not [x pr]))`},
		// Whitespace of any kind, and none around parentheses and strings.
		{"\ta eq \"x\"\n\r and\tb eq 1 ", `(and [a eq "x"] [b eq 1])`},
		{`(a eq "x")or(b eq "y")`, `(or [a eq "x"] [b eq "y"])`},
		// An attribute may be called like a keyword.
		{`not eq "x"`, `[not eq "x"]`},
		{`and eq 1 and or eq 2`, `(and [and eq 1] [or eq 2])`},
		// String escapes.
		{`a eq "q\"b\\s\/\u00e9\n"`, `[a eq "q\"b\\s/é\n"]`},
		{`a eq "\ud83d\ude00"`, `[a eq "😀"]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := sexpr(e); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			again, err := Parse(e.String())
			if err != nil {
				t.Fatalf("Parse(%q): %v", e.String(), err)
			}
			if !reflect.DeepEqual(again, e) {
				t.Errorf("String() = %q does not parse back to the same tree: %s", e.String(), sexpr(again))
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Value
	}{
		{`a eq "bob"`, Value{Kind: KindString, Str: "bob"}},
		{`a eq ""`, Value{Kind: KindString, Str: ""}},
		{`a eq "tab\there"`, Value{Kind: KindString, Str: "tab\there"}},
		{`a eq 42`, Value{Kind: KindNumber, Num: "42"}},
		{`a eq -0.5E-2`, Value{Kind: KindNumber, Num: "-0.5E-2"}},
		{`a eq true`, Value{Kind: KindBool, Bool: true}},
		{`a eq False`, Value{Kind: KindBool}},
		{`a eq NULL`, Value{Kind: KindNull}},
		{`a pr`, Value{}},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := e.(*Compare).Value; got != tt.want {
			t.Errorf("Parse(%q) value = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", MaxDepth+1) + `a eq 1` + strings.Repeat(")", MaxDepth+1)
	deepOK := strings.Repeat("(", MaxDepth) + `a eq 1` + strings.Repeat(")", MaxDepth)
	many := strings.Repeat(`a eq 1 or `, MaxComparisons) + `a eq 1`
	tests := []struct {
		in      string
		wantMsg string
		wantPos int
	}{
		{``, `filter: empty filter`, 0},
		{`   `, `filter: empty filter`, 0},
		{`userName bob`, `filter: expected operator at position 9, found "bob"`, 9},
		{`userName "bob"`, `filter: expected operator at position 9, found string "bob"`, 9},
		{`userName eq`, `filter: expected value (string, number, true, false or null) at position 11, found end of input`, 11},
		{`userName eq bob`, `filter: expected value (string, number, true, false or null) at position 12, found "bob"`, 12},
		{`userName eq "bob" origin eq "uaa"`, `filter: expected "and", "or" or end of input at position 18, found "origin"`, 18},
		{`userName eq "bob" and`, `filter: expected attribute name, "not" or "(" at position 21, found end of input`, 21},
		{`(userName eq "bob"`, `filter: expected ")" at position 18, found end of input`, 18},
		{`userName eq "bob")`, `filter: expected "and", "or" or end of input at position 17, found ")"`, 17},
		{`()`, `filter: expected attribute name, "not" or "(" at position 1, found ")"`, 1},
		{`not userName eq "x"`, `filter: expected "(" after "not" at position 4, found "userName"`, 4},
		{`not`, `filter: expected "(" after "not" at position 3, found end of input`, 3},
		{`eq "x"`, `filter: expected operator at position 3, found string "x"`, 3},
		{`"x" eq a`, `filter: expected attribute name, "not" or "(" at position 0, found string "x"`, 0},
		{`a eq "unterminated`, `filter: unterminated string starting at position 5`, 5},
		{`a eq "bad \x escape"`, `filter: invalid string at position 5: invalid character 'x' in string escape code`, 5},
		{"a eq \"raw\ttab\"", `filter: invalid string at position 5: invalid character '\t' in string literal`, 5},
		{`a eq "nul\u0000"`, `filter: string at position 5 contains a NUL character`, 5},
		{`a eq 012`, `filter: invalid number at position 5`, 5},
		{`a eq 1.`, `filter: invalid number at position 5`, 5},
		{`a eq 1e`, `filter: invalid number at position 5`, 5},
		{`a eq -`, `filter: invalid number at position 5`, 5},
		{`a eq 12abc`, `filter: invalid number at position 5`, 5},
		{`a eq 'bob'`, `filter: unexpected character '\'' at position 5`, 5},
		{`a eq "x" && b pr`, `filter: unexpected character '&' at position 9`, 9},
		{`emails[type eq "work"]`, `filter: complex attribute filters ('[') are not supported, at position 6`, 6},
		{`a..b pr`, `filter: invalid attribute name "a..b" at position 0`, 0},
		{`a. pr`, `filter: invalid attribute name "a." at position 0`, 0},
		{`a eq "` + strings.Repeat("x", 40) + `" b`, `filter: expected "and", "or" or end of input at position 48, found "b"`, 48},
		{`a eq 1 ` + strings.Repeat("z", 40), `filter: expected "and", "or" or end of input at position 7, found "` + strings.Repeat("z", 32) + `…"`, 7},
		{strings.Repeat(" ", MaxLength+1), `filter: filter is 4097 bytes long, more than the limit of 4096`, -1},
		{deep, `filter: parentheses nest deeper than 32 levels at position 32`, 32},
		{`not ` + deep, `filter: parentheses nest deeper than 32 levels at position 36`, 36},
		{many, `filter: more than 100 comparisons, at position 1000`, 1000},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse succeeded: %s", sexpr(e))
			}
			if !errors.Is(err, ErrInvalidFilter) {
				t.Errorf("error %v does not match ErrInvalidFilter", err)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not *Error", err)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %s\nwant    %s", err, tt.wantMsg)
			}
			if fe.Pos != tt.wantPos {
				t.Errorf("Pos = %d, want %d", fe.Pos, tt.wantPos)
			}
		})
	}
	for _, ok := range []string{deepOK, strings.Repeat(`a eq 1 or `, MaxComparisons-1) + `a eq 1`} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse at the limit: %v", err)
		}
	}
}

func TestStringCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`  A  EQ  "x"  `, `A eq "x"`},
		{`(a eq 1) AND ((b eq 2))`, `a eq 1 and b eq 2`},
		{`a eq 1 and (b eq 2 or c eq 3)`, `a eq 1 and (b eq 2 or c eq 3)`},
		{`(a eq 1 or b eq 2) or c eq 3`, `a eq 1 or b eq 2 or c eq 3`},
		{`a eq 1 or (b eq 2 or c eq 3)`, `a eq 1 or (b eq 2 or c eq 3)`},
		{`NOT(a pr)`, `not (a pr)`},
		{`a eq "<&>\u0041"`, `a eq "<&>A"`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
