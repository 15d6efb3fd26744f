package socbot

import (
	"context"
	"time"
)

// LoginState is a console user's sign-in state: failed attempts, lockout and second factor.
type LoginState struct {
	UserID      string     `json:"user_id"`
	Failures    int        `json:"failures"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	TOTPSecret  string     `json:"-"` // base32; empty when the user has no second factor
}

// ConsoleSession is a signed-in browser. The cookie carries a random secret; the store keeps its hash.
type ConsoleSession struct {
	IDHash    string    `json:"-"`
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	CSRF      string    `json:"-"`      // the token every state-changing form must carry
	Tenant    string    `json:"tenant"` // the tenant an MSSP-wide user has switched to; "" for all
	Method    string    `json:"method"` // password, password+totp, oidc
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// IncidentQuery selects incidents for the console's list: the core filter plus age and paging by page.
type IncidentQuery struct {
	TenantID  string // "" for every tenant (MSSP-wide principals only)
	Status    []string
	Open      bool
	Priority  []Priority
	Queue     string
	Assignee  string
	Search    string        // full text over title, category and assignee; "#12" finds a number; exact entity values
	MinAge    time.Duration // opened at least this long ago
	MaxAge    time.Duration // opened at most this long ago
	Now       time.Time
	Limit     int
	Offset    int
	WantTotal bool // count the matches, up to TotalCap
}

// TotalCap is where an incident listing stops counting: past it the page says "more than".
const TotalCap = 1000

// IncidentPage is one page of an incident listing.
type IncidentPage struct {
	Incidents []Incident `json:"incidents"`
	Total     int64      `json:"total"`         // -1 unless asked for
	More      bool       `json:"more_than_cap"` // Total is TotalCap and there are more
}

// TenantSummary is one tenant's line in the MSSP's all-tenants view.
type TenantSummary struct {
	Tenant   Tenant         `json:"tenant"`
	Open     int64          `json:"open"`
	ByPrio   map[string]int `json:"by_priority"`
	Breached int64          `json:"sla_breached"`
	Alerts24 int64          `json:"alerts_24h"`
}

// ConsoleStore keeps what the web console needs beyond the core store: sign-in state, sessions, and
// the incident listing with filters and full-text search.
type ConsoleStore interface {
	LoginState(ctx context.Context, userID string) (LoginState, error)
	// RecordLogin counts a failed attempt (locking the user for lockFor after maxFailures in a row)
	// or, when ok, clears the count.
	RecordLogin(ctx context.Context, userID string, ok bool, now time.Time, maxFailures int, lockFor time.Duration) (LoginState, error)
	SetTOTPSecret(ctx context.Context, userID, secret string, by Principal) error

	CreateSession(ctx context.Context, s ConsoleSession) error
	Session(ctx context.Context, idHash string) (ConsoleSession, error)
	UpdateSession(ctx context.Context, idHash, tenant string, seen time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	SearchIncidents(ctx context.Context, q IncidentQuery) (IncidentPage, error)
	// Activity returns the timeline entries of the given kinds for several incidents of one tenant at
	// once, oldest first (the client portal's "what was done and when").
	Activity(ctx context.Context, tenantID string, incidentIDs []int64, kinds []string) (map[int64][]TimelineEntry, error)
	TenantSummaries(ctx context.Context, now time.Time) ([]TenantSummary, error)
}

// PendingAction is a containment action waiting for people's approval, as the console shows it.
type PendingAction struct {
	ID          int64           `json:"id"`
	TenantID    string          `json:"tenant_id"`
	IncidentID  int64           `json:"incident_id,omitempty"`
	Kind        ActionKind      `json:"kind"`
	Value       string          `json:"value"`
	ConnectorID string          `json:"connector_id"`
	State       string          `json:"state"`
	RequestedBy string          `json:"requested_by"`
	Reason      string          `json:"reason"`
	Required    int             `json:"required_approvals"`
	Approvers   []string        `json:"approvers,omitempty"`
	Deadline    *time.Time      `json:"deadline,omitempty"`
	DryRun      []PlannedChange `json:"dry_run,omitempty"` // exactly what each connector would change
	DryRunError string          `json:"dry_run_error,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

// ApprovalQueue is the containment bot's approval gate as the console uses it. The containment bot (or
// an adapter in cmd/socbot) implements it; a node without containment has none and the console says so.
type ApprovalQueue interface {
	// Pending lists actions awaiting approval in tenantID ("" = every tenant, MSSP-wide principals
	// only), each with its dry run.
	Pending(ctx context.Context, p Principal, tenantID string) ([]PendingAction, error)
	Approve(ctx context.Context, p Principal, tenantID string, id int64, comment string) (PendingAction, error)
	Deny(ctx context.Context, p Principal, tenantID string, id int64, comment string) (PendingAction, error)
}

// IndicatorView is a threat-intel indicator as the console shows it.
type IndicatorView struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id,omitempty"` // "" for MSSP-wide intel
	Type      string     `json:"type"`
	Value     string     `json:"value"`
	Score     int        `json:"score"`
	TLP       string     `json:"tlp,omitempty"`
	Sources   []string   `json:"sources,omitempty"`
	Tags      []string   `json:"tags,omitempty"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Sightings []Sighting `json:"sightings,omitempty"`
}

// Sighting is one time an indicator was seen in a tenant's data.
type Sighting struct {
	At     time.Time `json:"at"`
	Source string    `json:"source"` // triage, monitor, ...
	Ref    string    `json:"ref,omitempty"`
}

// IndicatorSearch is the intel bot's indicator store as the console browses it. The intel bot (or an
// adapter) implements it; a node without intel has none and the console says so. Results hold only
// the tenant's own indicators and the MSSP-wide ones it may see.
type IndicatorSearch interface {
	SearchIndicators(ctx context.Context, p Principal, tenantID, query string, limit int) ([]IndicatorView, error)
}
