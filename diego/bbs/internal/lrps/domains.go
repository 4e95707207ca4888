package lrps

import (
	"context"
	"fmt"
	"time"
)

// UpsertDomain marks domain fresh for ttl from now; ttl 0 means forever.
// While a domain is fresh, convergence retires actual LRPs of that domain
// that nothing desires.
func (s *Store) UpsertDomain(ctx context.Context, domain string, ttl time.Duration) error {
	switch {
	case domain == "":
		return errInvalidRequest("domain is required")
	case ttl < 0:
		return errInvalidRequest("ttl %v is negative", ttl)
	}
	var expires *time.Time
	if ttl > 0 {
		t := s.now().Add(ttl)
		expires = &t
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO domains (name, expires_at) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET expires_at = EXCLUDED.expires_at`, domain, expires)
	if err != nil {
		return fmt.Errorf("upsert domain: %w", err)
	}
	return nil
}

// FreshDomains lists the domains that are fresh now, sorted.
func (s *Store) FreshDomains(ctx context.Context) ([]string, error) {
	rows, err := s.read.Query(ctx, `SELECT name FROM domains
		WHERE expires_at IS NULL OR expires_at > $1 ORDER BY name`, s.now())
	if err != nil {
		return nil, fmt.Errorf("fresh domains: %w", err)
	}
	defer rows.Close()
	domains := []string{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("fresh domains: %w", err)
		}
		domains = append(domains, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fresh domains: %w", err)
	}
	return domains, nil
}

// freshDomains returns the fresh domains as a set and deletes expired ones,
// as Diego's convergence prunes them.
func freshDomains(ctx context.Context, q querier, now time.Time) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT name, expires_at IS NULL OR expires_at > $1 FROM domains`, now)
	if err != nil {
		return nil, fmt.Errorf("load domains: %w", err)
	}
	defer rows.Close()
	fresh := map[string]bool{}
	expired := false
	for rows.Next() {
		var d string
		var ok bool
		if err := rows.Scan(&d, &ok); err != nil {
			return nil, fmt.Errorf("load domains: %w", err)
		}
		if ok {
			fresh[d] = true
		} else {
			expired = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load domains: %w", err)
	}
	if expired {
		if _, err := q.Exec(ctx, `DELETE FROM domains WHERE expires_at <= $1`, now); err != nil {
			return nil, fmt.Errorf("prune domains: %w", err)
		}
	}
	return fresh, nil
}
