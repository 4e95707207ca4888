package scimfilter

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var testAttrs = map[string]Column{
	"userName":       {SQL: "u.username", Type: String},
	"id":             {SQL: "u.id", Type: CaseExactString},
	"active":         {SQL: "u.active", Type: Bool},
	"meta.created":   {SQL: "u.created", Type: Time},
	"meta.version":   {SQL: "u.version", Type: Int},
	"groups.display": {SQL: "g.display_name", Type: String, Exists: "SELECT 1 FROM members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id"},
}

func TestToSQL(t *testing.T) {
	t.Parallel()
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		filter    string
		wantWhere string
		wantArgs  []any
	}{
		// Case-insensitive strings.
		{`userName eq "Bob"`, `lower(u.username) = lower($3::text)`, []any{"Bob"}},
		{`USERNAME ne "bob"`, `lower(u.username) IS DISTINCT FROM lower($3::text)`, []any{"bob"}},
		{`userName co "a%b_c!d"`, `lower(u.username) LIKE lower($3::text) ESCAPE '!'`, []any{"%a!%b!_c!!d%"}},
		{`userName sw "cloud_controller."`, `lower(u.username) LIKE lower($3::text) ESCAPE '!'`, []any{"cloud!_controller.%"}},
		{`userName ew "@example.com"`, `lower(u.username) LIKE lower($3::text) ESCAPE '!'`, []any{"%@example.com"}},
		{`userName gt "m"`, `lower(u.username) > lower($3::text)`, []any{"m"}},
		{`userName ge "m"`, `lower(u.username) >= lower($3::text)`, []any{"m"}},
		{`userName lt "m"`, `lower(u.username) < lower($3::text)`, []any{"m"}},
		{`userName le "m"`, `lower(u.username) <= lower($3::text)`, []any{"m"}},
		{`userName pr`, `(u.username IS NOT NULL AND u.username <> '')`, nil},
		{`userName eq null`, `(u.username IS NULL OR u.username = '')`, nil},
		{`userName ne null`, `(u.username IS NOT NULL AND u.username <> '')`, nil},
		// Case-exact strings.
		{`id eq "AbC"`, `u.id = $3::text`, []any{"AbC"}},
		{`id ne "AbC"`, `u.id IS DISTINCT FROM $3::text`, []any{"AbC"}},
		{`id co "b"`, `u.id LIKE $3::text ESCAPE '!'`, []any{"%b%"}},
		{`id sw "a"`, `u.id LIKE $3::text ESCAPE '!'`, []any{"a%"}},
		{`id ew "c"`, `u.id LIKE $3::text ESCAPE '!'`, []any{"%c"}},
		{`id gt "a"`, `u.id > $3::text`, []any{"a"}},
		{`id pr`, `(u.id IS NOT NULL AND u.id <> '')`, nil},
		// Booleans.
		{`active eq true`, `u.active = $3::boolean`, []any{true}},
		{`active ne false`, `u.active IS DISTINCT FROM $3::boolean`, []any{false}},
		{`active pr`, `u.active IS NOT NULL`, nil},
		{`active eq null`, `u.active IS NULL`, nil},
		// Times.
		{`meta.created eq "2026-01-01T00:00:00Z"`, `u.created = $3::timestamptz`, []any{jan}},
		{`meta.created ne "2026-01-01T00:00:00Z"`, `u.created IS DISTINCT FROM $3::timestamptz`, []any{jan}},
		{`meta.created gt "2026-01-01T00:00:00.000Z"`, `u.created > $3::timestamptz`, []any{jan}},
		{`meta.created ge "2026-01-01"`, `u.created >= $3::timestamptz`, []any{jan}},
		{`meta.created lt "2026-01-01T00:00:00.5Z"`, `u.created < $3::timestamptz`, []any{jan.Add(500 * time.Millisecond)}},
		{`meta.created le "2026-01-01T00:00:00Z"`, `u.created <= $3::timestamptz`, []any{jan}},
		{`meta.created pr`, `u.created IS NOT NULL`, nil},
		// Integers.
		{`meta.version eq 3`, `u.version = $3::bigint`, []any{int64(3)}},
		{`meta.version gt "3"`, `u.version > $3::bigint`, []any{int64(3)}},
		{`meta.version le -2`, `u.version <= $3::bigint`, []any{int64(-2)}},
		// Multi-valued.
		{`groups.display eq "admin"`, `EXISTS (SELECT 1 FROM members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id AND lower(g.display_name) = lower($3::text))`, []any{"admin"}},
		{`groups.display pr`, `EXISTS (SELECT 1 FROM members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id AND (g.display_name IS NOT NULL AND g.display_name <> ''))`, nil},
		// Schema URN prefix.
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `lower(u.username) = lower($3::text)`, []any{"x"}},
		// Logic: placeholders are numbered left to right.
		{`userName eq "a" and id eq "b" or active eq true`, `((lower(u.username) = lower($3::text) AND u.id = $4::text) OR u.active = $5::boolean)`, []any{"a", "b", true}},
		{`not (userName eq "a" or id pr)`, `NOT COALESCE((lower(u.username) = lower($3::text) OR (u.id IS NOT NULL AND u.id <> '')), false)`, []any{"a"}},
		// Injection attempts stay in args.
		{`userName eq "'; DROP TABLE users; --"`, `lower(u.username) = lower($3::text)`, []any{"'; DROP TABLE users; --"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			where, args, err := ToSQL(e, testAttrs, 3)
			if err != nil {
				t.Fatalf("ToSQL: %v", err)
			}
			if where != tt.wantWhere {
				t.Errorf("where = %s\nwant    %s", where, tt.wantWhere)
			}
			if !reflect.DeepEqual(args, tt.wantArgs) {
				t.Errorf("args = %#v, want %#v", args, tt.wantArgs)
			}
		})
	}
}

func TestToSQLNil(t *testing.T) {
	t.Parallel()
	where, args, err := ToSQL(nil, testAttrs, 1)
	if where != "TRUE" || args != nil || err != nil {
		t.Errorf("ToSQL(nil) = %q, %v, %v; want TRUE", where, args, err)
	}
}

func TestToSQLFirstArg(t *testing.T) {
	t.Parallel()
	e, err := Parse(`id eq "x"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, first := range []int{-1, 0, 1} {
		if where, _, _ := ToSQL(e, testAttrs, first); where != `u.id = $1::text` {
			t.Errorf("firstArg %d: where = %s", first, where)
		}
	}
}

func TestToSQLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ filter, want string }{
		{`nope eq "x"`, `filter: unknown attribute "nope"`},
		{`userName.x eq "x"`, `filter: unknown attribute "userName.x"`},
		{`urn:x:nope eq "x"`, `filter: unknown attribute "urn:x:nope"`},
		{`userName eq "a" and nope pr`, `filter: unknown attribute "nope"`},
		{`userName eq 5`, `filter: userName eq: want a string value, got 5`},
		{`userName eq true`, `filter: userName eq: want a string value, got true`},
		{`userName gt null`, `filter: userName gt: null can only be compared with eq or ne`},
		{`id co null`, `filter: id co: null can only be compared with eq or ne`},
		{`active eq "true"`, `filter: active eq: want true or false, got "true"`},
		{`active eq 1`, `filter: active eq: want true or false, got 1`},
		{`active gt true`, `filter: active gt: booleans take only eq, ne and pr`},
		{`active co true`, `filter: active co: booleans take only eq, ne and pr`},
		{`meta.created gt "yesterday"`, `filter: meta.created gt: want a time such as "2026-01-01T00:00:00Z", got "yesterday"`},
		{`meta.created gt 1700000000`, `filter: meta.created gt: want a time such as "2026-01-01T00:00:00Z", got 1700000000`},
		{`meta.created co "2026"`, `filter: meta.created co: times take only eq, ne, gt, ge, lt, le and pr`},
		{`meta.version eq 1.5`, `filter: meta.version eq: want an integer, got 1.5`},
		{`meta.version eq "x"`, `filter: meta.version eq: want an integer, got "x"`},
		{`meta.version eq 99999999999999999999`, `filter: meta.version eq: want an integer, got 99999999999999999999`},
		{`meta.version sw 1`, `filter: meta.version sw: integers take only eq, ne, gt, ge, lt, le and pr`},
		{`meta.version eq true`, `filter: meta.version eq: want an integer, got true`},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			where, args, err := ToSQL(e, testAttrs, 1)
			if err == nil {
				t.Fatalf("ToSQL succeeded: %s %v", where, args)
			}
			if !errors.Is(err, ErrInvalidFilter) {
				t.Errorf("error %v does not match ErrInvalidFilter", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %s\nwant    %s", err, tt.want)
			}
		})
	}
}

func TestToSQLUnknownColumnType(t *testing.T) {
	t.Parallel()
	e, _ := Parse(`x eq 1`)
	if _, _, err := ToSQL(e, map[string]Column{"x": {SQL: "x"}}, 1); !errors.Is(err, ErrInvalidFilter) {
		t.Errorf("err = %v, want ErrInvalidFilter", err)
	}
}
