package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

func TestCreateAndGetUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	in := store.User{
		Username: "Bob", Email: "bob@example.com", GivenName: "Bob", FamilyName: "Builder",
		PasswordHash: []byte("$2a$10$hash"), Active: true, Verified: true,
		Groups: []store.GroupRef{{ID: "ignored", Display: "ignored"}},
	}
	u, err := s.CreateUser(ctx, in)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if len(u.ID) != 36 || u.Origin != "uaa" || u.Version != 0 || len(u.Groups) != 0 {
		t.Errorf("created user = %+v: want a UUID, origin uaa, version 0, no groups", u)
	}
	if u.Created.Before(before) || u.LastModified != u.Created || u.PasswordLastModified != u.Created {
		t.Errorf("timestamps = %v %v %v", u.Created, u.LastModified, u.PasswordLastModified)
	}

	got, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !reflect.DeepEqual(got, u) {
		t.Errorf("GetUser = %+v\nwant %+v", got, u)
	}
	for _, name := range []string{"Bob", "bob", "BOB"} {
		got, err := s.GetUserByName(ctx, name, "")
		if err != nil || got.ID != u.ID {
			t.Errorf("GetUserByName(%q) = %v, %v", name, got.ID, err)
		}
	}
	if _, err := s.GetUserByName(ctx, "bob", "ldap"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUserByName in ldap: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetUser(ctx, "no-such-id"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(missing): err = %v, want ErrNotFound", err)
	}

	// The same name in another origin is another user; in the same origin
	// (in any case) a conflict.
	ldap, err := s.CreateUser(ctx, store.User{Username: "bob", Origin: "ldap"})
	if err != nil {
		t.Fatalf("CreateUser in ldap: %v", err)
	}
	if ldap.PasswordHash != nil {
		t.Errorf("ldap user has a password hash %q", ldap.PasswordHash)
	}
	if _, err := s.CreateUser(ctx, store.User{Username: "BOB"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate user name: err = %v, want ErrConflict", err)
	}
	if _, err := s.CreateUser(ctx, store.User{ID: u.ID, Username: "other"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate ID: err = %v, want ErrConflict", err)
	}
	// A caller may choose the ID.
	fixed, err := s.CreateUser(ctx, store.User{ID: "fixed-id", Username: "fixed"})
	if err != nil || fixed.ID != "fixed-id" {
		t.Errorf("CreateUser with ID = %q, %v", fixed.ID, err)
	}
}

func TestCreateUserInvalid(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, u := range []store.User{
		{},
		{Username: strings.Repeat("x", 256)},
		{Username: "x", Email: strings.Repeat("x", 256)},
		{Username: "x", Origin: strings.Repeat("x", 256)},
	} {
		if _, err := s.CreateUser(t.Context(), u); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateUser(%.20q…): err = %v, want ErrInvalid", u.Username, err)
		}
	}
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	mkUser(t, s, "taken")
	g := mkGroup(t, s, "admins", u)

	u.Username, u.Email, u.GivenName, u.Active, u.Verified = "Alice2", "a2@example.com", "Alice", false, true
	u.PasswordHash = []byte("ignored")
	got, err := s.UpdateUser(ctx, u, 0)
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if got.Version != 1 || got.Username != "Alice2" || got.Email != "a2@example.com" || got.GivenName != "Alice" || got.Active || !got.Verified {
		t.Errorf("updated user = %+v", got)
	}
	if string(got.PasswordHash) == "ignored" {
		t.Error("UpdateUser changed the password hash")
	}
	if !got.Created.Equal(u.Created) || got.LastModified.Before(u.LastModified) {
		t.Errorf("timestamps: created %v → %v, last modified %v → %v", u.Created, got.Created, u.LastModified, got.LastModified)
	}
	if want := []store.GroupRef{{ID: g.ID, Display: "admins"}}; !reflect.DeepEqual(got.Groups, want) {
		t.Errorf("groups = %+v, want %+v", got.Groups, want)
	}
	if again, _ := s.GetUser(ctx, u.ID); !reflect.DeepEqual(again, got) {
		t.Errorf("GetUser after update = %+v\nwant %+v", again, got)
	}

	tests := []struct {
		name    string
		user    store.User
		ifMatch int
		want    error
	}{
		{"stale version", got, 0, store.ErrVersionMismatch},
		{"future version", got, 7, store.ErrVersionMismatch},
		{"missing user", store.User{ID: "nope", Username: "x"}, -1, store.ErrNotFound},
		{"name taken", store.User{ID: u.ID, Username: "TAKEN"}, -1, store.ErrConflict},
		{"empty name", store.User{ID: u.ID}, -1, store.ErrInvalid},
	}
	for _, tt := range tests {
		if _, err := s.UpdateUser(ctx, tt.user, tt.ifMatch); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	// -1 skips the check.
	got, err = s.UpdateUser(ctx, got, -1)
	if err != nil || got.Version != 2 {
		t.Errorf("UpdateUser(-1) = version %d, %v; want 2", got.Version, err)
	}
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	u := mkUser(t, s, "carol")
	other := mkUser(t, s, "dave")
	mkClient(t, s, "cf")
	exp := time.Now().Add(time.Hour)
	mine, err := s.CreateRefreshToken(ctx, store.RefreshToken{ClientID: "cf", UserID: u.ID, ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := s.CreateRefreshToken(ctx, store.RefreshToken{ClientID: "cf", UserID: other.ID, ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}

	if err := s.SetPassword(ctx, u.ID, []byte("new-hash")); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	got, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.PasswordHash) != "new-hash" || !got.PasswordLastModified.After(u.PasswordLastModified) || got.Version != u.Version {
		t.Errorf("after SetPassword: hash %q, password modified %v (was %v), version %d", got.PasswordHash, got.PasswordLastModified, u.PasswordLastModified, got.Version)
	}
	if _, err := s.GetRefreshToken(ctx, mine.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the user's refresh token survived SetPassword: %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, theirs.ID); err != nil {
		t.Errorf("another user's refresh token went: %v", err)
	}
	if err := s.SetPassword(ctx, "nope", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPassword(missing): err = %v, want ErrNotFound", err)
	}
}

func TestDeleteUserCascades(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	u := mkUser(t, s, "erin")
	keep := mkUser(t, s, "frank")
	g := mkGroup(t, s, "devs", u, keep)
	mkClient(t, s, "cf")
	tok, err := s.CreateRefreshToken(ctx, store.RefreshToken{ClientID: "cf", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordLoginFailure(ctx, u.ID, time.Now()); err != nil {
		t.Fatal(err)
	}

	deleted, err := s.DeleteUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if deleted.Username != "erin" || len(deleted.Groups) != 1 || deleted.Groups[0].ID != g.ID {
		t.Errorf("DeleteUser returned %+v, want erin in devs", deleted)
	}
	if _, err := s.GetUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser after delete: %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, tok.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh token survived: %v", err)
	}
	if n, err := s.CountLoginFailures(ctx, u.ID, time.Time{}); n != 0 || err != nil {
		t.Errorf("login failures after delete = %d, %v", n, err)
	}
	got, err := s.GetGroup(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 1 || got.Members[0].ID != keep.ID {
		t.Errorf("members after delete = %+v, want only frank", got.Members)
	}
	if _, err := s.DeleteUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteUser: err = %v, want ErrNotFound", err)
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	u := mkUser(t, s, "gina")
	other := mkUser(t, s, "hank")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
		if err := s.RecordLoginFailure(ctx, u.ID, at); err != nil {
			t.Fatalf("RecordLoginFailure: %v", err)
		}
	}
	if err := s.RecordLoginFailure(ctx, other.ID, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		since time.Time
		want  int
	}{
		{time.Time{}, 3},
		{t0, 3},
		{t0.Add(time.Second), 2},
		{t0.Add(2 * time.Minute), 1},
		{t0.Add(time.Hour), 0},
	}
	for _, tt := range tests {
		if n, err := s.CountLoginFailures(ctx, u.ID, tt.since); n != tt.want || err != nil {
			t.Errorf("CountLoginFailures(since %v) = %d, %v; want %d", tt.since, n, err, tt.want)
		}
	}
	if err := s.ClearLoginFailures(ctx, u.ID); err != nil {
		t.Fatalf("ClearLoginFailures: %v", err)
	}
	if n, _ := s.CountLoginFailures(ctx, u.ID, time.Time{}); n != 0 {
		t.Errorf("after clear: %d failures", n)
	}
	if n, _ := s.CountLoginFailures(ctx, other.ID, time.Time{}); n != 1 {
		t.Errorf("clear touched another user: %d failures", n)
	}
	if err := s.RecordLoginFailure(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordLoginFailure(missing user): err = %v, want ErrNotFound", err)
	}
}
