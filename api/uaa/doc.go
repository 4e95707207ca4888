// Package uaa is the contract between Anvil's uaa daemon, which issues
// access tokens, and every daemon that accepts them (Cloud Controller,
// log-cache, the router's route API, ...).
//
// It holds only types and small pure helpers, no I/O:
//
//   - [JWK] and [JWKSet]: the public signing keys, in the JSON shape Cloud
//     Foundry's UAA serves at GET /token_key (one JWK) and GET /token_keys
//     (a JWKSet).
//   - [Claims]: the JSON claims of an RS256 access token, with the field
//     names UAA uses. Claims implements github.com/golang-jwt/jwt/v5's Claims
//     interface, so the issuer signs a Claims value directly and verifiers
//     parse into one.
//   - Scope, grant type and resource-id constants, and [ResourceIDs], which
//     derives the aud claim from scopes the way UAA does.
//
// Tokens are verified by internal/tokenverify; tests mint them with
// internal/tokenverify/tokentest.
//
// # What the cf CLI needs from a token
//
// The CLI decodes (never verifies) the access token, so the issuer must keep
// these properties (docs cf-cli-contract.md §0 rules 11–14 and §1.9):
//
//   - A 3-part JWS, raw base64url without padding, alg RS256, with a kid.
//   - exp as a JSON number, always.
//   - User tokens carry user_name, user_id and origin as strings (the CLI
//     panics if user_id or origin is missing); client tokens have no
//     user_name and carry client_id. [Claims] omits the user fields when they
//     are empty, so a client token never has "user_name":"".
//   - jti and revocable, for cf logout.
//
// # Compatibility
//
// This contract only grows. Fields and constants are added, never renamed,
// retyped or removed, and a JSON tag never changes meaning. New claims are
// added with omitempty, and every reader ignores claims it does not know
// (encoding/json does), so a verifier built against an older version keeps
// accepting tokens from a newer issuer, and the other way round. A change
// that cannot follow this rule needs a new key/claim name, not an edit.
//
// History:
//
//   - v1: JWK, JWKSet, Claims (UAA's access-token claims plus nbf), scopes,
//     grant types, ResourceIDs.
package uaa
