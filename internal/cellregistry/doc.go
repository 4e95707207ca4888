// Package cellregistry is Diego's cell registry on a gossip cluster
// (hashicorp/memberlist, SWIM with Lifeguard): every rep joins the cluster
// and publishes its cell's presence as node metadata, and the BBS and the
// auctioneer join as observers that watch which cells are alive.
//
// # Members
//
// A cell member publishes a *bbsv1.CellPresence; its node name is its
// cell_id, so memberlist's unique names make cell ids unique. It changes
// the presence with [Registry.UpdateCell] as its capacity changes. An
// observer publishes only its role. The metadata envelope (meta.go) is one
// kind byte, one flags byte, then the proto bytes:
//
//	cell:     0x01 flags CellPresence…   (flags bit 0: leaving)
//	observer: 0x02 0x00
//
// Metadata from other members is untrusted: a member whose envelope does
// not decode, or whose cell_id is not its node name, is ignored, logged at
// Warn and counted in cellregistry_bad_metadata_total, once per metadata
// change.
//
// # Lifecycle
//
//	reg, err := cellregistry.New(cfg.Cells, cellregistry.Member{Cell: presence},
//		cellregistry.Deps{Logger: logger, Registerer: promReg})
//	if err != nil {
//		return err
//	}
//	g.Go(func() error { return reg.Run(ctx) }) // binds, closes Ready, joins in the background
//	...
//	err = reg.UpdateCell(newPresence) // a rep, whenever its capacity changes
//
// An observer passes cellregistry.Member{} and reads Cells or Subscribe.
//
// Run binds TCP and UDP on Bind, closes Ready and starts joining the seeds
// (Config.Join), one after the other, until one answers: a rep may start
// before any observer. Failed attempts are retried after JoinRetryInterval,
// doubling with jitter up to MaxJoinRetryInterval, and logged at Warn; Run
// never waits for them. Once joined, a member that becomes isolated — a
// cell that sees no observer alive, an observer that sees no one — joins
// the seeds again the same way, so cells find the control plane again after
// all its members restarted.
//
// When ctx ends, Run leaves gracefully: a cell first republishes its
// presence with the leaving flag, so that observers report Left at once and
// stop placing work on it, then memberlist broadcasts the leave, then shuts
// down; all within LeaveTimeout. A member that dies without leaving is
// declared failed by the others' probes: one probe round to notice it
// (ProbeInterval, plus ProbeTimeout and indirect probes), then
// SuspicionMult × ProbeInterval × max(1, log10(members)) of suspicion during
// which it may refute. With the defaults that is about 3 s for up to 10
// members (2.5–3.6 s measured on loopback with 3 and 10 members) and about
// 5 s for 100. In clusters of 4 or more the suspicion timer starts 6 times
// longer and shrinks to that bound as other members confirm the suspicion,
// which in a healthy cluster takes a probe round or two. memberlist has no
// callback for suspicion itself, so there is no "suspect" event: Failed
// comes when the suspicion ends.
//
// # Watching
//
// [Registry.Cells] and [Registry.Cell] answer from this member's view, with
// copies the caller owns. [Registry.Subscribe] delivers Joined, Updated,
// Left and Failed events, starting with a Joined for every current cell; a
// subscriber that falls behind gets one Resync instead of the events it
// missed, and then calls Cells:
//
//	events, cancel := reg.Subscribe(0)
//	defer cancel()
//	for ev := range events {
//		switch ev.Kind {
//		case cellregistry.Joined, cellregistry.Updated:
//			cells[ev.Cell.GetCellId()] = ev.Cell
//		case cellregistry.Left, cellregistry.Failed:
//			delete(cells, ev.Cell.GetCellId())
//		case cellregistry.Resync:
//			cells = byID(reg.Cells())
//		}
//	}
//
// # Concurrency and locks
//
// All methods are safe for concurrent use. memberlist calls the registry's
// event delegate with its own node lock held, and the delegate takes
// Registry.mu, so the lock order is memberlist's node lock → Registry.mu:
// no code may call into memberlist while holding Registry.mu. The other
// locks nest as lifeMu → updateMu → (memberlist) and metaMu is never held
// across a memberlist call. Subscriber channels are only sent to, drained
// and closed with Registry.mu held, which is what makes the Resync drain
// safe.
//
// memberlist's own log lines go through the registry's logger with
// lib=memberlist (DEBUG and INFO at Debug, WARN and ERR at Warn).
package cellregistry
