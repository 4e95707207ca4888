package uaa

import "strings"

// Scopes Cloud Foundry components check. A scope's resource ID is the part
// before its last dot (see [ResourceIDs]).
const (
	// Cloud Controller.
	ScopeCloudControllerAdmin         = "cloud_controller.admin"
	ScopeCloudControllerRead          = "cloud_controller.read"
	ScopeCloudControllerWrite         = "cloud_controller.write"
	ScopeCloudControllerAdminReadOnly = "cloud_controller.admin_read_only"
	ScopeCloudControllerGlobalAuditor = "cloud_controller.global_auditor"
	// UAA itself: users, groups, clients and token checks.
	ScopeSCIMRead      = "scim.read"
	ScopeSCIMWrite     = "scim.write"
	ScopePasswordWrite = "password.write"
	ScopeClientsRead   = "clients.read"
	ScopeClientsWrite  = "clients.write"
	ScopeUAAUser       = "uaa.user"
	ScopeUAAAdmin      = "uaa.admin"
	ScopeUAAResource   = "uaa.resource" // may call /check_token
	ScopeUAANone       = "uaa.none"     // what a client with no authorities gets
	ScopeOpenID        = "openid"
	// Logs and metrics (log-cache, firehose).
	ScopeDopplerFirehose = "doppler.firehose"
	ScopeLogsAdmin       = "logs.admin"
	// Routing API.
	ScopeRoutingRouterGroupsRead  = "routing.router_groups.read"
	ScopeRoutingRouterGroupsWrite = "routing.router_groups.write"
	ScopeRoutingRoutesRead        = "routing.routes.read"
	ScopeRoutingRoutesWrite       = "routing.routes.write"
)

// Resource IDs: values of the aud claim that a resource server checks for.
const (
	ResourceCloudController = "cloud_controller"
	ResourceDoppler         = "doppler"
)

// Grant types, the values of the grant_type claim.
const (
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	GrantAuthorizationCode = "authorization_code"
	GrantImplicit          = "implicit"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// Defaults of the default identity zone.
const (
	// OriginUAA is the origin of users stored in UAA itself.
	OriginUAA = "uaa"
	// ZoneUAA is the ID of the default identity zone.
	ZoneUAA = "uaa"
)

// ResourceIDs returns the aud claim UAA gives a token for clientID with
// scopes: the client ID, then each scope's resource ID (the part before the
// last dot, or the whole scope when it has no dot), without duplicates, in
// first-seen order. For example cloud_controller.read and
// routing.router_groups.read give "cloud_controller" and
// "routing.router_groups".
func ResourceIDs(clientID string, scopes []string) []string {
	out := make([]string, 0, len(scopes)+1)
	seen := make(map[string]bool, len(scopes)+1)
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(clientID)
	for _, s := range scopes {
		if i := strings.LastIndexByte(s, '.'); i >= 0 {
			s = s[:i]
		}
		add(s)
	}
	return out
}
