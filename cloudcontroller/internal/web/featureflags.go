package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/query"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// maxFlagErrorMessage bounds custom_error_message (CF's 250).
const maxFlagErrorMessage = 250

// adminSkippableFlags do not apply to admins (CF's ADMIN_SKIPPABLE).
var adminSkippableFlags = []string{
	store.FlagAppBitsUpload, store.FlagAppScaling, store.FlagSetRolesByUsername,
	store.FlagSpaceDeveloperEnvVarVisibility, store.FlagTaskCreation, store.FlagUnsetRolesByUsername,
}

type featureFlagJSON struct {
	Name               string          `json:"name"`
	Enabled            bool            `json:"enabled"`
	UpdatedAt          *string         `json:"updated_at"`
	CustomErrorMessage *string         `json:"custom_error_message"`
	Links              map[string]Link `json:"links"`
}

func (s *Server) featureFlagJSON(f store.FeatureFlag) featureFlagJSON {
	out := featureFlagJSON{
		Name: f.Name, Enabled: f.Enabled, CustomErrorMessage: strOrNil(f.ErrorMessage),
		Links: map[string]Link{"self": {Href: s.url("/v3/feature_flags/" + f.Name)}},
	}
	if f.UpdatedAt != nil {
		ts := timestamp(*f.UpdatedAt)
		out.UpdatedAt = &ts
	}
	return out
}

var featureFlagListSpec = query.Spec{OrderBy: []string{"name"}, Timestamps: true}

func (s *Server) registerFeatureFlags() {
	s.authed("GET /v3/feature_flags", s.listFeatureFlags)
	s.authed("GET /v3/feature_flags/{name}", s.getFeatureFlag)
	s.authed("PATCH /v3/feature_flags/{name}", s.updateFeatureFlag)
}

// listFeatureFlags is GET /v3/feature_flags: every flag, set or default,
// ordered by name unless order_by says otherwise. The flags are few, so
// filtering and paging happen here.
func (s *Server) listFeatureFlags(w http.ResponseWriter, r *http.Request, _ *Actor) error {
	l, err := query.Parse(r.URL.Query(), featureFlagListSpec)
	if err != nil {
		return err
	}
	if !l.Values().Has("order_by") {
		l.OrderBy = "name"
	}
	flags, err := s.store.FeatureFlags(r.Context())
	if err != nil {
		return err
	}
	flags = slices.DeleteFunc(flags, func(f store.FeatureFlag) bool {
		for _, tf := range l.Times {
			t := f.UpdatedAt
			if tf.Field == "created_at" {
				t = f.CreatedAt
			}
			if !timeMatches(t, tf) {
				return true
			}
		}
		return false
	})
	slices.SortFunc(flags, func(a, b store.FeatureFlag) int {
		c := 0
		switch l.OrderBy {
		case "created_at":
			c = compareTimes(a.CreatedAt, b.CreatedAt)
		case "updated_at":
			c = compareTimes(a.UpdatedAt, b.UpdatedAt)
		}
		if c == 0 {
			c = strings.Compare(a.Name, b.Name)
		}
		if l.Desc {
			c = -c
		}
		return c
	})
	total := len(flags)
	page := flags[min(l.Offset(), total):min(l.Offset()+l.PerPage, total)]
	out := make([]featureFlagJSON, 0, len(page))
	for _, f := range page {
		out = append(out, s.featureFlagJSON(f))
	}
	return writeJSON(w, http.StatusOK, list{Pagination: l.Pagination(s.url("/v3/feature_flags"), total), Resources: out})
}

// timeMatches applies a created_ats/updated_ats filter to a flag's
// timestamp; a default flag has none and never matches.
func timeMatches(t *time.Time, tf query.TimeFilter) bool {
	if t == nil {
		return false
	}
	switch tf.Op {
	case "lt":
		return t.Before(tf.Times[0])
	case "lte":
		return !t.After(tf.Times[0])
	case "gt":
		return t.After(tf.Times[0])
	case "gte":
		return !t.Before(tf.Times[0])
	}
	for _, x := range tf.Times {
		if t.Equal(x) {
			return true
		}
	}
	return false
}

// compareTimes orders nil (never set) first.
func compareTimes(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}

func (s *Server) featureFlag(ctx context.Context, name string) (store.FeatureFlag, error) {
	f, err := s.store.FeatureFlag(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return f, apierr.NotFound("Feature flag")
	}
	return f, err
}

func (s *Server) getFeatureFlag(w http.ResponseWriter, r *http.Request, _ *Actor) error {
	f, err := s.featureFlag(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.featureFlagJSON(f))
}

type featureFlagBody struct {
	Enabled *bool `json:"enabled"`
	// CustomErrorMessage is raw so that null (clear) differs from absent.
	CustomErrorMessage json.RawMessage `json:"custom_error_message"`
}

func (s *Server) updateFeatureFlag(w http.ResponseWriter, r *http.Request, a *Actor) error {
	f, err := s.featureFlag(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if !a.Admin() {
		return apierr.NotAuthorized()
	}
	var b featureFlagBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Enabled != nil {
		f.Enabled = *b.Enabled
	}
	if b.CustomErrorMessage != nil {
		msg, err := flagErrorMessage(b.CustomErrorMessage)
		if err != nil {
			return err
		}
		f.ErrorMessage = msg
	}
	updated, err := s.store.SetFeatureFlag(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.featureFlagJSON(updated))
}

// flagErrorMessage validates custom_error_message: null or "" clears it;
// otherwise printable text of at most 250 characters.
func flagErrorMessage(raw json.RawMessage) (string, error) {
	var msg *string
	if err := json.Unmarshal(raw, &msg); err != nil {
		return "", apierr.Unprocessable("Custom error message must be a string")
	}
	if msg == nil {
		return "", nil
	}
	if len([]rune(*msg)) > maxFlagErrorMessage {
		return "", apierr.Unprocessable(fmt.Sprintf("Custom error message is too long (maximum is %d characters)", maxFlagErrorMessage))
	}
	if strings.IndexFunc(*msg, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", apierr.Unprocessable("Custom error message must contain only printable characters")
	}
	return *msg, nil
}

// flagEnabled reports whether feature flag name is on, for handlers that
// a flag gates. An unknown name is an error: flag names are the
// store.Flag… constants.
func (s *Server) flagEnabled(ctx context.Context, name string) (bool, error) {
	return s.store.FeatureFlagEnabled(ctx, name)
}

// requireFlag fails with CF's 403 FeatureDisabled unless flag name is on.
// Admins pass the flags CF lets them skip (app_scaling, task_creation, …).
func (s *Server) requireFlag(ctx context.Context, a *Actor, name string) error {
	if a != nil && a.Admin() && slices.Contains(adminSkippableFlags, name) {
		return nil
	}
	f, err := s.store.FeatureFlag(ctx, name)
	if err != nil {
		return err
	}
	if !f.Enabled {
		return featureDisabled(f)
	}
	return nil
}

// featureDisabled is CF's error for a disabled flag (CF-FeatureDisabled,
// 330002): "Feature Disabled: <custom message or flag name>".
func featureDisabled(f store.FeatureFlag) *apierr.Error {
	msg := f.Name
	if f.ErrorMessage != "" {
		msg = f.ErrorMessage
	}
	return &apierr.Error{Status: http.StatusForbidden, Code: 330002, Title: "CF-FeatureDisabled", Detail: "Feature Disabled: " + msg}
}

// requireUserOrgCreation lets a non-admin create an organization only
// while user_org_creation is on (CF answers 403 NotAuthorized otherwise).
func (s *Server) requireUserOrgCreation(ctx context.Context) error {
	ok, err := s.flagEnabled(ctx, store.FlagUserOrgCreation)
	if err != nil {
		return err
	}
	if !ok {
		return apierr.NotAuthorized()
	}
	return nil
}

// grantOrgCreator makes a non-admin who created an organization (through
// user_org_creation) its organization_user and organization_manager, as CF
// does, recording the role events. If that fails the organization is
// deleted again, so it never exists without a manager. Admins get no roles.
func (s *Server) grantOrgCreator(r *http.Request, a *Actor, o store.Org) error {
	if a.Admin() {
		return nil
	}
	var roles []store.Role
	for _, typ := range []string{store.OrgUser, store.OrgManager} {
		ro, err := s.store.CreateRole(r.Context(), store.Role{Type: typ, UserGUID: a.GUID, OrgGUID: o.GUID})
		if err != nil {
			if derr := s.store.DeleteOrg(context.WithoutCancel(r.Context()), o.GUID); derr != nil {
				s.logger.Error("undo organization create", "method", r.Method, "path", r.URL.Path, "org", o.GUID, "err", derr)
			}
			return fmt.Errorf("grant organization creator roles: %w", err)
		}
		roles = append(roles, ro)
	}
	for _, ro := range roles {
		s.auditRole(r, a, ro, o.GUID, "add")
	}
	return nil
}
