package lrps_test

import (
	"fmt"
	"testing"
	"time"
)

func TestDomains(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if err := e.store.UpsertDomain(ctx, "cf-apps", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.store.UpsertDomain(ctx, "cf-tasks", 0); err != nil {
		t.Fatal(err)
	}
	fresh := func() string { return fmt.Sprint(must(e.store.FreshDomains(ctx))(t)) }
	if got := fresh(); got != "[cf-apps cf-tasks]" {
		t.Fatalf("fresh = %s", got)
	}
	e.clock.Advance(time.Minute)
	if got := fresh(); got != "[cf-tasks]" {
		t.Fatalf("fresh after ttl = %s", got)
	}
	// Bulk sync refreshes it.
	if err := e.store.UpsertDomain(ctx, "cf-apps", time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := fresh(); got != "[cf-apps cf-tasks]" {
		t.Fatalf("fresh after refresh = %s", got)
	}
	// Convergence prunes expired domains.
	e.clock.Advance(2 * time.Minute)
	e.converge()
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM domains`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("domains left = %d, %v", n, err)
	}

	wantErr(t, e.store.UpsertDomain(ctx, "", time.Minute), errInvalid)
	wantErr(t, e.store.UpsertDomain(ctx, "x", -time.Second), errInvalid)
}
