package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/anvilpaas/anvil/uaa/internal/scimfilter"
)

// MemberTypeUser is the only supported member type: groups do not nest.
const MemberTypeUser = "USER"

// Group is a SCIM group.
type Group struct {
	ID string
	// DisplayName is unique without regard to case.
	DisplayName  string
	Description  string
	Version      int
	Created      time.Time
	LastModified time.Time
	// Members are the group's direct members in the order they were added.
	// Reads always fill them. CreateGroup adds them; UpdateGroup replaces
	// the membership with them unless they are nil.
	Members []Member
}

// Member is a member of a group.
type Member struct {
	// ID is the user's ID.
	ID string
	// Type is MemberTypeUser; empty means the same on writes.
	Type string
	// Origin is the user's origin; ignored on writes.
	Origin string
}

// groupAttrs maps SCIM group attributes to columns of "groups g".
var groupAttrs = map[string]scimfilter.Column{
	"id":                {SQL: "g.id", Type: scimfilter.CaseExactString},
	"displayName":       {SQL: "g.display_name", Type: scimfilter.String},
	"description":       {SQL: "g.description", Type: scimfilter.String},
	"meta.created":      {SQL: "g.created", Type: scimfilter.Time},
	"meta.lastModified": {SQL: "g.last_modified", Type: scimfilter.Time},
	"meta.version":      {SQL: "g.version", Type: scimfilter.Int},
	"zoneId":            {SQL: "'uaa'::text", Type: scimfilter.CaseExactString},
	"members.value": {
		SQL: "gm.member_id", Type: scimfilter.CaseExactString,
		Exists: "SELECT 1 FROM group_members gm WHERE gm.group_id = g.id",
	},
}

const groupCols = "g.id, g.display_name, g.description, g.version, g.created, g.last_modified"

var groupList = listSpec{from: "groups g", cols: groupCols, seq: "g.seq", attrs: groupAttrs}

func scanGroup(row pgx.Row) (Group, error) {
	var g Group
	err := row.Scan(&g.ID, &g.DisplayName, &g.Description, &g.Version, &g.Created, &g.LastModified)
	g.Created, g.LastModified = g.Created.UTC(), g.LastModified.UTC()
	g.Members = []Member{}
	return g, err
}

// memberIDs checks members and returns their user IDs without duplicates.
func memberIDs(members []Member) ([]string, error) {
	ids := make([]string, 0, len(members))
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if m.Type != "" && !strings.EqualFold(m.Type, MemberTypeUser) {
			return nil, fmt.Errorf("member %s has type %q, only %s is supported: %w", m.ID, m.Type, MemberTypeUser, ErrInvalid)
		}
		if !seen[m.ID] {
			seen[m.ID] = true
			ids = append(ids, m.ID)
		}
	}
	return ids, nil
}

// addMembers adds users to a group, skipping those already in it.
func addMembers(ctx context.Context, q querier, groupID string, userIDs []string) error {
	_, err := q.Exec(ctx, `INSERT INTO group_members (group_id, member_id)
		SELECT $1, m FROM unnest($2::text[]) WITH ORDINALITY AS t(m, n) ORDER BY n
		ON CONFLICT DO NOTHING`, groupID, userIDs)
	return err
}

// groupMembers returns the members of the given groups.
func groupMembers(ctx context.Context, q querier, groupIDs []string) (map[string][]Member, error) {
	rows, err := q.Query(ctx, `SELECT m.group_id, m.member_id, m.member_type, u.origin
		FROM group_members m JOIN users u ON u.id = m.member_id
		WHERE m.group_id = ANY($1) ORDER BY m.seq`, groupIDs)
	if err != nil {
		return nil, err
	}
	members := make(map[string][]Member, len(groupIDs))
	var groupID string
	var m Member
	_, err = pgx.ForEachRow(rows, []any{&groupID, &m.ID, &m.Type, &m.Origin}, func() error {
		members[groupID] = append(members[groupID], m)
		return nil
	})
	return members, err
}

func (s *Store) getGroup(ctx context.Context, q querier, where string, args ...any) (Group, error) {
	g, err := scanGroup(q.QueryRow(ctx, "SELECT "+groupCols+" FROM groups g WHERE "+where, args...))
	if err != nil {
		return Group{}, err
	}
	members, err := groupMembers(ctx, q, []string{g.ID})
	if err != nil {
		return Group{}, err
	}
	if m := members[g.ID]; m != nil {
		g.Members = m
	}
	return g, nil
}

// CreateGroup stores a new group with its members and returns it as
// stored. An empty ID gets a new UUID; Version, Created and LastModified are
// set by the store. ErrConflict if the name is taken, ErrNotFound if a
// member's user does not exist.
func (s *Store) CreateGroup(ctx context.Context, g Group) (Group, error) {
	const op = "create group"
	if err := checkKey("group name", g.DisplayName); err != nil {
		return Group{}, fmt.Errorf("%s: %w", op, err)
	}
	ids, err := memberIDs(g.Members)
	if err != nil {
		return Group{}, fmt.Errorf("%s: %w", op, err)
	}
	if g.ID == "" {
		g.ID = uuid.NewString()
	}
	var out Group
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.timestamp()
		if _, err := tx.Exec(ctx, `INSERT INTO groups (id, display_name, description, version, created, last_modified)
			VALUES ($1, $2, $3, 0, $4, $4)`, g.ID, g.DisplayName, g.Description, now); err != nil {
			return err
		}
		if err := addMembers(ctx, tx, g.ID, ids); err != nil {
			return err
		}
		var err error
		out, err = s.getGroup(ctx, tx, "g.id = $1", g.ID)
		return err
	})
	if err != nil {
		return Group{}, wrap(op, err)
	}
	return out, nil
}

// GetGroup returns the group with the given ID, or ErrNotFound.
func (s *Store) GetGroup(ctx context.Context, id string) (Group, error) {
	g, err := s.getGroup(ctx, s.pool, "g.id = $1", id)
	return g, wrap("get group", err)
}

// GetGroupByName returns the group with the given display name, compared
// without regard to case, or ErrNotFound.
func (s *Store) GetGroupByName(ctx context.Context, name string) (Group, error) {
	g, err := s.getGroup(ctx, s.pool, "lower(g.display_name) = lower($1)", name)
	return g, wrap("get group by name", err)
}

// ListGroups returns one page of the groups matching opts.Filter, with
// their members, and the total number of matches. Filterable and sortable
// attributes: id, displayName, description, meta.created,
// meta.lastModified, meta.version, zoneId, and (filter only)
// members.value.
func (s *Store) ListGroups(ctx context.Context, opts ListOptions) (groups []Group, total int, err error) {
	const op = "list groups"
	countSQL, pageSQL, args, pageArgs, err := groupList.queries(opts)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", op, err)
	}
	err = s.inSnapshot(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, countSQL, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, pageSQL, pageArgs...)
		if err != nil {
			return err
		}
		groups, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Group, error) { return scanGroup(r) })
		if err != nil {
			return err
		}
		ids := make([]string, len(groups))
		for i, g := range groups {
			ids[i] = g.ID
		}
		members, err := groupMembers(ctx, tx, ids)
		if err != nil {
			return err
		}
		for i := range groups {
			if m := members[groups[i].ID]; m != nil {
				groups[i].Members = m
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, wrap(op, err)
	}
	return groups, total, nil
}

// UpdateGroup overwrites the group's display name and description, and,
// if g.Members is not nil, replaces its members; it bumps the version and
// returns the group. ifMatch is the version the caller read, or -1 to skip
// the check. ErrNotFound (also for a missing member's user),
// ErrVersionMismatch, or ErrConflict if the new name is taken.
func (s *Store) UpdateGroup(ctx context.Context, g Group, ifMatch int) (Group, error) {
	const op = "update group"
	if err := checkKey("group name", g.DisplayName); err != nil {
		return Group{}, fmt.Errorf("%s: %w", op, err)
	}
	ids, err := memberIDs(g.Members)
	if err != nil {
		return Group{}, fmt.Errorf("%s: %w", op, err)
	}
	var out Group
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE groups SET display_name = $2, description = $3,
			version = version + 1, last_modified = $4
			WHERE id = $1 AND ($5::bigint < 0 OR version = $5::bigint)`,
			g.ID, g.DisplayName, g.Description, s.timestamp(), ifMatch)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return versionOrNotFound(ctx, tx, "groups", g.ID)
		}
		if g.Members != nil {
			if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND member_id <> ALL($2)`, g.ID, ids); err != nil {
				return err
			}
			if err := addMembers(ctx, tx, g.ID, ids); err != nil {
				return err
			}
		}
		out, err = s.getGroup(ctx, tx, "g.id = $1", g.ID)
		return err
	})
	if err != nil {
		return Group{}, wrap(op, err)
	}
	return out, nil
}

// DeleteGroup deletes the group with its memberships and returns it as it
// was. ErrNotFound if there is none.
func (s *Store) DeleteGroup(ctx context.Context, id string) (Group, error) {
	var g Group
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if g, err = s.getGroup(ctx, tx, "g.id = $1 FOR UPDATE", id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM groups WHERE id = $1", id)
		return err
	})
	if err != nil {
		return Group{}, wrap("delete group", err)
	}
	return g, nil
}

// AddMember adds a user to a group and returns the membership.
// ErrConflict if the user is already a member, ErrNotFound if the group or
// the user does not exist, ErrInvalid for a type other than USER.
func (s *Store) AddMember(ctx context.Context, groupID string, m Member) (Member, error) {
	const op = "add member"
	if _, err := memberIDs([]Member{m}); err != nil {
		return Member{}, fmt.Errorf("%s: %w", op, err)
	}
	var out Member
	err := s.pool.QueryRow(ctx, `INSERT INTO group_members (group_id, member_id) VALUES ($1, $2)
		RETURNING member_id, member_type, (SELECT origin FROM users WHERE id = $2)`, groupID, m.ID).
		Scan(&out.ID, &out.Type, &out.Origin)
	if err != nil {
		return Member{}, wrap(op, err)
	}
	return out, nil
}

// RemoveMember removes a user from a group and returns the membership as it
// was. ErrNotFound if the user is not a member.
func (s *Store) RemoveMember(ctx context.Context, groupID, userID string) (Member, error) {
	var out Member
	err := s.pool.QueryRow(ctx, `DELETE FROM group_members WHERE group_id = $1 AND member_id = $2
		RETURNING member_id, member_type, (SELECT origin FROM users WHERE id = $2)`, groupID, userID).
		Scan(&out.ID, &out.Type, &out.Origin)
	if err != nil {
		return Member{}, wrap("remove member", err)
	}
	return out, nil
}

// EnsureGroup returns the group with the given display name, creating it
// with description if there is none. An existing group is not changed.
func (s *Store) EnsureGroup(ctx context.Context, name, description string) (Group, error) {
	const op = "ensure group"
	if err := checkKey("group name", name); err != nil {
		return Group{}, fmt.Errorf("%s: %w", op, err)
	}
	now := s.timestamp()
	_, err := s.pool.Exec(ctx, `INSERT INTO groups (id, display_name, description, version, created, last_modified)
		VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT ((lower(display_name))) DO NOTHING`,
		uuid.NewString(), name, description, now)
	if err != nil {
		return Group{}, wrap(op, err)
	}
	g, err := s.getGroup(ctx, s.pool, "lower(g.display_name) = lower($1)", name)
	if err != nil {
		return Group{}, wrap(op, err)
	}
	return g, nil
}

// EnsureMember makes the user a member of the group if it is not one
// already. ErrNotFound if the group or the user does not exist.
func (s *Store) EnsureMember(ctx context.Context, groupID, userID string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO group_members (group_id, member_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, groupID, userID)
	return wrap("ensure member", err)
}

// UserGroupNames returns the display names of the groups the user is a
// direct member of, sorted. It is empty for an unknown user.
func (s *Store) UserGroupNames(ctx context.Context, userID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT g.display_name FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.member_id = $1 ORDER BY g.display_name`, userID)
	if err != nil {
		return nil, wrap("user group names", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("user group names", err)
	}
	return names, nil
}
