package store_test

import (
	"context"
	"testing"

	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/uaa/internal/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newStore returns a migrated Store on a fresh database.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	pool, err := pg.Connect(t.Context(), pg.Config{DSN: testenv.Postgres(t)}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := store.New(pool)
	if err := s.Migrate(t.Context(), testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	return s
}

// mkUser creates a user in origin uaa with the given name.
func mkUser(t *testing.T, s *store.Store, name string) store.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), store.User{Username: name, Email: name + "@example.com", Active: true})
	if err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func mkGroup(t *testing.T, s *store.Store, name string, members ...store.User) store.Group {
	t.Helper()
	g := store.Group{DisplayName: name}
	for _, u := range members {
		g.Members = append(g.Members, store.Member{ID: u.ID})
	}
	g, err := s.CreateGroup(t.Context(), g)
	if err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
	return g
}

func mkClient(t *testing.T, s *store.Store, id string) store.Client {
	t.Helper()
	c, err := s.CreateClient(t.Context(), store.Client{ID: id, SecretHash: []byte("hash"), GrantTypes: []string{"password", "refresh_token"}})
	if err != nil {
		t.Fatalf("create client %s: %v", id, err)
	}
	return c
}

func TestMigrateAndPing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.Migrate(t.Context(), nil); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}
