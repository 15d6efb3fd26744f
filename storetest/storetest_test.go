package storetest_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/socbot/socbot/postgres"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
	"github.com/socbot/socbot/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var epoch = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Instance {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "socbot.db"), quiet)
		if err != nil {
			t.Fatal(err)
		}
		clock := storetest.NewClock(epoch)
		s := sqlstore.New(db, sqlstore.SQLite, clock, quiet)
		t.Cleanup(func() { s.Close() })
		return storetest.Instance{Store: s, Engine: sqlstore.SQLite, Clock: clock, Exec: execer(db)}
	})
}

func TestPostgres(t *testing.T) {
	base := PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	n := 0
	storetest.Run(t, func(t *testing.T) storetest.Instance {
		n++
		name := fmt.Sprintf("socbot_storetest_%d_%d", os.Getpid(), n)
		if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(base)
		u.Path = "/" + name
		db, err := postgres.Open(context.Background(), u.String(), quiet)
		if err != nil {
			t.Fatal(err)
		}
		clock := storetest.NewClock(epoch)
		s := sqlstore.New(db, sqlstore.Postgres, clock, quiet)
		t.Cleanup(func() {
			s.Close()
			admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		})
		return storetest.Instance{Store: s, Engine: sqlstore.Postgres, Clock: clock, Exec: execer(db)}
	})
}

func execer(db *sql.DB) func(string, ...any) error {
	return func(q string, args ...any) error {
		_, err := db.Exec(q, args...)
		return err
	}
}

// PostgresURL returns the test server's URL from SOCBOT_TEST_POSTGRES_URL. Without it the test skips,
// unless SOCBOT_TEST_REQUIRE_POSTGRES=1 (set by scripts/test), when a missing server is a failure.
func PostgresURL(t *testing.T) string {
	u := os.Getenv("SOCBOT_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("SOCBOT_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatal("SOCBOT_TEST_POSTGRES_URL is not set but SOCBOT_TEST_REQUIRE_POSTGRES=1")
		}
		t.Skip("PostgreSQL tests skipped: set SOCBOT_TEST_POSTGRES_URL (scripts/test-postgres start prints one)")
	}
	return u
}
