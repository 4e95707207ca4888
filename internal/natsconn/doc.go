// Package natsconn opens NATS client connections the way every Anvil
// component needs them: they never give up.
//
// [Connect] waits until the first connection succeeds or ctx is done (the
// server may start after the component). From then on the connection
// reconnects forever with capped exponential backoff and jitter, buffering
// publishes and restoring subscriptions, and logs each state change:
// connected, disconnected (with the error), reconnected (with the server URL),
// closed, and asynchronous errors such as slow consumers. Server URLs are
// logged without passwords.
//
//	nc, err := natsconn.Connect(ctx, natsconn.Config{URL: cfg.NATS.URL, Name: "gorouter"}, logger)
//	if err != nil {
//		return err
//	}
//	defer nc.Drain()
package natsconn
