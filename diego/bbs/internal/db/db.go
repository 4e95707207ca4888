// Package db holds the BBS's Postgres schema. Each store package (lrps,
// tasks) owns its tables; the migrations live here so one goose sequence
// covers the whole database.
package db

import (
	"embed"
	"io/fs"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the migration directory for internal/pg.Migrate.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}
