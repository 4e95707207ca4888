// Package router is the NATS contract between the gorouter and the
// processes that tell it where routes live (cells' route emitters, the
// route registrar on platform VMs). It follows Cloud Foundry's routing
// protocol so CF-style emitters work unchanged.
//
// It holds only subjects, message types and validation, no I/O.
//
// # Protocol
//
//   - [SubjectGreet] ("router.greet"): a new emitter sends a request with a
//     reply inbox; every router answers with a [StartMessage].
//   - [SubjectStart] ("router.start"): a router publishes a [StartMessage]
//     when it starts (and periodically), telling emitters how often to
//     register (MinimumRegisterIntervalInSeconds) and after how long an
//     unrefreshed endpoint is pruned (PruneThresholdInSeconds).
//   - [SubjectRegister] ("router.register"): an emitter publishes a
//     [RegistryMessage] for each endpoint at least every register interval.
//     The first message adds the endpoint to each of its URIs, later ones
//     refresh it.
//   - [SubjectUnregister] ("router.unregister"): the same [RegistryMessage]
//     removes the endpoint from the listed URIs at once.
//
// A URI is a host with an optional path ("app.example.com",
// "app.example.com/api", "*.example.com"). Routers parse every message
// with [ParseRegistryMessage], which bounds its size and rejects anything
// the route table cannot use; every rejection wraps [ErrInvalidMessage].
//
// # Compatibility
//
// This contract only grows: JSON fields are added and never renamed,
// retyped or removed, and readers ignore fields they do not know. CF's
// emitters send no version, so a message without one is [Version] 1.
//
// History (the value of [Version]):
//
//   - 1: CF's routing protocol as of gorouter 0.x: subjects router.register,
//     router.unregister, router.start, router.greet; RegistryMessage fields
//     host, port, tls_port, uris, app, private_instance_id,
//     private_instance_index, server_cert_domain_san, route_service_url,
//     tags, isolation_segment, protocol, endpoint_updated_at_ns, options
//     (loadbalancing, hash_header, hash_balance); StartMessage fields id,
//     hosts, minimumRegisterIntervalInSeconds, pruneThresholdInSeconds;
//     optional "version" field added by Anvil.
package router
