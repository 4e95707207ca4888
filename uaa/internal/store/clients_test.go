package store_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

func TestClientCRUD(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	in := store.Client{
		ID: "cloud_controller", SecretHash: []byte("secret-hash"), Name: "Cloud Controller",
		Scope: []string{"openid"}, Authorities: []string{"scim.read", "uaa.resource"},
		GrantTypes: []string{"client_credentials"}, RedirectURIs: []string{"https://cc.example.com/cb"},
		AutoApprove: []string{"true"}, AccessTokenValidity: 600, RefreshTokenValidity: 3600,
	}
	c, err := s.CreateClient(ctx, in)
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	in.LastModified = c.LastModified
	if !reflect.DeepEqual(c, in) || c.LastModified.IsZero() {
		t.Errorf("CreateClient = %+v\nwant %+v", c, in)
	}
	if got, err := s.GetClient(ctx, c.ID); err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("GetClient = %+v, %v\nwant %+v", got, err, c)
	}

	// A public client with nothing set reads back with empty lists.
	cf, err := s.CreateClient(ctx, store.Client{ID: "cf"})
	if err != nil {
		t.Fatalf("CreateClient(cf): %v", err)
	}
	if cf.SecretHash != nil || cf.Scope == nil || len(cf.Scope) != 0 || cf.RedirectURIs == nil || cf.AutoApprove == nil {
		t.Errorf("public client = %#v: want nil secret and empty, non-nil lists", cf)
	}

	if _, err := s.CreateClient(ctx, store.Client{ID: "cf"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate client: err = %v, want ErrConflict", err)
	}
	if _, err := s.CreateClient(ctx, store.Client{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("client without ID: err = %v, want ErrInvalid", err)
	}
	if _, err := s.GetClient(ctx, "CF"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("client IDs are case-sensitive: GetClient(CF) err = %v, want ErrNotFound", err)
	}

	// UpdateClient changes everything but the secret.
	upd := c
	upd.SecretHash, upd.Name, upd.Scope, upd.Authorities = nil, "CC", []string{"cloud_controller.admin"}, nil
	upd.AccessTokenValidity = 0
	got, err := s.UpdateClient(ctx, upd)
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	if string(got.SecretHash) != "secret-hash" || got.Name != "CC" || !reflect.DeepEqual(got.Scope, []string{"cloud_controller.admin"}) ||
		len(got.Authorities) != 0 || got.AccessTokenValidity != 0 || got.RefreshTokenValidity != 3600 || got.LastModified.Before(c.LastModified) {
		t.Errorf("UpdateClient = %+v", got)
	}
	if _, err := s.UpdateClient(ctx, store.Client{ID: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateClient(missing): err = %v, want ErrNotFound", err)
	}

	if err := s.SetClientSecret(ctx, c.ID, []byte("new-hash")); err != nil {
		t.Fatalf("SetClientSecret: %v", err)
	}
	if got, _ := s.GetClient(ctx, c.ID); string(got.SecretHash) != "new-hash" || got.Name != "CC" {
		t.Errorf("after SetClientSecret: %+v", got)
	}
	if err := s.SetClientSecret(ctx, "nope", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetClientSecret(missing): err = %v, want ErrNotFound", err)
	}

	// DeleteClient returns the client and takes its refresh tokens along.
	alice := mkUser(t, s, "alice")
	tok, err := s.CreateRefreshToken(ctx, store.RefreshToken{ClientID: c.ID, UserID: alice.ID, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.GetClient(ctx, c.ID)
	deleted, err := s.DeleteClient(ctx, c.ID)
	if err != nil || !reflect.DeepEqual(deleted, before) {
		t.Errorf("DeleteClient = %+v, %v\nwant %+v", deleted, err, before)
	}
	if _, err := s.GetClient(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient after delete: %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, tok.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh token survived its client: %v", err)
	}
	if _, err := s.DeleteClient(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteClient: err = %v, want ErrNotFound", err)
	}
}

func TestUpsertClient(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	first, err := s.UpsertClient(ctx, store.Client{ID: "admin", SecretHash: []byte("h1"), Authorities: []string{"uaa.admin"}, GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatalf("UpsertClient (create): %v", err)
	}
	if got, _ := s.GetClient(ctx, "admin"); !reflect.DeepEqual(got, first) {
		t.Errorf("GetClient = %+v, want %+v", got, first)
	}
	second, err := s.UpsertClient(ctx, store.Client{ID: "admin", SecretHash: []byte("h2"), Name: "Admin"})
	if err != nil {
		t.Fatalf("UpsertClient (overwrite): %v", err)
	}
	if string(second.SecretHash) != "h2" || second.Name != "Admin" || len(second.Authorities) != 0 || len(second.GrantTypes) != 0 {
		t.Errorf("overwritten client = %+v", second)
	}
	if got, _ := s.GetClient(ctx, "admin"); !reflect.DeepEqual(got, second) {
		t.Errorf("GetClient = %+v, want %+v", got, second)
	}
	if _, err := s.UpsertClient(ctx, store.Client{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("UpsertClient without ID: err = %v, want ErrInvalid", err)
	}
}

func TestListClients(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, id := range []string{"login", "cf", "admin", "cloud_controller"} {
		mkClient(t, s, id)
	}
	tests := []struct {
		start, count int
		want         []string
	}{
		{0, -1, []string{"admin", "cf", "cloud_controller", "login"}},
		{1, 0, []string{}},
		{1, 2, []string{"admin", "cf"}},
		{3, 2, []string{"cloud_controller", "login"}},
		{4, 100, []string{"login"}},
		{5, 10, []string{}},
		{-3, 1, []string{"admin"}},
	}
	for _, tt := range tests {
		got, total, err := s.ListClients(t.Context(), tt.start, tt.count)
		if err != nil {
			t.Fatalf("ListClients(%d, %d): %v", tt.start, tt.count, err)
		}
		ids := []string{}
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if !reflect.DeepEqual(ids, tt.want) || total != 4 {
			t.Errorf("ListClients(%d, %d) = %v (total %d), want %v (total 4)", tt.start, tt.count, ids, total, tt.want)
		}
	}
}
