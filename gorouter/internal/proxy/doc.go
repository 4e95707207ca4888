// Package proxy is the core of the gorouter: an http.Handler that routes
// each request by its Host and path to an endpoint of the route table
// (package registry) and forwards it with httputil.ReverseProxy over a
// shared keep-alive transport.
//
// # Usage
//
//	p := proxy.New(proxy.Config{ResponseTimeout: 60 * time.Second},
//		proxy.Deps{Registry: reg, Logger: logger})
//	srv := &http.Server{Handler: p}
//
// # Errors
//
// As in Cloud Foundry, errors the router itself answers carry the
// X-Cf-Routererror header and a one-line plain-text body:
//
//	400 empty_host                      no Host
//	404 unknown_route                   no route for host and path
//	400 invalid_cf_app_instance_header  X-Cf-App-Instance not "<guid>:<index>"
//	400 unknown_route                   X-Cf-App-Instance names no endpoint of the route
//	503 no_endpoints                    route known, pool empty
//	502 endpoint_failure                backend unreachable or failed
//	504 endpoint_failure                no response headers within ResponseTimeout
//
// # Retries
//
// When dialing an endpoint fails, the request goes to another endpoint of
// the pool not tried yet, up to Config.MaxTries endpoints in all, provided
// it can be sent again: it has no body, or its method is idempotent and
// none of the body was read. A request pinned with X-Cf-App-Instance is
// not retried.
//
// # Headers to backends
//
// X-Forwarded-For gets the client IP appended; X-Forwarded-Proto is kept
// when present, else set from the connection's TLS state; X-Request-Start
// is the arrival time in Unix milliseconds; X-Vcap-Request-Id is a new
// UUID unless present; X-Cf-ApplicationID, X-Cf-InstanceID and
// X-Cf-InstanceIndex describe the chosen endpoint. The Host header is
// passed unchanged. Upgrades (WebSocket) are tunnelled by ReverseProxy.
//
// # Leases
//
// The endpoint's lease (its in-flight count, used by least-connection
// balancing) is released when the response has been copied to the client
// or the upgraded connection closes.
package proxy
