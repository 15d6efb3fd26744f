package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/console"
	"github.com/socbot/socbot/normalize"
	"github.com/socbot/socbot/notify"
	"github.com/socbot/socbot/postgres"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
)

// Config is socbot's configuration. It is read, later sources winning, from the defaults, a YAML file
// (--config, SOCBOT_CONFIG, or socbot.yaml in the data directory), SOCBOT_* environment variables
// (SOCBOT_LISTEN, SOCBOT_DB, SOCBOT_SMTP_HOST, ...) and command-line flags.
type Config struct {
	Data         string                       `koanf:"data"`
	Listen       string                       `koanf:"listen"`
	DB           string                       `koanf:"db"`
	NATS         string                       `koanf:"nats"`
	Bots         []string                     `koanf:"bots"`
	Partitions   int                          `koanf:"partitions"`
	ConsoleURL   string                       `koanf:"console_url"`
	MaxBodyBytes int64                        `koanf:"max_body_bytes"`
	BusMaxBytes  int64                        `koanf:"bus_max_bytes"`
	SMTP         notify.SMTPConfig            `koanf:"smtp"`
	Mappings     map[string]normalize.Mapping `koanf:"mappings"`
	// The Go collector's pace: socbot allocates for every alert, and a collection every time the heap
	// doubles costs triage throughput on a small machine. GOGC and GOMEMLIMIT in the environment win.
	GCPercent   int    `koanf:"gc_percent"`   // heap growth between collections in % (default 300)
	MemoryLimit string `koanf:"memory_limit"` // soft heap limit: 2GiB, 512MiB, ... (default half the machine's memory)

	// Report bot and console (issue 6).
	Chromium string         `koanf:"chromium"` // Chromium binary for report PDFs (default: SOCBOT_CHROMIUM, /usr/bin/chromium, PATH)
	Console  console.Config `koanf:"console"`  // web console: cookies, sessions, lockout, OIDC single sign-on

	// Containment bot (issue 4): safety rails, approval policies, executor and feed tuning; the type
	// is in node_containment.go.
	Containment ContainmentConfig `koanf:"containment"`

	// Intel bot (issue 3): warninglists, decay models, containment thresholds, client TLP ceilings,
	// firewall lists, feed collection and index refresh; the type is in node_intel.go.
	Intel IntelConfig `koanf:"intel"`

	// Monitor bot (issue 5): Sigma rule directories, syslog listeners and file tailers (each bound to
	// one tenant), processors, batch and intel settings; the type is in node_monitor.go.
	Monitor MonitorConfig `koanf:"monitor"`
}

// storeFlags are the flags of every command that opens the database directly.
type storeFlags struct {
	Data string `help:"Data directory (default ./socbot-data; env SOCBOT_DATA)." placeholder:"DIR"`
	DB   string `help:"Database: empty for SQLite in the data directory, or postgres://user:pass@host/db (env SOCBOT_DB)." placeholder:"URL"`
}

// loadConfig builds the configuration from defaults, file, environment and the flags that were set.
func loadConfig(g *Globals, sf storeFlags, apply func(k *koanf.Koanf)) (Config, error) {
	k := koanf.New(".")
	_ = k.Set("data", "./socbot-data")
	_ = k.Set("listen", "127.0.0.1:8080")
	_ = k.Set("bots", knownBots()) // every bot unless --bots says otherwise
	_ = k.Set("partitions", 4)
	_ = k.Set("smtp.port", 0)
	_ = k.Set("smtp.tls", "")

	envData := os.Getenv("SOCBOT_DATA")
	dataDir := firstNonEmpty(sf.Data, envData, "./socbot-data")
	path := g.Config
	if path == "" {
		if p := filepath.Join(dataDir, "socbot.yaml"); fileExists(p) {
			path = p
		}
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, socbot.E("config", socbot.KindInvalid, "reading "+path, err)
		}
	}
	if err := k.Load(env.Provider(".", env.Opt{Prefix: "SOCBOT_", TransformFunc: envKey}), nil); err != nil {
		return Config{}, socbot.E("config", socbot.KindInvalid, "environment", err)
	}
	if sf.Data != "" {
		_ = k.Set("data", sf.Data)
	}
	if sf.DB != "" {
		_ = k.Set("db", sf.DB)
	}
	if apply != nil {
		apply(k)
	}
	var cfg Config
	if err := k.Unmarshal("", &cfg); err != nil {
		return cfg, socbot.E("config", socbot.KindInvalid, err)
	}
	return cfg, nil
}

// envKey maps SOCBOT_* variables to configuration keys. A whole top-level key wins
// (SOCBOT_CONSOLE_URL is console_url); otherwise a section name followed by '_' nests one level
// (SOCBOT_SMTP_HOST is smtp.host, SOCBOT_CONSOLE_SECURE_COOKIES is console.secure_cookies), and a double
// underscore nests explicitly at any depth (SOCBOT_CONSOLE__OIDC__ISSUER is console.oidc.issuer). List
// values (SOCBOT_BOTS) are comma-separated. SOCBOT_CONFIG and SOCBOT_LOG_* are flags, not configuration.
func envKey(k, v string) (string, any) {
	key := strings.ToLower(strings.TrimPrefix(k, "SOCBOT_"))
	switch key {
	case "config", "log_level", "log_format", "url", "token", "chromium_test":
		return "", nil
	case "bots":
		return key, strings.Split(v, ",")
	}
	if strings.Contains(key, "__") {
		return strings.ReplaceAll(key, "__", "."), v
	}
	top, sections := configKeys()
	if top[key] {
		return key, v
	}
	for _, sec := range sections {
		if rest, ok := strings.CutPrefix(key, sec+"_"); ok {
			return sec + "." + rest, v
		}
	}
	return key, v
}

// configKeys lists Config's top-level keys and, of those, the ones that are sections (structs).
func configKeys() (map[string]bool, []string) {
	top := map[string]bool{}
	var sections []string
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("koanf")
		if tag == "" {
			continue
		}
		top[tag] = true
		if f.Type.Kind() == reflect.Struct {
			sections = append(sections, tag)
		}
	}
	return top, sections
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// openStore opens the configured database (SQLite in the data directory unless DB names PostgreSQL)
// and applies the migrations.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger, clock socbot.Clock, sqliteOpts ...sqlite.Option) (*sqlstore.Store, error) {
	var db *sql.DB
	var err error
	engine := sqlstore.SQLite
	switch {
	case strings.HasPrefix(cfg.DB, "postgres://") || strings.HasPrefix(cfg.DB, "postgresql://"):
		engine = sqlstore.Postgres
		db, err = postgres.Open(ctx, cfg.DB, logger)
	case cfg.DB == "":
		db, err = sqlite.Open(ctx, filepath.Join(cfg.Data, "socbot.db"), logger, sqliteOpts...)
	case strings.HasPrefix(cfg.DB, "sqlite:"):
		db, err = sqlite.Open(ctx, strings.TrimPrefix(strings.TrimPrefix(cfg.DB, "sqlite:"), "//"), logger, sqliteOpts...)
	default:
		return nil, socbot.FieldError("config", "db", "database URL must start with postgres:// or sqlite:, or be empty for SQLite in the data directory (got %q)", cfg.DB)
	}
	if err != nil {
		return nil, err
	}
	return sqlstore.New(db, engine, clock, logger), nil
}

// cliPrincipal is who the audit log records for changes made from the command line.
func cliPrincipal() socbot.Principal {
	who := os.Getenv("SUDO_USER")
	if who == "" {
		who = os.Getenv("USER")
	}
	if who == "" {
		who = fmt.Sprint(os.Getuid())
	}
	return socbot.Principal{Role: socbot.RoleAdmin, Name: "cli:" + who}
}
