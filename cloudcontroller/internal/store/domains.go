package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Domain is a DNS domain routes are made on: shared (OrgGUID "") or
// private to an owning organization, which may share it with others.
type Domain struct {
	GUID     string
	Name     string // lowercase
	Internal bool
	// OrgGUID is the owning organization of a private domain; "" for a
	// shared domain.
	OrgGUID string
	// SharedOrgGUIDs are the organizations a private domain is shared with.
	SharedOrgGUIDs []string
	Metadata       Metadata
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Shared reports whether d is a shared domain.
func (d Domain) Shared() bool { return d.OrgGUID == "" }

// UsableBy reports whether routes in org may use d.
func (d Domain) UsableBy(org string) bool {
	if d.Shared() || d.OrgGUID == org {
		return true
	}
	for _, o := range d.SharedOrgGUIDs {
		if o == org {
			return true
		}
	}
	return false
}

const domainCols = `t.guid::text, t.name, t.internal, coalesce(t.organization_guid::text, ''),
	array(SELECT so.organization_guid::text FROM domain_shared_organizations so WHERE so.domain_guid = t.guid ORDER BY so.created_at, so.organization_guid),
	t.labels, t.annotations, t.created_at, t.updated_at`

var domainOrder = map[string]string{"created_at": "t.created_at", "updated_at": "t.updated_at", "name": "t.name"}

func scanDomain(row pgx.Row, extra ...any) (Domain, error) {
	var d Domain
	dest := append([]any{&d.GUID, &d.Name, &d.Internal, &d.OrgGUID, &d.SharedOrgGUIDs,
		&d.Metadata.Labels, &d.Metadata.Annotations, &d.CreatedAt, &d.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	d.Metadata.normalize()
	if d.SharedOrgGUIDs == nil {
		d.SharedOrgGUIDs = []string{}
	}
	return d, err
}

// CreateDomain inserts d and its shared organizations (ErrConflict if the
// name is taken, ErrReferenced if an organization is missing).
func (s *Store) CreateDomain(ctx context.Context, d Domain) (Domain, error) {
	if d.GUID == "" {
		d.GUID = uuid.NewString()
	}
	d.Metadata.normalize()
	var out Domain
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO domains (guid, name, internal, organization_guid, labels, annotations) VALUES ($1, $2, $3, $4, $5, $6)`,
			d.GUID, d.Name, d.Internal, nullable(d.OrgGUID), d.Metadata.Labels, d.Metadata.Annotations); err != nil {
			return err
		}
		if err := shareDomain(ctx, tx, d.GUID, d.SharedOrgGUIDs); err != nil {
			return err
		}
		var err error
		out, err = scanDomain(tx.QueryRow(ctx, `SELECT `+domainCols+` FROM domains t WHERE t.guid = $1`, d.GUID))
		return err
	})
	return out, wrap("create domain", err)
}

func shareDomain(ctx context.Context, tx pgx.Tx, domain string, orgs []string) error {
	for _, org := range orgs {
		if _, err := tx.Exec(ctx, `INSERT INTO domain_shared_organizations (domain_guid, organization_guid) VALUES ($1, $2) ON CONFLICT DO NOTHING`, domain, org); err != nil {
			return err
		}
	}
	return nil
}

// GetDomain returns one domain.
func (s *Store) GetDomain(ctx context.Context, guid string) (Domain, error) {
	out, err := scanDomain(s.pool.QueryRow(ctx, `SELECT `+domainCols+` FROM domains t WHERE t.guid = $1`, guid))
	return out, wrap("get domain", err)
}

// GetDomainByName returns the domain called name (lowercase).
func (s *Store) GetDomainByName(ctx context.Context, name string) (Domain, error) {
	out, err := scanDomain(s.pool.QueryRow(ctx, `SELECT `+domainCols+` FROM domains t WHERE t.name = $1`, name))
	return out, wrap("get domain by name", err)
}

// ListDomains returns a page of domains and the total count.
func (s *Store) ListDomains(ctx context.Context, f Filter) ([]Domain, int, error) {
	return listPage(ctx, s, "list domains", "domains", `SELECT `+domainCols+`, count(*) OVER () FROM domains t`+f.clause(domainOrder), f, scanDomain)
}

// UpdateDomainMetadata writes a domain's labels and annotations.
func (s *Store) UpdateDomainMetadata(ctx context.Context, d Domain) (Domain, error) {
	d.Metadata.normalize()
	out, err := scanDomain(s.pool.QueryRow(ctx, `UPDATE domains AS t SET labels = $2, annotations = $3, updated_at = now()
		WHERE t.guid = $1 RETURNING `+domainCols, d.GUID, d.Metadata.Labels, d.Metadata.Annotations))
	return out, wrap("update domain", err)
}

// DeleteDomain deletes a domain that has no routes; ErrReferenced if it has
// some. The domain row is locked first, so a route created concurrently
// either is counted or fails for want of its domain.
func (s *Store) DeleteDomain(ctx context.Context, guid string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var g string
		if err := tx.QueryRow(ctx, `SELECT guid::text FROM domains WHERE guid = $1 FOR UPDATE`, guid).Scan(&g); err != nil {
			return err
		}
		var routes bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM routes WHERE domain_guid = $1)`, guid).Scan(&routes); err != nil {
			return err
		}
		if routes {
			return fmt.Errorf("domain has routes: %w", ErrReferenced)
		}
		_, err := tx.Exec(ctx, `DELETE FROM domains WHERE guid = $1`, guid)
		return err
	})
	return wrap("delete domain", err)
}

// ShareDomain shares a private domain with orgs (already shared ones are
// kept) and returns the domain.
func (s *Store) ShareDomain(ctx context.Context, guid string, orgs []string) (Domain, error) {
	var out Domain
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := shareDomain(ctx, tx, guid, orgs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE domains SET updated_at = now() WHERE guid = $1`, guid); err != nil {
			return err
		}
		var err error
		out, err = scanDomain(tx.QueryRow(ctx, `SELECT `+domainCols+` FROM domains t WHERE t.guid = $1`, guid))
		return err
	})
	return out, wrap("share domain", err)
}

// UnshareDomain stops sharing a domain with org: ErrNotFound if it is not
// shared with org, ErrReferenced while routes in org's spaces use it.
func (s *Store) UnshareDomain(ctx context.Context, guid, org string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var g string
		err := tx.QueryRow(ctx, `SELECT domain_guid::text FROM domain_shared_organizations WHERE domain_guid = $1 AND organization_guid = $2 FOR UPDATE`, guid, org).Scan(&g)
		if err != nil {
			return err
		}
		var routes bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM routes r JOIN spaces sp ON sp.guid = r.space_guid WHERE r.domain_guid = $1 AND sp.organization_guid = $2)`,
			guid, org).Scan(&routes); err != nil {
			return err
		}
		if routes {
			return fmt.Errorf("domain has routes in the organization: %w", ErrReferenced)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM domain_shared_organizations WHERE domain_guid = $1 AND organization_guid = $2`, guid, org); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE domains SET updated_at = now() WHERE guid = $1`, guid)
		return err
	})
	return wrap("unshare domain", err)
}

// EnsureSharedDomain creates the shared domain name (lowercase) unless a
// domain of that name exists, and returns it.
func (s *Store) EnsureSharedDomain(ctx context.Context, name string) (Domain, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO domains (guid, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, uuid.NewString(), name); err != nil {
		return Domain{}, wrap("ensure shared domain", err)
	}
	return s.GetDomainByName(ctx, name)
}

// PrivateDomainNotOwnedBy returns the first of names that is a private
// domain owned by an organization other than owner ("" = any owner), or
// "" if there is none.
func (s *Store) PrivateDomainNotOwnedBy(ctx context.Context, names []string, owner string) (string, error) {
	return s.firstName(ctx, "find overlapping domain", `SELECT name FROM domains
		WHERE name = ANY($1) AND organization_guid IS NOT NULL AND organization_guid::text IS DISTINCT FROM nullif($2, '')
		ORDER BY length(name) LIMIT 1`, names, owner)
}

// SubdomainNotOwnedBy returns a domain below name (x.name) that is shared
// or owned by an organization other than owner, or "".
func (s *Store) SubdomainNotOwnedBy(ctx context.Context, name, owner string) (string, error) {
	return s.firstName(ctx, "find subdomain", `SELECT name FROM domains
		WHERE right(name, length($1) + 1) = '.' || $1 AND (organization_guid IS NULL OR organization_guid::text <> $2)
		ORDER BY name LIMIT 1`, name, owner)
}

// RouteWithFQDN returns the first of fqdns that is the host.domain of a
// route, or "".
func (s *Store) RouteWithFQDN(ctx context.Context, fqdns []string) (string, error) {
	return s.firstName(ctx, "find route by fqdn", `SELECT r.host || '.' || d.name FROM routes r JOIN domains d ON d.guid = r.domain_guid
		WHERE r.host <> '' AND r.host || '.' || d.name = ANY($1) ORDER BY 1 LIMIT 1`, fqdns)
}

func (s *Store) firstName(ctx context.Context, op, sql string, args ...any) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, sql, args...).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return name, wrap(op, err)
}

// PrivateDomainCount returns how many private domains org owns (for domain
// quotas).
func (s *Store) PrivateDomainCount(ctx context.Context, org string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM domains WHERE organization_guid = $1::uuid`, org).Scan(&n)
	return n, wrap("count private domains", err)
}
