package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/synth"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// externalNATS starts a real NATS server with JetStream listening on loopback, as a cluster member
// would, so that the node uses the URL path and not the in-process one.
func externalNATS(t *testing.T) string {
	t.Helper()
	opts := &natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true, MaxPayload: 8 << 20}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

func postgresURL(t *testing.T) string {
	u := os.Getenv("SOCBOT_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("SOCBOT_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatal("SOCBOT_TEST_POSTGRES_URL is not set but SOCBOT_TEST_REQUIRE_POSTGRES=1")
		}
		t.Skip("PostgreSQL tests skipped: set SOCBOT_TEST_POSTGRES_URL (scripts/test-postgres start prints one)")
	}
	admin, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("socbot_node_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, _ := sql.Open("pgx", u)
		db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		db.Close()
	})
	pu, _ := url.Parse(u)
	pu.Path = "/" + name
	return pu.String()
}

// TestServeOnPostgresAndNATS runs a node on PostgreSQL and an external JetStream server -- the
// scale-out configuration -- and checks alerts become incidents exactly as on the embedded defaults.
func TestServeOnPostgresAndNATS(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Data: t.TempDir(), Listen: "127.0.0.1:0", DB: postgresURL(t), NATS: externalNATS(t), Bots: knownBots(), Partitions: 2}
	n, err := startNode(ctx, cfg, quietLog, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if n.store.Engine() != "postgres" || n.bus.Embedded() {
		t.Fatalf("node runs on %s with embedded bus %v", n.store.Engine(), n.bus.Embedded())
	}
	tn := socbot.Tenant{Name: "pg"}
	if err := n.store.CreateTenant(ctx, &tn, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	secret, hash := socbot.NewTokenSecret()
	if err := n.store.CreateToken(ctx, &socbot.Token{Role: socbot.RoleIngest, TenantID: tn.ID, Hash: hash, Prefix: "x"}, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	gen := synth.New(synth.Config{Tenant: "pg", Stories: 50, Seed: 3})
	const total = 2000
	for sent := 0; sent < total; sent += 250 {
		var buf bytes.Buffer
		for i := 0; i < 250; i++ {
			_, _, rec := gen.Next(time.Now().UTC())
			buf.Write(rec)
			buf.WriteByte('\n')
		}
		if got, err := benchPost(httpClient(), n.URL(), secret, buf.Bytes()); err != nil || got != 250 {
			t.Fatalf("ingest: %d %v", got, err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	var count int64
	for time.Now().Before(deadline) {
		if count, _ = n.store.CountAlerts(ctx, tn.ID); count == total {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if count != total {
		t.Fatalf("%d of %d alerts triaged on PostgreSQL", count, total)
	}
	incs, err := n.store.Incidents(ctx, socbot.IncidentFilter{TenantID: tn.ID, Limit: 1000})
	if err != nil || len(incs) == 0 {
		t.Fatalf("no incidents: %v", err)
	}
	seen := map[int64]bool{}
	sum := 0
	for _, i := range incs {
		if seen[i.Number] {
			t.Fatalf("incident number %d twice", i.Number)
		}
		seen[i.Number] = true
		if i.Status != socbot.StatusMerged {
			sum += i.AlertCount
		}
	}
	if sum != total {
		t.Fatalf("open incidents hold %d alerts, want %d", sum, total)
	}
	if _, problems, err := n.store.VerifyAudit(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("audit chain on PostgreSQL: %v %v", err, problems)
	}
}

// TestConfigSources checks the precedence: defaults < file < environment < flags.
func TestConfigSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "socbot.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9000\nnats: nats://file:4222\nsmtp:\n  host: mail.file.example\n  port: 2525\nbots: [triage]\nconsole_url: https://file.example\n"), 0o600)
	t.Setenv("SOCBOT_NATS", "nats://env:4222")
	t.Setenv("SOCBOT_SMTP_FROM", "soc@env.example")
	t.Setenv("SOCBOT_CONSOLE_URL", "https://env.example")
	t.Setenv("SOCBOT_CONSOLE_SECURE_COOKIES", "true")
	t.Setenv("SOCBOT_CONSOLE__OIDC__ISSUER", "https://login.env.example")
	cmd := &serveCmd{storeFlags: storeFlags{Data: dir}, Listen: "127.0.0.1:9100"}
	cfg, err := loadConfig(&Globals{}, cmd.storeFlags, cmd.apply)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"data from flag", cfg.Data, dir},
		{"listen from flag over file", cfg.Listen, "127.0.0.1:9100"},
		{"nats from env over file", cfg.NATS, "nats://env:4222"},
		{"smtp host from file", cfg.SMTP.Host, "mail.file.example"},
		{"smtp from from env", cfg.SMTP.From, "soc@env.example"},
		{"console url from env", cfg.ConsoleURL, "https://env.example"},
		{"bots from file", strings.Join(cfg.Bots, ","), "triage"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !cfg.Console.SecureCookies || cfg.Console.OIDC.Issuer != "https://login.env.example" {
		t.Errorf("console from env: secure cookies %v, issuer %q", cfg.Console.SecureCookies, cfg.Console.OIDC.Issuer)
	}
	if cfg.SMTP.Port != 2525 {
		t.Errorf("smtp port %d", cfg.SMTP.Port)
	}
	if _, err := startNode(context.Background(), Config{Data: dir, Listen: "127.0.0.1:0", Bots: []string{"nonsense"}}, quietLog, nil); socbot.ErrorField(err) != "bots" {
		t.Errorf("unknown bot: %v", err)
	}
	if _, err := openStore(context.Background(), Config{Data: dir, DB: "mysql://x"}, quietLog, socbot.SystemClock{}); socbot.ErrorField(err) != "db" {
		t.Errorf("bad db url: %v", err)
	}
}
