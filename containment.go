package socbot

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// ActionKind is a containment action (or its inverse) that a connector carries out.
type ActionKind string

// Containment actions and their inverses.
const (
	ActBlockIP        ActionKind = "block_ip" // an IP address or CIDR
	ActUnblockIP      ActionKind = "unblock_ip"
	ActBlockDomain    ActionKind = "block_domain"
	ActUnblockDomain  ActionKind = "unblock_domain"
	ActBlockURL       ActionKind = "block_url"
	ActUnblockURL     ActionKind = "unblock_url"
	ActBlockSender    ActionKind = "block_sender" // an e-mail address or domain
	ActUnblockSender  ActionKind = "unblock_sender"
	ActPurgeMessage   ActionKind = "purge_message" // a delivered message (soft delete / quarantine)
	ActRestoreMessage ActionKind = "restore_message"
	ActDisableUser    ActionKind = "disable_user" // disable the account and revoke its sessions
	ActEnableUser     ActionKind = "enable_user"
	ActIsolateHost    ActionKind = "isolate_host"
	ActReleaseHost    ActionKind = "release_host"
)

var inverseAction = map[ActionKind]ActionKind{
	ActBlockIP: ActUnblockIP, ActBlockDomain: ActUnblockDomain, ActBlockURL: ActUnblockURL,
	ActBlockSender: ActUnblockSender, ActPurgeMessage: ActRestoreMessage, ActDisableUser: ActEnableUser,
	ActIsolateHost: ActReleaseHost,
}

// Inverse returns the action that undoes k (and the forward action for an inverse), or "".
func (k ActionKind) Inverse() ActionKind {
	if inv, ok := inverseAction[k]; ok {
		return inv
	}
	for f, inv := range inverseAction {
		if inv == k {
			return f
		}
	}
	return ""
}

// IsForward reports whether k is a containing action (block, purge, disable, isolate) rather than an undo.
func (k ActionKind) IsForward() bool { _, ok := inverseAction[k]; return ok }

// Valid reports whether k is a known action kind.
func (k ActionKind) Valid() bool { return k.Inverse() != "" }

// ContainmentRequest is one action for one connector.
type ContainmentRequest struct {
	Kind           ActionKind    `json:"kind"`
	Value          string        `json:"value"` // IP/CIDR, domain, URL, sender, message id, user principal, host id
	TTL            time.Duration `json:"ttl,omitempty"`
	Reference      string        `json:"reference,omitempty"` // ownership comment, e.g. "soc:acme-42"
	IdempotencyKey string        `json:"idempotency_key,omitempty"`
}

// ContainmentOutcome is how a request ended at the vendor.
type ContainmentOutcome string

// Outcomes. AlreadyPresent and AlreadyAbsent count as success.
const (
	OutcomeApplied        ContainmentOutcome = "applied"
	OutcomeAlreadyPresent ContainmentOutcome = "already_present"
	OutcomeRemoved        ContainmentOutcome = "removed"
	OutcomeAlreadyAbsent  ContainmentOutcome = "already_absent"
	OutcomeFailed         ContainmentOutcome = "failed"
)

// ContainmentResult is a connector's answer for one request, in request order.
type ContainmentResult struct {
	Outcome   ContainmentOutcome `json:"outcome"`
	VendorRef string             `json:"vendor_ref,omitempty"` // the vendor's id for what it created
	ExpiresAt *time.Time         `json:"expires_at,omitempty"` // set when the vendor expires it natively
	Detail    string             `json:"detail,omitempty"`
	Err       error              `json:"-"` // set when Outcome is failed; a *VendorError when the vendor said so
}

// PlannedChange is what a dry run says a connector would do for one request.
type PlannedChange struct {
	Connector string     `json:"connector"`
	Kind      ActionKind `json:"kind"`
	Value     string     `json:"value"`
	Change    string     `json:"change"` // exactly what would be sent, e.g. "POST /api/ type=user-id register 203.0.113.7 tag soc-block timeout=86400"
}

// VendorError is a failure answered by a vendor API, classified for the retry policy.
type VendorError struct {
	Connector  string
	Status     int    // HTTP status, 0 if none
	Code       string // vendor error code
	Msg        string
	Retryable  bool          // 429, 5xx, lock conflicts, explicitly retryable codes
	RetryAfter time.Duration // the vendor's requested delay, 0 if none given
	Auth       bool          // credentials rejected: do not retry
}

func (e *VendorError) Error() string {
	s := e.Connector + ": "
	if e.Status != 0 {
		s += fmt.Sprintf("HTTP %d ", e.Status)
	}
	if e.Code != "" {
		s += "code " + e.Code + " "
	}
	return strings.TrimSpace(s + e.Msg)
}

// Connector carries out containment actions on one vendor product instance of one tenant.
// Apply batches the requests and performs any commit/activate step once for the whole batch.
// It returns one result per request, in order; an error return means the batch as a whole failed
// (for example the commit step) and no result can be trusted.
type Connector interface {
	Type() string
	Supports(k ActionKind) bool
	Apply(ctx context.Context, reqs []ContainmentRequest) ([]ContainmentResult, error)
	Plan(ctx context.Context, reqs []ContainmentRequest) ([]PlannedChange, error)
}

// ConnectorConfig configures one connector instance. Credentials arrive decrypted and must never be
// logged or returned by the API.
type ConnectorConfig struct {
	ID          string            `json:"id" yaml:"id"`
	Type        string            `json:"type" yaml:"type"`
	TenantID    string            `json:"tenant_id,omitempty" yaml:"tenant_id"`
	BaseURL     string            `json:"base_url,omitempty" yaml:"base_url"`
	Credentials map[string]string `json:"-" yaml:"credentials"`
	Options     map[string]string `json:"options,omitempty" yaml:"options"`
	Timeout     time.Duration     `json:"timeout,omitempty" yaml:"timeout"`
	HTTPClient  *http.Client      `json:"-" yaml:"-"`
	// Logger and Clock are passed in by whoever builds the connector (the containment resolver,
	// the CLI); nil means a discarding logger and the system clock. Never serialised.
	Logger *slog.Logger `json:"-" yaml:"-"`
	Clock  Clock        `json:"-" yaml:"-"`
}

// ConnectorFactory builds a connector from its configuration.
type ConnectorFactory func(cfg ConnectorConfig) (Connector, error)

var connectorRegistry = struct {
	sync.RWMutex
	m map[string]ConnectorFactory
}{m: map[string]ConnectorFactory{}}

// RegisterConnector adds a connector type to the module registry. Connector packages call it from init.
func RegisterConnector(typ string, f ConnectorFactory) {
	connectorRegistry.Lock()
	defer connectorRegistry.Unlock()
	if _, dup := connectorRegistry.m[typ]; dup {
		panic("socbot: connector type registered twice: " + typ)
	}
	connectorRegistry.m[typ] = f
}

// NewConnector builds a connector of a registered type.
func NewConnector(cfg ConnectorConfig) (Connector, error) {
	connectorRegistry.RLock()
	f, ok := connectorRegistry.m[cfg.Type]
	connectorRegistry.RUnlock()
	if !ok {
		return nil, E("socbot.NewConnector", KindUnsupported, "unknown connector type "+cfg.Type)
	}
	return f(cfg)
}

// ConnectorTypes lists the registered connector types.
func ConnectorTypes() []string {
	connectorRegistry.RLock()
	defer connectorRegistry.RUnlock()
	var out []string
	for t := range connectorRegistry.m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ConnectorChecker is implemented by connectors that can read back whether requests are in effect at
// the vendor. The containment executor uses it after a crash, for actions whose outcome is in doubt,
// so that a vendor whose add is not idempotent is never asked twice. The answer is one bool per
// request, in order: true when the forward action (the block, the isolation) is in effect now.
type ConnectorChecker interface {
	Check(ctx context.Context, reqs []ContainmentRequest) ([]bool, error)
}
