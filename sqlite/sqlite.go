// Package sqlite opens socbot's embedded database: a SQLite file in WAL mode through the pure-Go
// modernc.org/sqlite driver, with socbot's SQLite migration set applied at open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	socbot "github.com/socbot/socbot"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Engine is the engine name sqlstore uses for SQLite.
const Engine = "sqlite"

// Option changes how Open sets up the connections.
type Option func(*options)

type options struct{ manualCheckpoints bool }

// ManualCheckpoints turns SQLite's automatic checkpoints off: a commit then never pays for copying the
// write-ahead log into the database file, and the server runs Checkpoint in the background instead.
func ManualCheckpoints() Option { return func(o *options) { o.manualCheckpoints = true } }

// Open opens (creating if needed) the SQLite database at path and migrates it to the newest schema.
// The connection uses WAL journaling, synchronous=NORMAL (an application crash loses no committed
// transaction), a busy timeout, and BEGIN IMMEDIATE for every transaction so writers queue instead of
// failing to upgrade their locks.
func Open(ctx context.Context, path string, logger *slog.Logger, opts ...Option) (*sql.DB, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	checkpoint := "wal_autocheckpoint(4000)"
	if o.manualCheckpoints {
		checkpoint = "wal_autocheckpoint(0)"
	}
	const op = "sqlite.Open"
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, socbot.E(op, socbot.KindUnavailable, err)
		}
	}
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"busy_timeout(15000)",
		"foreign_keys(ON)",
		"cache_size(-65536)",
		"temp_store(MEMORY)",
		checkpoint,
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, socbot.E(op, socbot.KindUnavailable, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, socbot.E(op, socbot.KindUnavailable, fmt.Sprintf("open %s", path), err)
	}
	if err := Migrate(ctx, db, logger); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies every SQLite migration not yet applied.
func Migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	const op = "sqlite.Migrate"
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return socbot.E(op, err)
	}
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true), goose.WithDisableGlobalRegistry(true)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, opts...)
	if err != nil {
		return socbot.E(op, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return socbot.E(op, socbot.KindUnavailable, "migrate", err)
	}
	return nil
}

// Checkpoint copies the write-ahead log into the database file every interval until ctx ends, for a
// database opened with ManualCheckpoints. PASSIVE checkpoints never block readers or writers; once a
// checkpoint has copied every frame, SQLite starts the log over at the next write, so it stays bounded.
func Checkpoint(ctx context.Context, db *sql.DB, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var busy, logFrames, copied int
		if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err != nil && ctx.Err() == nil && logger != nil {
			logger.Warn("WAL checkpoint failed", "err", err)
		}
	}
}
