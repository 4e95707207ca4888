package cloudcontroller_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// seedTenancy inserts n organizations with one space each, and gives user
// organization_user and space_developer in all of them, straight into the
// database (the API would take minutes).
func seedTenancy(b *testing.B, dsn, user string, n int) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO users (guid, username, origin) VALUES ($1, $1, 'uaa') ON CONFLICT DO NOTHING`, user); err != nil {
		b.Fatalf("seed user: %v", err)
	}
	_, err = pool.Exec(ctx, `
		WITH o AS (
			INSERT INTO organizations (guid, name) SELECT gen_random_uuid(), 'bench-org-' || i FROM generate_series(1, $2) i RETURNING guid
		), s AS (
			INSERT INTO spaces (guid, name, organization_guid) SELECT gen_random_uuid(), 'space', guid FROM o RETURNING guid, organization_guid
		), r1 AS (
			INSERT INTO roles (guid, type, user_guid, organization_guid) SELECT gen_random_uuid(), 'organization_user', $1, organization_guid FROM s
		)
		INSERT INTO roles (guid, type, user_guid, space_guid) SELECT gen_random_uuid(), 'space_developer', $1, guid FROM s`, user, n)
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	// One route in each space, on a shared domain.
	_, err = pool.Exec(ctx, `
		WITH d AS (INSERT INTO domains (guid, name) VALUES (gen_random_uuid(), 'bench.test') RETURNING guid)
		INSERT INTO routes (guid, host, domain_guid, space_guid)
		SELECT gen_random_uuid(), 'host-' || row_number() OVER (), d.guid, sp.guid FROM spaces sp, d WHERE sp.name = 'space'`)
	if err != nil {
		b.Fatalf("seed routes: %v", err)
	}
}

// BenchmarkListAsSpaceDeveloper: GET /v3/organizations, /v3/spaces and
// /v3/routes with 1,000 visible rows, per_page=5000, as a space developer
// (target p99 ≤ 50 ms on 2 cores); /v3/roles (2,000 rows) for reference.
func BenchmarkListAsSpaceDeveloper(b *testing.B) {
	c := startCCB(b)
	dev := c.user("dev-guid", "dev")
	c.must(http.StatusOK, http.MethodGet, "/v3/organizations", dev, nil) // CC meets the user
	seedTenancy(b, c.dsn, "dev-guid", 1000)
	for _, path := range []string{"/v3/organizations?per_page=5000", "/v3/spaces?per_page=5000", "/v3/routes?per_page=5000", "/v3/roles?per_page=5000"} {
		b.Run(path, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, c.URL+path, nil)
				req.Header.Set("Authorization", "bearer "+dev)
				t0 := time.Now()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat = append(lat, time.Since(t0))
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
	for _, path := range []string{"/v3/spaces?per_page=5000", "/v3/routes?per_page=5000"} {
		if l := c.list(path, dev); len(l.Resources) != 1000 {
			b.Fatalf("%s: developer sees %d, want 1000", path, len(l.Resources))
		}
	}
}

// BenchmarkListApps: GET /v3/apps?per_page=5000&include=space.organization
// with 1,000 apps (one per space, each with a web process) as a space
// developer of all of them — what `cf apps` asks across a large
// installation (target p99 ≤ 100 ms on 2 cores); and the processes of
// those apps, which `cf apps` reads next.
func BenchmarkListApps(b *testing.B) {
	c := startCCB(b)
	dev := c.user("dev-guid", "dev")
	c.must(http.StatusOK, http.MethodGet, "/v3/organizations", dev, nil)
	seedTenancy(b, c.dsn, "dev-guid", 1000)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, c.dsn)
	if err != nil {
		b.Fatal(err)
	}
	_, err = pool.Exec(ctx, `
		WITH a AS (
			INSERT INTO apps (guid, name, space_guid, state, stack)
			SELECT gen_random_uuid(), 'app-' || row_number() OVER (), guid, 'STARTED', 'debian-bookworm' FROM spaces WHERE name = 'space'
			RETURNING guid
		)
		INSERT INTO processes (guid, app_guid, type, memory_in_mb, disk_in_mb) SELECT gen_random_uuid(), guid, 'web', 256, 1024 FROM a`)
	pool.Close()
	if err != nil {
		b.Fatalf("seed apps: %v", err)
	}
	for _, path := range []string{"/v3/apps?per_page=5000&include=space.organization", "/v3/processes?per_page=5000"} {
		b.Run(path, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, c.URL+path, nil)
				req.Header.Set("Authorization", "bearer "+dev)
				t0 := time.Now()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat = append(lat, time.Since(t0))
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
	if l := c.list("/v3/apps?per_page=5000", dev); len(l.Resources) != 1000 {
		b.Fatalf("developer sees %d apps, want 1000", len(l.Resources))
	}
}
