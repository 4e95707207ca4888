package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// Actor is the authenticated caller of a request.
type Actor struct {
	GUID     string // UAA user id, or the client id for client tokens
	Username string
	Origin   string
	Client   bool
	scopes   []string

	store      *store.Store
	accessOnce sync.Once
	access     store.Access
	accessErr  error
}

// authenticate verifies the bearer token and records the user.
func (s *Server) authenticate(r *http.Request) (*Actor, error) {
	h := r.Header.Get("Authorization")
	if strings.TrimSpace(h) == "" {
		return nil, apierr.NotAuthenticated()
	}
	c, err := s.verify.Verify(r.Context(), h)
	if err != nil {
		return nil, apierr.InvalidAuthToken()
	}
	a := &Actor{scopes: c.Scope, store: s.store}
	if c.IsClient() {
		a.GUID, a.Client = c.ClientID, true
	} else {
		a.GUID, a.Username, a.Origin = c.UserID, c.UserName, c.Origin
	}
	if a.GUID == "" {
		return nil, apierr.InvalidAuthToken()
	}
	if !a.CanRead() {
		return nil, apierr.NotAuthorized()
	}
	// CF creates the CC user on first contact; its name is cached so that
	// roles can be given by username without asking UAA. Users already
	// recorded by this process are not written again.
	if err := s.ensureUser(r.Context(), a); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Actor) has(scope string) bool { return slices.Contains(a.scopes, scope) }

// Admin is cloud_controller.admin: may do anything.
func (a *Actor) Admin() bool { return a.has(apiuaa.ScopeCloudControllerAdmin) }

// GlobalReader may read everything: admin, admin_read_only, global_auditor.
func (a *Actor) GlobalReader() bool {
	return a.Admin() || a.has(apiuaa.ScopeCloudControllerAdminReadOnly) || a.has(apiuaa.ScopeCloudControllerGlobalAuditor)
}

// CanRead reports whether the token allows reading at all.
func (a *Actor) CanRead() bool { return a.GlobalReader() || a.has(apiuaa.ScopeCloudControllerRead) }

// CanWrite reports whether the token allows writing at all
// (cloud_controller.write or admin).
func (a *Actor) CanWrite() bool { return a.Admin() || a.has(apiuaa.ScopeCloudControllerWrite) }

// requireWrite fails unless the token may write.
func (a *Actor) requireWrite() error {
	if !a.CanWrite() {
		return apierr.NotAuthorized()
	}
	return nil
}

// Access loads the caller's roles (once per request).
func (a *Actor) Access(ctx context.Context) (store.Access, error) {
	a.accessOnce.Do(func() { a.access, a.accessErr = a.store.UserAccess(ctx, a.GUID) })
	return a.access, a.accessErr
}

// VisibleOrgs returns the organizations the caller can see through roles
// (an org role, or any role in one of its spaces).
func (a *Actor) VisibleOrgs(ctx context.Context) ([]string, error) {
	acc, err := a.Access(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for org := range acc.OrgRoles {
		if !seen[org] {
			seen[org] = true
			out = append(out, org)
		}
	}
	for _, org := range acc.SpaceOrgs {
		if !seen[org] {
			seen[org] = true
			out = append(out, org)
		}
	}
	return nonNil(out), nil
}

// HasOrgRole reports whether the caller holds one of types in org.
func (a *Actor) HasOrgRole(ctx context.Context, org string, types ...string) (bool, error) {
	acc, err := a.Access(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range acc.OrgRoles[org] {
		if slices.Contains(types, t) {
			return true, nil
		}
	}
	return false, nil
}

// HasSpaceRole reports whether the caller holds one of types in space.
func (a *Actor) HasSpaceRole(ctx context.Context, space string, types ...string) (bool, error) {
	acc, err := a.Access(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range acc.SpaceRoles[space] {
		if slices.Contains(types, t) {
			return true, nil
		}
	}
	return false, nil
}

// SpaceVisibility returns the spaces the caller sees directly (a space
// role) and the organizations whose every space it sees (org manager).
func (a *Actor) SpaceVisibility(ctx context.Context) (spaces, managedOrgs []string, err error) {
	acc, err := a.Access(ctx)
	if err != nil {
		return nil, nil, err
	}
	for sp := range acc.SpaceRoles {
		spaces = append(spaces, sp)
	}
	for org, types := range acc.OrgRoles {
		if slices.Contains(types, store.OrgManager) {
			managedOrgs = append(managedOrgs, org)
		}
	}
	return nonNil(spaces), nonNil(managedOrgs), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// knownUsers remembers users this process has recorded, so that a request
// does not cost a database write.
type knownUsers struct {
	mu    sync.Mutex
	users map[string]string // guid → username
}

const maxKnownUsers = 100_000

func (s *Server) ensureUser(ctx context.Context, a *Actor) error {
	k := &s.known
	k.mu.Lock()
	name, ok := k.users[a.GUID]
	k.mu.Unlock()
	if ok && name == a.Username {
		return nil
	}
	if _, err := s.store.EnsureUser(ctx, store.User{GUID: a.GUID, Username: a.Username, Origin: a.Origin}); err != nil {
		return err
	}
	k.mu.Lock()
	if k.users == nil || len(k.users) >= maxKnownUsers {
		k.users = map[string]string{}
	}
	k.users[a.GUID] = a.Username
	k.mu.Unlock()
	return nil
}

func (k *knownUsers) forget(guid string) {
	k.mu.Lock()
	delete(k.users, guid)
	k.mu.Unlock()
}
