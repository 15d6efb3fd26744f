// Package postgres opens socbot's database on a PostgreSQL server through pgx, with socbot's
// PostgreSQL migration set applied at open under an advisory lock, so many nodes may start at once.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"
	"log/slog"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	socbot "github.com/socbot/socbot"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Engine is the engine name sqlstore uses for PostgreSQL.
const Engine = "postgres"

// Open connects to the PostgreSQL server at url (postgres://user:pass@host:port/db?sslmode=...) and
// migrates the database to the newest schema.
func Open(ctx context.Context, url string, logger *slog.Logger) (*sql.DB, error) {
	const op = "postgres.Open"
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, socbot.E(op, socbot.KindUnavailable, err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, socbot.E(op, socbot.KindUnavailable, "connect", err)
	}
	if err := Migrate(ctx, db, logger); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies every PostgreSQL migration not yet applied, holding a session advisory lock.
func Migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	const op = "postgres.Migrate"
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return socbot.E(op, err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return socbot.E(op, err)
	}
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true), goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, opts...)
	if err != nil {
		return socbot.E(op, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return socbot.E(op, socbot.KindUnavailable, "migrate", err)
	}
	return nil
}
