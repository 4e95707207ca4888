package uaa

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// bootstrap creates the configured groups, users and clients. It is
// idempotent: groups and users that exist are kept (a user's password is
// not reset), missing memberships are added, and clients are overwritten so
// that config changes to them take effect.
func bootstrap(ctx context.Context, st *store.Store, b Bootstrap, defaultGroups []string, cost int) error {
	groups := map[string]string{}
	for _, g := range defaultGroups {
		grp, err := st.EnsureGroup(ctx, g, "")
		if err != nil {
			return fmt.Errorf("default group %s: %w", g, err)
		}
		groups[g] = grp.ID
	}
	for _, g := range b.Groups {
		grp, err := st.EnsureGroup(ctx, g.Name, g.Description)
		if err != nil {
			return fmt.Errorf("group %s: %w", g.Name, err)
		}
		groups[g.Name] = grp.ID
	}
	for _, u := range b.Users {
		user, err := st.GetUserByName(ctx, u.Username, "uaa")
		if errors.Is(err, store.ErrNotFound) {
			hash, herr := bcrypt.GenerateFromPassword([]byte(u.Password), cost)
			if herr != nil {
				return fmt.Errorf("user %s: %w", u.Username, herr)
			}
			email := u.Email
			if email == "" {
				email = u.Username
			}
			user, err = st.CreateUser(ctx, store.User{
				Username: u.Username, Origin: "uaa", Email: email, PasswordHash: hash, Active: true, Verified: true,
			})
		}
		if err != nil {
			return fmt.Errorf("user %s: %w", u.Username, err)
		}
		for _, g := range u.Groups {
			id, ok := groups[g]
			if !ok {
				grp, err := st.EnsureGroup(ctx, g, "")
				if err != nil {
					return fmt.Errorf("group %s: %w", g, err)
				}
				id = grp.ID
				groups[g] = id
			}
			if err := st.EnsureMember(ctx, id, user.ID); err != nil {
				return fmt.Errorf("user %s in group %s: %w", u.Username, g, err)
			}
		}
	}
	for _, c := range b.Clients {
		cl := store.Client{
			ID: c.ID, Name: c.Name, Scope: c.Scope, Authorities: c.Authorities, GrantTypes: c.GrantTypes,
			RedirectURIs: c.RedirectURIs, AutoApprove: c.AutoApprove,
			AccessTokenValidity: seconds(c.AccessTokenValidity), RefreshTokenValidity: seconds(c.RefreshTokenValidity),
		}
		if c.Secret != "" {
			// Keep the stored hash when the secret is unchanged, so that a
			// restart does not pay for bcrypt or churn rev_sig.
			if old, err := st.GetClient(ctx, c.ID); err == nil && len(old.SecretHash) > 0 &&
				bcrypt.CompareHashAndPassword(old.SecretHash, []byte(c.Secret)) == nil {
				cl.SecretHash = old.SecretHash
			} else {
				h, err := bcrypt.GenerateFromPassword([]byte(c.Secret), cost)
				if err != nil {
					return fmt.Errorf("client %s: %w", c.ID, err)
				}
				cl.SecretHash = h
			}
		}
		if _, err := st.UpsertClient(ctx, cl); err != nil {
			return fmt.Errorf("client %s: %w", c.ID, err)
		}
	}
	return nil
}

func seconds(d time.Duration) int { return int(d / time.Second) }
