// Package pg holds the Postgres client plumbing shared by Anvil components:
// a pgx connection pool that waits for the database to come up, and schema
// migrations with goose.
//
// Components start in any order, so [Connect] retries with capped exponential
// backoff (and a little jitter) until the database answers or ctx is done,
// logging every failed attempt. It never logs the password.
//
// Each component keeps its migrations as numbered goose SQL files
// (00001_create_apps.sql, with -- +goose Up / -- +goose Down sections)
// embedded in its binary, in its own database, and applies them at start-up:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//
//	pool, err := pg.Connect(ctx, cfg.DB, logger)
//	...
//	sub, _ := fs.Sub(migrations, "migrations")
//	if err := pg.Migrate(ctx, pool, sub, logger); err != nil { ... }
//
// [Migrate] holds a Postgres advisory lock while it runs, so several instances
// of a component can start at once; the later ones wait and then find
// nothing to do. Versions are recorded in goose's default table,
// goose_db_version, so two migration sets must not share a database.
package pg
