package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/uaa/internal/scimfilter"
	"github.com/anvilpaas/anvil/uaa/internal/store"
)

func TestListUsers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	users := map[string]store.User{}
	for _, u := range []store.User{
		{Username: "alice", Email: "alice@example.com", GivenName: "Alice", FamilyName: "Anders", Active: true, Verified: true},
		{Username: "bob", Email: "bob@corp.test", GivenName: "Bob"},
		{Username: "Carol", Origin: "ldap", Email: "carol@example.com", Active: true},
		{Username: "dave", Active: true},
		{Username: "eve_1", Email: "eve%1@example.com", Active: true},
		{Username: "frank", Email: "frank@example.com", Active: true},
	} {
		created, err := s.CreateUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		users[u.Username] = created
	}
	mkGroup(t, s, "cloud_controller.admin", users["alice"], users["Carol"])
	mkGroup(t, s, "uaa.user", users["alice"], users["bob"], users["dave"])
	all := []string{"alice", "bob", "Carol", "dave", "eve_1", "frank"}
	carolCreated := users["Carol"].Created.Format(time.RFC3339Nano)

	tests := []struct {
		name      string
		filter    string
		opts      store.ListOptions
		want      []string
		wantTotal int
	}{
		{name: "everything", want: all, wantTotal: 6},
		{name: "eq ignores case", filter: `userName eq "ALICE"`, want: []string{"alice"}, wantTotal: 1},
		{name: "and", filter: `userName eq "bob" and origin eq "uaa"`, want: []string{"bob"}, wantTotal: 1},
		{name: "ids", filter: `id eq "` + users["alice"].ID + `" or id eq "` + users["bob"].ID + `"`, want: []string{"alice", "bob"}, wantTotal: 2},
		{name: "id is case-exact", filter: `id eq "` + strings.ToUpper(users["alice"].ID) + `"`, want: []string{}, wantTotal: 0},
		{name: "co", filter: `emails.value co "@EXAMPLE.com"`, want: []string{"alice", "Carol", "eve_1", "frank"}, wantTotal: 4},
		{name: "ew", filter: `email ew "corp.test"`, want: []string{"bob"}, wantTotal: 1},
		{name: "sw", filter: `userName sw "E"`, want: []string{"eve_1"}, wantTotal: 1},
		{name: "percent is literal", filter: `email co "%"`, want: []string{"eve_1"}, wantTotal: 1},
		{name: "underscore is literal", filter: `userName co "_"`, want: []string{"eve_1"}, wantTotal: 1},
		{name: "ne", filter: `origin ne "uaa"`, want: []string{"Carol"}, wantTotal: 1},
		{name: "bool", filter: `active eq false`, want: []string{"bob"}, wantTotal: 1},
		{name: "bool ne", filter: `verified ne false`, want: []string{"alice"}, wantTotal: 1},
		{name: "not", filter: `not (origin eq "uaa")`, want: []string{"Carol"}, wantTotal: 1},
		{name: "pr", filter: `name.familyName pr`, want: []string{"alice"}, wantTotal: 1},
		{name: "name pr", filter: `name pr`, want: []string{"alice", "bob"}, wantTotal: 2},
		{name: "empty is not present", filter: `email pr`, want: []string{"alice", "bob", "Carol", "eve_1", "frank"}, wantTotal: 5},
		{name: "eq null", filter: `email eq null`, want: []string{"dave"}, wantTotal: 1},
		{name: "group", filter: `groups.display eq "UAA.USER"`, want: []string{"alice", "bob", "dave"}, wantTotal: 3},
		{name: "group prefix and active", filter: `groups.display sw "cloud_controller." and active eq true`, want: []string{"alice", "Carol"}, wantTotal: 2},
		{name: "not in group", filter: `not (groups.display eq "uaa.user")`, want: []string{"Carol", "eve_1", "frank"}, wantTotal: 3},
		{name: "created gt", filter: `meta.created gt "` + carolCreated + `"`, want: []string{"dave", "eve_1", "frank"}, wantTotal: 3},
		{name: "created ge", filter: `meta.created ge "` + carolCreated + `"`, want: []string{"Carol", "dave", "eve_1", "frank"}, wantTotal: 4},
		{name: "created lt", filter: `meta.created lt "` + carolCreated + `"`, want: []string{"alice", "bob"}, wantTotal: 2},
		{name: "lastModified le", filter: `meta.lastModified le "2000-01-01T00:00:00Z"`, want: []string{}, wantTotal: 0},
		{name: "version", filter: `meta.version eq 0`, want: all, wantTotal: 6},
		{name: "zone", filter: `zoneId eq "uaa" and userName eq "dave"`, want: []string{"dave"}, wantTotal: 1},
		{name: "precedence", filter: `userName eq "bob" or userName eq "dave" and active eq false`, want: []string{"bob"}, wantTotal: 1},
		{name: "string gt", filter: `userName gt "carol"`, want: []string{"dave", "eve_1", "frank"}, wantTotal: 3},

		{name: "sort by userName", opts: store.ListOptions{SortBy: "userName"}, want: []string{"alice", "bob", "Carol", "dave", "eve_1", "frank"}, wantTotal: 6},
		{name: "sort by userName descending", opts: store.ListOptions{SortBy: "USERNAME", Descending: true}, want: []string{"frank", "eve_1", "dave", "Carol", "bob", "alice"}, wantTotal: 6},
		{name: "sort by urn", opts: store.ListOptions{SortBy: "urn:ietf:params:scim:schemas:core:2.0:User:emails.value"}, want: []string{"dave", "alice", "bob", "Carol", "eve_1", "frank"}, wantTotal: 6},
		{name: "sort by created descending", opts: store.ListOptions{Descending: true}, want: []string{"frank", "eve_1", "dave", "Carol", "bob", "alice"}, wantTotal: 6},
		{name: "sort ties by creation", opts: store.ListOptions{SortBy: "active"}, want: []string{"bob", "alice", "Carol", "dave", "eve_1", "frank"}, wantTotal: 6},

		{name: "page", opts: store.ListOptions{SortBy: "userName", StartIndex: 2, Count: 2}, want: []string{"bob", "Carol"}, wantTotal: 6},
		{name: "last page", opts: store.ListOptions{SortBy: "userName", StartIndex: 5, Count: 10}, want: []string{"eve_1", "frank"}, wantTotal: 6},
		{name: "past the end", opts: store.ListOptions{StartIndex: 10, Count: 5}, want: []string{}, wantTotal: 6},
		{name: "start index 0 is 1", opts: store.ListOptions{StartIndex: 0, Count: 1}, want: []string{"alice"}, wantTotal: 6},
		{name: "filtered page", filter: `origin eq "uaa"`, opts: store.ListOptions{SortBy: "userName", StartIndex: 2, Count: 2}, want: []string{"bob", "dave"}, wantTotal: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			if opts.Count == 0 {
				opts.Count = -1 // no limit; count 0 is tested below
			}
			if tt.filter != "" {
				e, err := scimfilter.Parse(tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				opts.Filter = e
			}
			got, total, err := s.ListUsers(t.Context(), opts)
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			names := []string{}
			for _, u := range got {
				names = append(names, u.Username)
			}
			if !reflect.DeepEqual(names, tt.want) || total != tt.wantTotal {
				t.Errorf("got %v (total %d), want %v (total %d)", names, total, tt.want, tt.wantTotal)
			}
		})
	}

	t.Run("count 0 gives only the total", func(t *testing.T) {
		t.Parallel()
		e, _ := scimfilter.Parse(`origin eq "uaa"`)
		got, total, err := s.ListUsers(t.Context(), store.ListOptions{Filter: e})
		if err != nil || len(got) != 0 || total != 5 {
			t.Errorf("ListUsers(count 0) = %d users, total %d, %v; want none, total 5", len(got), total, err)
		}
	})

	t.Run("groups are filled", func(t *testing.T) {
		t.Parallel()
		e, _ := scimfilter.Parse(`userName eq "alice" or userName eq "eve_1"`)
		got, _, err := s.ListUsers(t.Context(), store.ListOptions{Filter: e, Count: -1})
		if err != nil || len(got) != 2 {
			t.Fatalf("ListUsers = %d users, %v", len(got), err)
		}
		var names []string
		for _, g := range got[0].Groups {
			names = append(names, g.Display)
		}
		if !reflect.DeepEqual(names, []string{"cloud_controller.admin", "uaa.user"}) {
			t.Errorf("alice's groups = %v", names)
		}
		if got[1].Groups == nil || len(got[1].Groups) != 0 {
			t.Errorf("eve's groups = %#v, want empty", got[1].Groups)
		}
		if !reflect.DeepEqual(got[0], mustGetUser(t, s, users["alice"].ID)) {
			t.Errorf("listed user differs from GetUser")
		}
	})

	errTests := []struct {
		name   string
		filter string
		opts   store.ListOptions
		want   error
	}{
		{name: "unknown attribute", filter: `password eq "x"`, want: scimfilter.ErrInvalidFilter},
		{name: "bad time", filter: `meta.created gt "yesterday"`, want: scimfilter.ErrInvalidFilter},
		{name: "bad sort", opts: store.ListOptions{SortBy: "password"}, want: store.ErrInvalid},
		{name: "multi-valued sort", opts: store.ListOptions{SortBy: "groups.display"}, want: store.ErrInvalid},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			if tt.filter != "" {
				opts.Filter, _ = scimfilter.Parse(tt.filter)
			}
			if _, _, err := s.ListUsers(t.Context(), opts); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func mustGetUser(t *testing.T, s *store.Store, id string) store.User {
	t.Helper()
	u, err := s.GetUser(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestListGroups(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	for _, g := range []struct {
		name    string
		members []store.User
	}{
		{"uaa.user", []store.User{alice, bob}},
		{"cloud_controller.admin", []store.User{alice}},
		{"cloud_controller.read", nil},
		{"Scim.Read", []store.User{bob}},
	} {
		mkGroup(t, s, g.name, g.members...)
	}
	if _, err := s.EnsureGroup(ctx, "openid", "OpenID Connect"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		filter    string
		opts      store.ListOptions
		want      []string
		wantTotal int
	}{
		{name: "everything", want: []string{"uaa.user", "cloud_controller.admin", "cloud_controller.read", "Scim.Read", "openid"}, wantTotal: 5},
		{name: "sw", filter: `displayName sw "cloud_controller."`, want: []string{"cloud_controller.admin", "cloud_controller.read"}, wantTotal: 2},
		{name: "eq ignores case", filter: `DISPLAYNAME eq "scim.read"`, want: []string{"Scim.Read"}, wantTotal: 1},
		{name: "member", filter: `members.value eq "` + bob.ID + `"`, want: []string{"uaa.user", "Scim.Read"}, wantTotal: 2},
		{name: "description", filter: `description co "connect"`, want: []string{"openid"}, wantTotal: 1},
		{name: "no members", filter: `not (members.value pr)`, want: []string{"cloud_controller.read", "openid"}, wantTotal: 2},
		{name: "sorted page", opts: store.ListOptions{SortBy: "displayName", StartIndex: 2, Count: 2}, want: []string{"cloud_controller.read", "openid"}, wantTotal: 5},
		{name: "sorted descending", opts: store.ListOptions{SortBy: "displayname", Descending: true, Count: 2}, want: []string{"uaa.user", "Scim.Read"}, wantTotal: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			if opts.Count == 0 {
				opts.Count = -1 // no limit
			}
			if tt.filter != "" {
				e, err := scimfilter.Parse(tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				opts.Filter = e
			}
			got, total, err := s.ListGroups(t.Context(), opts)
			if err != nil {
				t.Fatalf("ListGroups: %v", err)
			}
			names := []string{}
			for _, g := range got {
				names = append(names, g.DisplayName)
			}
			if !reflect.DeepEqual(names, tt.want) || total != tt.wantTotal {
				t.Errorf("got %v (total %d), want %v (total %d)", names, total, tt.want, tt.wantTotal)
			}
		})
	}

	t.Run("members are filled", func(t *testing.T) {
		t.Parallel()
		got, _, err := s.ListGroups(t.Context(), store.ListOptions{Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Member{{ID: alice.ID, Type: "USER", Origin: "uaa"}, {ID: bob.ID, Type: "USER", Origin: "uaa"}}
		if len(got) != 1 || !reflect.DeepEqual(got[0].Members, want) {
			t.Errorf("members = %+v, want %+v", got, want)
		}
	})
	t.Run("bad filter", func(t *testing.T) {
		t.Parallel()
		e, _ := scimfilter.Parse(`userName eq "x"`)
		if _, _, err := s.ListGroups(t.Context(), store.ListOptions{Filter: e}); !errors.Is(err, scimfilter.ErrInvalidFilter) {
			t.Errorf("err = %v, want ErrInvalidFilter", err)
		}
	})
}
