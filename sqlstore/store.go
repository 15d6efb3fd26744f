// Package sqlstore is socbot's system of record on database/sql: one implementation of the store
// interfaces for both SQLite and PostgreSQL. The sqlite and postgres packages open the connection and
// apply their own migration set; the SQL here is written once, with ? placeholders rebound for
// PostgreSQL, and times kept as integer microseconds so that both engines compare them alike.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

// Engine names, as returned by sqlite.Engine and postgres.Engine.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store implements socbot.Store on a *sql.DB.
type Store struct {
	db     *sql.DB
	engine string
	clock  socbot.Clock
	log    *slog.Logger

	// writeMu serialises this process's write transactions on SQLite, which has one writer at a time:
	// waiting on a mutex is far cheaper than SQLite's sleeping busy handler.
	writeMu sync.Mutex
	rebinds sync.Map // query -> query with $n placeholders (PostgreSQL)
	stmts   sync.Map // query -> *sql.Stmt prepared on db, for the hot paths
}

var _ socbot.Store = (*Store)(nil)

// New returns a store over db, which must already be migrated. engine is SQLite or Postgres.
func New(db *sql.DB, engine string, clock socbot.Clock, logger *slog.Logger) *Store {
	if clock == nil {
		clock = socbot.SystemClock{}
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Store{db: db, engine: engine, clock: clock, log: logger}
}

// DB returns the underlying database, for tests and for other packages' tables.
func (s *Store) DB() *sql.DB { return s.db }

// Engine returns SQLite or Postgres.
func (s *Store) Engine() string { return s.engine }

// Close closes the cached statements and the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// q rewrites ? placeholders to $1, $2, ... for PostgreSQL.
func (s *Store) q(query string) string {
	if s.engine != Postgres {
		return query
	}
	if v, ok := s.rebinds.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	out := b.String()
	s.rebinds.Store(query, out)
	return out
}

// prepared returns the statement for query inside tx, prepared once per connection and cached: on
// the triage hot path, parsing SQL would otherwise cost more than executing it.
func (s *Store) prepared(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	query = s.q(query)
	v, ok := s.stmts.Load(query)
	if !ok {
		st, err := s.db.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		if v, ok = s.stmts.LoadOrStore(query, st); ok {
			st.Close()
		}
	}
	return tx.StmtContext(ctx, v.(*sql.Stmt)), nil
}

// tx runs fn in a write transaction, committing if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.engine == SQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return dbErr("sqlstore.tx", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbErr("sqlstore.tx", err)
	}
	return nil
}

// dbErr classifies a database error.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *socbot.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return socbot.E(op, socbot.KindNotFound, "not found")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return socbot.E(op, socbot.KindUnavailable, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "UNIQUE constraint") || strings.Contains(msg, "duplicate key") || strings.Contains(msg, "SQLSTATE 23505") {
		return socbot.E(op, socbot.KindConflict, "already exists", err)
	}
	if strings.Contains(msg, "FOREIGN KEY") || strings.Contains(msg, "SQLSTATE 23503") {
		return socbot.E(op, socbot.KindInvalid, "refers to something that does not exist", err)
	}
	return socbot.E(op, err)
}

// us converts a time to stored microseconds.
func us(t time.Time) int64 { return t.UnixMicro() }

// fromUS converts stored microseconds to a UTC time.
func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullUS converts an optional time to a nullable column value.
func nullUS(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// optTime converts a nullable column to an optional time.
func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

// js marshals v to a JSON string for a TEXT column.
func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// jsStrings writes a string slice as a JSON array ([] for nil) without reflection.
func jsStrings(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	var b strings.Builder
	n := 2
	for _, s := range v {
		n += len(s) + 3
	}
	b.Grow(n)
	b.WriteByte('[')
	for i, s := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, s)
	}
	b.WriteByte(']')
	return b.String()
}

// unjs unmarshals a JSON TEXT column into v, ignoring empty text.
func unjs(s string, v any) {
	if s == "" {
		return
	}
	_ = json.Unmarshal([]byte(s), v)
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// execer is a *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// bumpConfig increments the tenant's config version inside tx.
func (s *Store) bumpConfig(ctx context.Context, tx *sql.Tx, tenantID string) error {
	_, err := tx.ExecContext(ctx, s.q(`UPDATE tenants SET config_version = config_version + 1 WHERE id = ?`), tenantID)
	return err
}
