package containment

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

// Sealer encrypts connector credentials per tenant (secrets.Keyring implements it).
type Sealer interface {
	Seal(tenantID string, plaintext []byte) ([]byte, error)
	Open(tenantID string, sealed []byte) ([]byte, error)
}

// Resolver finds the connector instance an action runs on.
type Resolver interface {
	Connector(ctx context.Context, tenantID, connectorID string) (socbot.Connector, error)
	// ConnectorIDs lists the tenant's connector ids whose connector supports kind.
	ConnectorIDs(ctx context.Context, tenantID string, kind socbot.ActionKind) ([]string, error)
}

// Connectors builds each tenant's connectors from the instances in the Store (credentials opened
// with the Sealer only to build the connector, never kept in the instance or logged), and also holds
// connectors added directly (tests, the CLI, benchmarks). A tenant only ever reaches its own
// connectors. Safe for concurrent use.
type Connectors struct {
	store  Store
	sealer Sealer
	clock  socbot.Clock
	log    *slog.Logger

	mu     sync.Mutex
	static map[string]socbot.Connector // tenant|id
	built  map[string]builtConn
}

type builtConn struct {
	conn    socbot.Connector
	version int64 // UpdatedAt of the instance it was built from
}

var _ Resolver = (*Connectors)(nil)

// NewConnectors returns a resolver over store (may be nil for static connectors only).
func NewConnectors(store Store, sealer Sealer, clock socbot.Clock) *Connectors {
	if clock == nil {
		clock = socbot.SystemClock{}
	}
	return &Connectors{store: store, sealer: sealer, clock: clock, static: map[string]socbot.Connector{}, built: map[string]builtConn{}}
}

// SetLogger gives the connectors built from now on a logger (they discard their logs otherwise).
func (c *Connectors) SetLogger(l *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = l
}

func (c *Connectors) deps(cfg *socbot.ConnectorConfig) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg.Logger, cfg.Clock = c.log, c.clock
}

// Add registers a ready connector for a tenant under id.
func (c *Connectors) Add(tenantID, id string, conn socbot.Connector) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.static[tenantID+"|"+id] = conn
}

// Configure stores a connector instance for a tenant with its credentials sealed. The plaintext
// credentials are not kept. Replacing an instance without credentials keeps the stored ones.
func (c *Connectors) Configure(ctx context.Context, cfg socbot.ConnectorConfig) error {
	_, _, err := c.configure(ctx, cfg)
	return err
}

// ConfigureInstance is Configure returning the stored instance and whether it was new.
func (c *Connectors) ConfigureInstance(ctx context.Context, cfg socbot.ConnectorConfig) (ConnectorInstance, bool, error) {
	return c.configure(ctx, cfg)
}

func (c *Connectors) configure(ctx context.Context, cfg socbot.ConnectorConfig) (ConnectorInstance, bool, error) {
	const op = "containment.Connectors.Configure"
	if cfg.TenantID == "" {
		return ConnectorInstance{}, false, socbot.FieldError(op, "tenant_id", "required")
	}
	if cfg.ID == "" {
		return ConnectorInstance{}, false, socbot.FieldError(op, "id", "required")
	}
	old, oldErr := c.store.GetConnector(ctx, cfg.TenantID, cfg.ID)
	if oldErr != nil && !socbot.IsKind(oldErr, socbot.KindNotFound) {
		return ConnectorInstance{}, false, socbot.E(op, oldErr)
	}
	exists := oldErr == nil
	keep := len(cfg.Credentials) == 0 && exists && len(old.SealedCredentials) > 0
	check := cfg
	if keep { // the stored credentials stay: check the new settings with them
		if c.sealer == nil {
			return ConnectorInstance{}, false, socbot.E(op, socbot.KindUnavailable, "no keyring to open the stored credentials")
		}
		plain, err := c.sealer.Open(cfg.TenantID, old.SealedCredentials)
		if err != nil {
			return ConnectorInstance{}, false, socbot.E(op, "stored credentials of connector "+cfg.ID, err)
		}
		if err := json.Unmarshal(plain, &check.Credentials); err != nil {
			return ConnectorInstance{}, false, socbot.E(op, socbot.KindInvalid, "stored credentials of connector "+cfg.ID+" are damaged")
		}
	}
	c.deps(&check)
	// Building it once checks the type and options before anything is stored.
	if _, err := socbot.NewConnector(check); err != nil {
		return ConnectorInstance{}, false, socbot.E(op, err)
	}
	inst := ConnectorInstance{TenantID: cfg.TenantID, ID: cfg.ID, Type: cfg.Type, BaseURL: cfg.BaseURL,
		Options: cfg.Options, Timeout: cfg.Timeout}
	if keep {
		inst.SealedCredentials = old.SealedCredentials
	}
	if len(cfg.Credentials) > 0 {
		if c.sealer == nil {
			return ConnectorInstance{}, false, socbot.E(op, socbot.KindUnavailable, "no keyring to seal credentials")
		}
		b, err := json.Marshal(cfg.Credentials)
		if err != nil {
			return ConnectorInstance{}, false, socbot.E(op, err)
		}
		if inst.SealedCredentials, err = c.sealer.Seal(cfg.TenantID, b); err != nil {
			return ConnectorInstance{}, false, socbot.E(op, err)
		}
	}
	t := c.clock.Now()
	inst.CreatedAt, inst.UpdatedAt = t, t
	if exists {
		inst.CreatedAt = old.CreatedAt
		if !inst.UpdatedAt.After(old.UpdatedAt) { // the resolver rebuilds on a changed UpdatedAt
			inst.UpdatedAt = old.UpdatedAt.Add(time.Microsecond)
		}
	}
	if err := c.store.PutConnector(ctx, inst); err != nil {
		return ConnectorInstance{}, false, err
	}
	return inst, !exists, nil
}

// Connector implements Resolver.
func (c *Connectors) Connector(ctx context.Context, tenantID, id string) (socbot.Connector, error) {
	const op = "containment.Connectors.Connector"
	k := tenantID + "|" + id
	c.mu.Lock()
	if conn, ok := c.static[k]; ok {
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	if c.store == nil {
		return nil, socbot.E(op, socbot.KindNotFound, "connector "+id+" not found for tenant "+tenantID)
	}
	inst, err := c.store.GetConnector(ctx, tenantID, id)
	if err != nil {
		return nil, socbot.E(op, err)
	}
	ver := inst.UpdatedAt.UnixNano()
	c.mu.Lock()
	if b, ok := c.built[k]; ok && b.version == ver {
		c.mu.Unlock()
		return b.conn, nil
	}
	c.mu.Unlock()
	cfg := socbot.ConnectorConfig{ID: inst.ID, Type: inst.Type, TenantID: inst.TenantID, BaseURL: inst.BaseURL,
		Options: inst.Options, Timeout: inst.Timeout}
	c.deps(&cfg)
	if len(inst.SealedCredentials) > 0 {
		if c.sealer == nil {
			return nil, socbot.E(op, socbot.KindUnavailable, "no keyring to open credentials of connector "+id)
		}
		plain, err := c.sealer.Open(tenantID, inst.SealedCredentials)
		if err != nil {
			return nil, socbot.E(op, "credentials of connector "+id, err)
		}
		if err := json.Unmarshal(plain, &cfg.Credentials); err != nil {
			return nil, socbot.E(op, socbot.KindInvalid, "credentials of connector "+id+" are damaged")
		}
	}
	conn, err := socbot.NewConnector(cfg)
	if err != nil {
		return nil, socbot.E(op, "connector "+id, err)
	}
	c.mu.Lock()
	c.built[k] = builtConn{conn: conn, version: ver}
	c.mu.Unlock()
	return conn, nil
}

// ConnectorIDs implements Resolver.
func (c *Connectors) ConnectorIDs(ctx context.Context, tenantID string, kind socbot.ActionKind) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	c.mu.Lock()
	for k, conn := range c.static {
		t, id, _ := cut(k)
		if t == tenantID && conn.Supports(kind) && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	c.mu.Unlock()
	if c.store != nil {
		insts, err := c.store.ListConnectors(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			if seen[in.ID] {
				continue
			}
			conn, err := c.Connector(ctx, tenantID, in.ID)
			if err != nil {
				return nil, err
			}
			if conn.Supports(kind) {
				seen[in.ID] = true
				ids = append(ids, in.ID)
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func cut(k string) (string, string, bool) {
	for i := 0; i < len(k); i++ {
		if k[i] == '|' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}
