package store_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

func TestGroupCRUD(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	ldap, err := s.CreateUser(ctx, store.User{Username: "lee", Origin: "ldap"})
	if err != nil {
		t.Fatal(err)
	}

	g, err := s.CreateGroup(ctx, store.Group{DisplayName: "Admins", Description: "the admins",
		Members: []store.Member{{ID: alice.ID, Type: "USER"}, {ID: ldap.ID}, {ID: alice.ID}}})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	wantMembers := []store.Member{{ID: alice.ID, Type: "USER", Origin: "uaa"}, {ID: ldap.ID, Type: "USER", Origin: "ldap"}}
	if len(g.ID) != 36 || g.Version != 0 || g.Created.IsZero() || g.LastModified != g.Created || !reflect.DeepEqual(g.Members, wantMembers) {
		t.Errorf("created group = %+v", g)
	}
	if got, err := s.GetGroup(ctx, g.ID); err != nil || !reflect.DeepEqual(got, g) {
		t.Errorf("GetGroup = %+v, %v\nwant %+v", got, err, g)
	}
	if got, err := s.GetGroupByName(ctx, "ADMINS"); err != nil || got.ID != g.ID {
		t.Errorf("GetGroupByName = %v, %v", got.ID, err)
	}
	if got := mustGetUser(t, s, alice.ID).Groups; !reflect.DeepEqual(got, []store.GroupRef{{ID: g.ID, Display: "Admins"}}) {
		t.Errorf("alice's groups = %+v", got)
	}

	createErrs := []struct {
		name  string
		group store.Group
		want  error
	}{
		{"name taken", store.Group{DisplayName: "admins"}, store.ErrConflict},
		{"empty name", store.Group{}, store.ErrInvalid},
		{"long name", store.Group{DisplayName: strings.Repeat("g", 256)}, store.ErrInvalid},
		{"missing member", store.Group{DisplayName: "x", Members: []store.Member{{ID: "nope"}}}, store.ErrNotFound},
		{"nested group", store.Group{DisplayName: "y", Members: []store.Member{{ID: g.ID, Type: "GROUP"}}}, store.ErrInvalid},
	}
	for _, tt := range createErrs {
		if _, err := s.CreateGroup(ctx, tt.group); !errors.Is(err, tt.want) {
			t.Errorf("CreateGroup %s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := s.GetGroupByName(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed CreateGroup left its group behind: %v", err)
	}

	// Update without members keeps them.
	g.DisplayName, g.Description, g.Members = "Admins2", "renamed", nil
	g, err = s.UpdateGroup(ctx, g, 0)
	if err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	if g.Version != 1 || g.DisplayName != "Admins2" || g.Description != "renamed" || !reflect.DeepEqual(g.Members, wantMembers) {
		t.Errorf("updated group = %+v", g)
	}
	// Update with members replaces them; members who stay keep their place.
	g.Members = []store.Member{{ID: bob.ID}, {ID: alice.ID}}
	g, err = s.UpdateGroup(ctx, g, 1)
	if err != nil {
		t.Fatalf("UpdateGroup with members: %v", err)
	}
	wantMembers = []store.Member{{ID: alice.ID, Type: "USER", Origin: "uaa"}, {ID: bob.ID, Type: "USER", Origin: "uaa"}}
	if g.Version != 2 || !reflect.DeepEqual(g.Members, wantMembers) {
		t.Errorf("after replacing members: version %d, members %+v, want %+v", g.Version, g.Members, wantMembers)
	}
	// An empty, non-nil list removes everyone.
	emptied, err := s.UpdateGroup(ctx, store.Group{ID: g.ID, DisplayName: g.DisplayName, Members: []store.Member{}}, -1)
	if err != nil || len(emptied.Members) != 0 || emptied.Version != 3 {
		t.Errorf("UpdateGroup with no members = %+v, %v", emptied, err)
	}

	mkGroup(t, s, "taken")
	updateErrs := []struct {
		name    string
		group   store.Group
		ifMatch int
		want    error
	}{
		{"stale version", store.Group{ID: g.ID, DisplayName: "z"}, 2, store.ErrVersionMismatch},
		{"missing group", store.Group{ID: "nope", DisplayName: "z"}, -1, store.ErrNotFound},
		{"name taken", store.Group{ID: g.ID, DisplayName: "TAKEN"}, -1, store.ErrConflict},
		{"missing member", store.Group{ID: g.ID, DisplayName: "z", Members: []store.Member{{ID: "nope"}}}, -1, store.ErrNotFound},
		{"empty name", store.Group{ID: g.ID}, -1, store.ErrInvalid},
	}
	for _, tt := range updateErrs {
		if _, err := s.UpdateGroup(ctx, tt.group, tt.ifMatch); !errors.Is(err, tt.want) {
			t.Errorf("UpdateGroup %s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if got, _ := s.GetGroup(ctx, g.ID); got.Version != 3 || got.DisplayName != "Admins2" {
		t.Errorf("a failed update changed the group: %+v", got)
	}
}

func TestDeleteGroup(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	alice := mkUser(t, s, "alice")
	g := mkGroup(t, s, "doomed", alice)
	other := mkGroup(t, s, "other", alice)

	deleted, err := s.DeleteGroup(ctx, g.ID)
	if err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	if !reflect.DeepEqual(deleted, g) {
		t.Errorf("DeleteGroup returned %+v, want %+v", deleted, g)
	}
	if _, err := s.GetGroup(ctx, g.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetGroup after delete: %v", err)
	}
	if got := mustGetUser(t, s, alice.ID).Groups; !reflect.DeepEqual(got, []store.GroupRef{{ID: other.ID, Display: "other"}}) {
		t.Errorf("alice's groups after delete = %+v", got)
	}
	if _, err := s.DeleteGroup(ctx, g.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteGroup: err = %v, want ErrNotFound", err)
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	alice := mkUser(t, s, "alice")
	ldap, err := s.CreateUser(ctx, store.User{Username: "lee", Origin: "ldap"})
	if err != nil {
		t.Fatal(err)
	}
	g := mkGroup(t, s, "devs")

	m, err := s.AddMember(ctx, g.ID, store.Member{ID: ldap.ID, Origin: "ignored"})
	if err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	if want := (store.Member{ID: ldap.ID, Type: "USER", Origin: "ldap"}); m != want {
		t.Errorf("AddMember = %+v, want %+v", m, want)
	}
	if _, err := s.AddMember(ctx, g.ID, store.Member{ID: alice.ID, Type: "user"}); err != nil {
		t.Fatalf("AddMember(alice): %v", err)
	}
	if got, _ := s.GetGroup(ctx, g.ID); len(got.Members) != 2 || got.Version != g.Version {
		t.Errorf("after AddMember: %d members, version %d (was %d)", len(got.Members), got.Version, g.Version)
	}

	addErrs := []struct {
		name    string
		groupID string
		member  store.Member
		want    error
	}{
		{"already a member", g.ID, store.Member{ID: alice.ID}, store.ErrConflict},
		{"missing group", "nope", store.Member{ID: alice.ID}, store.ErrNotFound},
		{"missing user", g.ID, store.Member{ID: "nope"}, store.ErrNotFound},
		{"group member", g.ID, store.Member{ID: g.ID, Type: "GROUP"}, store.ErrInvalid},
	}
	for _, tt := range addErrs {
		if _, err := s.AddMember(ctx, tt.groupID, tt.member); !errors.Is(err, tt.want) {
			t.Errorf("AddMember %s: err = %v, want %v", tt.name, err, tt.want)
		}
	}

	removed, err := s.RemoveMember(ctx, g.ID, ldap.ID)
	if err != nil || removed != m {
		t.Errorf("RemoveMember = %+v, %v; want %+v", removed, err, m)
	}
	if _, err := s.RemoveMember(ctx, g.ID, ldap.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second RemoveMember: err = %v, want ErrNotFound", err)
	}
	if _, err := s.RemoveMember(ctx, "nope", alice.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveMember(missing group): err = %v, want ErrNotFound", err)
	}

	// EnsureMember is idempotent.
	for range 2 {
		if err := s.EnsureMember(ctx, g.ID, ldap.ID); err != nil {
			t.Fatalf("EnsureMember: %v", err)
		}
	}
	if got, _ := s.GetGroup(ctx, g.ID); len(got.Members) != 2 {
		t.Errorf("after EnsureMember twice: members %+v", got.Members)
	}
	if err := s.EnsureMember(ctx, g.ID, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EnsureMember(missing user): err = %v, want ErrNotFound", err)
	}
	if err := s.EnsureMember(ctx, "nope", alice.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EnsureMember(missing group): err = %v, want ErrNotFound", err)
	}
}

func TestEnsureGroup(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	first, err := s.EnsureGroup(ctx, "uaa.user", "Act as a user")
	if err != nil {
		t.Fatalf("EnsureGroup: %v", err)
	}
	if first.DisplayName != "uaa.user" || first.Description != "Act as a user" || first.Members == nil {
		t.Errorf("EnsureGroup = %+v", first)
	}
	again, err := s.EnsureGroup(ctx, "UAA.user", "other description")
	if err != nil || !reflect.DeepEqual(again, first) {
		t.Errorf("second EnsureGroup = %+v, %v; want the first group unchanged %+v", again, err, first)
	}
	if _, err := s.EnsureGroup(ctx, "", ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("EnsureGroup(\"\"): err = %v, want ErrInvalid", err)
	}

	// Several instances bootstrapping at once agree on one group.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, len(ids))
	for i := range ids {
		wg.Go(func() {
			g, err := s.EnsureGroup(ctx, "cloud_controller.admin", "")
			ids[i], errs[i] = g.ID, err
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("concurrent EnsureGroup %d = %q, %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
}

func TestUserGroupNames(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	for _, name := range []string{"uaa.user", "cloud_controller.admin", "openid"} {
		mkGroup(t, s, name, alice)
	}
	mkGroup(t, s, "scim.read", bob)

	got, err := s.UserGroupNames(ctx, alice.ID)
	if err != nil {
		t.Fatalf("UserGroupNames: %v", err)
	}
	if want := []string{"cloud_controller.admin", "openid", "uaa.user"}; !slices.Equal(got, want) {
		t.Errorf("UserGroupNames = %v, want %v", got, want)
	}
	if got, err := s.UserGroupNames(ctx, "nope"); err != nil || len(got) != 0 {
		t.Errorf("UserGroupNames(unknown) = %v, %v; want empty", got, err)
	}
}
