package store_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	mkClient(t, s, "cf")
	mkClient(t, s, "other")
	now := time.Now().UTC().Truncate(time.Microsecond)

	tok, err := s.CreateRefreshToken(ctx, store.RefreshToken{ClientID: "cf", UserID: alice.ID,
		Scopes: []string{"openid", "cloud_controller.read"}, GrantType: "password", ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	if len(tok.ID) < 26 || tok.IssuedAt.IsZero() || !tok.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("created token = %+v: want a random ID and IssuedAt set", tok)
	}
	got, err := s.GetRefreshToken(ctx, tok.ID)
	if err != nil || !reflect.DeepEqual(got, tok) {
		t.Errorf("GetRefreshToken = %+v, %v\nwant %+v", got, err, tok)
	}

	fixed := store.RefreshToken{ID: "chosen-r", ClientID: "other", UserID: bob.ID, Scopes: []string{},
		IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	if got, err := s.CreateRefreshToken(ctx, fixed); err != nil || !reflect.DeepEqual(got, fixed) {
		t.Errorf("CreateRefreshToken(chosen ID) = %+v, %v\nwant %+v", got, err, fixed)
	}
	if got, err := s.GetRefreshToken(ctx, fixed.ID); err != nil || !got.ExpiresAt.Before(now) {
		t.Errorf("GetRefreshToken returns expired tokens too: %+v, %v", got, err)
	}

	createErrs := []struct {
		name string
		tok  store.RefreshToken
		want error
	}{
		{"taken ID", store.RefreshToken{ID: tok.ID, ClientID: "cf", UserID: alice.ID, ExpiresAt: now}, store.ErrConflict},
		{"missing client", store.RefreshToken{ClientID: "nope", UserID: alice.ID, ExpiresAt: now}, store.ErrNotFound},
		{"missing user", store.RefreshToken{ClientID: "cf", UserID: "nope", ExpiresAt: now}, store.ErrNotFound},
		{"no expiry", store.RefreshToken{ClientID: "cf", UserID: alice.ID}, store.ErrInvalid},
	}
	for _, tt := range createErrs {
		if _, err := s.CreateRefreshToken(ctx, tt.tok); !errors.Is(err, tt.want) {
			t.Errorf("CreateRefreshToken %s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := s.GetRefreshToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefreshToken(missing): err = %v, want ErrNotFound", err)
	}

	// Expired tokens go; live ones stay.
	if n, err := s.DeleteExpiredRefreshTokens(ctx, now); n != 1 || err != nil {
		t.Errorf("DeleteExpiredRefreshTokens = %d, %v; want 1", n, err)
	}
	if _, err := s.GetRefreshToken(ctx, fixed.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired token survived: %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, tok.ID); err != nil {
		t.Errorf("live token went: %v", err)
	}

	if deleted, err := s.DeleteRefreshToken(ctx, tok.ID); !deleted || err != nil {
		t.Errorf("DeleteRefreshToken = %v, %v; want true", deleted, err)
	}
	if deleted, err := s.DeleteRefreshToken(ctx, tok.ID); deleted || err != nil {
		t.Errorf("second DeleteRefreshToken = %v, %v; want false", deleted, err)
	}
}

func TestDeleteRefreshTokensFor(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	mkClient(t, s, "cf")
	mkClient(t, s, "other")
	exp := time.Now().Add(time.Hour)
	for _, tok := range []store.RefreshToken{
		{ClientID: "cf", UserID: alice.ID}, {ClientID: "cf", UserID: alice.ID},
		{ClientID: "other", UserID: alice.ID}, {ClientID: "cf", UserID: bob.ID},
	} {
		tok.ExpiresAt = exp
		if _, err := s.CreateRefreshToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteClientRefreshTokens(ctx, "other"); n != 1 || err != nil {
		t.Errorf("DeleteClientRefreshTokens = %d, %v; want 1", n, err)
	}
	if n, err := s.DeleteUserRefreshTokens(ctx, alice.ID); n != 2 || err != nil {
		t.Errorf("DeleteUserRefreshTokens = %d, %v; want 2", n, err)
	}
	if n, err := s.DeleteExpiredRefreshTokens(ctx, exp); n != 1 || err != nil {
		t.Errorf("bob's token: DeleteExpiredRefreshTokens = %d, %v; want 1", n, err)
	}
}

// TestRefreshTokenRotationIsAtomic races DeleteRefreshToken calls for the
// same token: exactly one may win.
func TestRefreshTokenRotationIsAtomic(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	alice := mkUser(t, s, "alice")
	mkClient(t, s, "cf")
	const tokens, racers = 20, 4
	for range tokens {
		tok, err := s.CreateRefreshToken(ctx, store.RefreshToken{ClientID: "cf", UserID: alice.ID, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		won := make([]bool, racers)
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() {
				<-start
				won[i], errs[i] = s.DeleteRefreshToken(ctx, tok.ID)
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i := range racers {
			if errs[i] != nil {
				t.Fatalf("DeleteRefreshToken: %v", errs[i])
			}
			if won[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("%d of %d concurrent DeleteRefreshToken calls returned true, want exactly 1", winners, racers)
		}
	}
}
