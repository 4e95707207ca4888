// Package natsembed runs a NATS server (github.com/nats-io/nats-server/v2)
// inside the current process, for the `anvil dev up` launcher and for tests.
//
// [Start] returns once the server accepts client connections; [Server.Shutdown]
// stops it and may be called more than once. The server never installs signal
// handlers (NoSigs): the process that embeds it owns shutdown. Its log lines
// go to the *slog.Logger given to Start: notices at Info, warnings at Warn,
// errors and fatal errors at Error (a fatal error never exits the process),
// debug lines at Debug when the logger enables Debug, trace lines never.
//
// JetStream is enabled when Config.StoreDir is set and stores its data there.
//
//	srv, err := natsembed.Start(ctx, natsembed.Config{Port: 4222}, logger)
//	if err != nil {
//		return err
//	}
//	defer srv.Shutdown()
//	url := srv.ClientURL() // nats://127.0.0.1:4222
package natsembed
