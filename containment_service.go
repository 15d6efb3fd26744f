package socbot

import (
	"context"
	"time"
)

// ContainmentService is what the API asks of the containment bot: the action ledger, approvals,
// each tenant's connector instances, playbooks and never-block lists. Every method takes the acting
// principal and the tenant it acts on; a tenant the principal cannot see, or an object of another
// tenant, is KindNotFound. Changes are audited by the implementation in the same transaction.
//
// tenantID "" means "every tenant" for listings by MSSP-wide principals (admins), and the MSSP-wide
// library or list for playbooks and never-block entries.
type ContainmentService interface {
	// ListActions lists the tenant's ledger in id order (oldest first), a page at a time.
	ListActions(ctx context.Context, p Principal, tenantID string, q ContainmentQuery) ([]ContainmentAction, error)
	GetAction(ctx context.Context, p Principal, tenantID string, id int64) (ContainmentAction, error)
	// RequestAction asks for one action on one connector (or on every connector of the tenant that
	// supports the kind). With DryRun nothing is stored and the answer lists the planned changes.
	RequestAction(ctx context.Context, p Principal, tenantID string, r ContainmentAsk) (ContainmentAnswer, error)
	// RemoveAction undoes an applied (or in-flight) action.
	RemoveAction(ctx context.Context, p Principal, tenantID string, id int64, reason string) (ContainmentAction, error)
	// RollbackIncident undoes every reversible action taken for an incident.
	RollbackIncident(ctx context.Context, p Principal, tenantID string, incidentID int64, reason string) (int, error)
	PendingApprovals(ctx context.Context, p Principal, tenantID string) ([]ContainmentAction, error)
	Approve(ctx context.Context, p Principal, tenantID string, id int64, comment string) (ContainmentAction, error)
	Deny(ctx context.Context, p Principal, tenantID string, id int64, comment string) (ContainmentAction, error)

	ListConnectors(ctx context.Context, p Principal, tenantID string) ([]ConnectorInfo, error)
	GetConnector(ctx context.Context, p Principal, tenantID, id string) (ConnectorInfo, error)
	// PutConnector creates or replaces a connector instance. Credentials are sealed before they are
	// stored and never come back; an update without credentials keeps the stored ones.
	PutConnector(ctx context.Context, p Principal, tenantID string, cfg ConnectorConfig, reason string) (ConnectorInfo, bool, error)
	DeleteConnector(ctx context.Context, p Principal, tenantID, id, reason string) error
	// PlanConnector is a dry run of one request on one connector: what it would change.
	PlanConnector(ctx context.Context, p Principal, tenantID, id string, r ContainmentAsk) ([]PlannedChange, error)

	ListPlaybooks(ctx context.Context, p Principal, tenantID string) ([]PlaybookInfo, error)
	// GetPlaybook returns one version (0: the latest) with its source.
	GetPlaybook(ctx context.Context, p Principal, tenantID, name string, version int) (PlaybookInfo, error)
	// PutPlaybook stores a new version of a playbook (its version must be above the current one).
	PutPlaybook(ctx context.Context, p Principal, tenantID string, source []byte, reason string) (PlaybookInfo, error)

	NeverBlock(ctx context.Context, p Principal, tenantID string) ([]NeverBlockEntry, error)
	AddNeverBlock(ctx context.Context, p Principal, tenantID string, entries []NeverBlockEntry, reason string) ([]NeverBlockEntry, error)
	DeleteNeverBlock(ctx context.Context, p Principal, tenantID string, id int64, reason string) error
}

// ContainmentQuery selects actions in a listing.
type ContainmentQuery struct {
	States      []string
	IncidentID  int64
	ConnectorID string
	AfterID     int64 // paging: only actions with a higher id
	Limit       int
}

// ContainmentAsk is a containment request from a person (or a dry run of one).
type ContainmentAsk struct {
	Kind        ActionKind    `json:"kind"`
	Value       string        `json:"value"`
	ConnectorID string        `json:"connector_id,omitempty"` // empty: every connector of the tenant that supports kind
	TTL         time.Duration `json:"-"`
	Reason      string        `json:"reason,omitempty"`
	IncidentID  int64         `json:"incident_id,omitempty"`
	Confidence  int           `json:"confidence,omitempty"` // the requester's confidence 0-100, seen by the approval policy
	CrownJewel  bool          `json:"crown_jewel,omitempty"`
	DryRun      bool          `json:"dry_run,omitempty"`
}

// ContainmentAnswer is what a request did: the actions stored (one per connector), or the planned
// changes of a dry run.
type ContainmentAnswer struct {
	Actions []ContainmentAction `json:"actions,omitempty"`
	Planned []PlannedChange     `json:"planned,omitempty"`
	DryRun  bool                `json:"dry_run"`
}

// ContainmentAction is one row of the containment ledger as the API shows it.
type ContainmentAction struct {
	ID                int64                 `json:"id"`
	TenantID          string                `json:"tenant_id"`
	Kind              ActionKind            `json:"kind"`
	Value             string                `json:"value"`
	ConnectorID       string                `json:"connector_id"`
	State             string                `json:"state"`
	RequestedBy       string                `json:"requested_by"`
	Reason            string                `json:"reason,omitempty"`
	IncidentID        int64                 `json:"incident_id,omitempty"`
	PlaybookStep      string                `json:"playbook_step,omitempty"`
	Confidence        int                   `json:"confidence"`
	CrownJewel        bool                  `json:"crown_jewel,omitempty"`
	TTL               string                `json:"ttl,omitempty"`
	RequiredApprovals int                   `json:"required_approvals"`
	Approvals         []ContainmentDecision `json:"approvals,omitempty"`
	ApprovalDeadline  *time.Time            `json:"approval_deadline,omitempty"`
	Escalations       int                   `json:"escalations,omitempty"`
	PolicyRule        string                `json:"policy_rule,omitempty"`
	Attempts          []ContainmentAttempt  `json:"attempts,omitempty"`
	NextAttemptAt     *time.Time            `json:"next_attempt_at,omitempty"`
	VendorRef         string                `json:"vendor_ref,omitempty"`
	AppliedAt         *time.Time            `json:"applied_at,omitempty"`
	ExpiresAt         *time.Time            `json:"expires_at,omitempty"`
	NativeExpiry      bool                  `json:"native_expiry,omitempty"`
	RemovedAt         *time.Time            `json:"removed_at,omitempty"`
	Rollback          bool                  `json:"rollback,omitempty"`
	InDoubt           bool                  `json:"in_doubt,omitempty"`
	Detail            string                `json:"detail,omitempty"`
	CreatedAt         time.Time             `json:"created_at"`
	UpdatedAt         time.Time             `json:"updated_at"`
	Version           int64                 `json:"version"`
}

// ContainmentDecision is one person's approval or denial.
type ContainmentDecision struct {
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Approved bool      `json:"approved"`
	Comment  string    `json:"comment,omitempty"`
}

// ContainmentAttempt is one vendor call made for an action.
type ContainmentAttempt struct {
	N          int                `json:"n"`
	Op         string             `json:"op"`
	At         time.Time          `json:"at"`
	TookMS     float64            `json:"took_ms"`
	Outcome    ContainmentOutcome `json:"outcome,omitempty"`
	Error      string             `json:"error,omitempty"`
	Status     int                `json:"status,omitempty"`
	Code       string             `json:"code,omitempty"`
	RetryAfter string             `json:"retry_after,omitempty"`
}

// ConnectorInfo is a connector instance as the API shows it: never its credentials, only the names
// of the credential fields that are set.
type ConnectorInfo struct {
	TenantID       string            `json:"tenant_id"`
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	BaseURL        string            `json:"base_url,omitempty"`
	Options        map[string]string `json:"options,omitempty"`
	Timeout        string            `json:"timeout,omitempty"`
	CredentialKeys []string          `json:"credential_keys,omitempty"`
	Supports       []ActionKind      `json:"supports,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
}

// PlaybookInfo is one stored playbook version.
type PlaybookInfo struct {
	TenantID    string    `json:"tenant_id"` // "" for the MSSP-wide library
	Name        string    `json:"name"`
	Version     int       `json:"version"`
	Description string    `json:"description,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	Builtin     bool      `json:"builtin,omitempty"` // from the embedded default library
	Versions    []int     `json:"versions,omitempty"`
	Source      string    `json:"source,omitempty"`
	CreatedBy   string    `json:"created_by,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

// NeverBlockEntry is one value the containment rails never act on: an address or prefix, a domain
// (and its subdomains), or an exact value (e-mail address, user, host).
type NeverBlockEntry struct {
	ID        int64     `json:"id"`
	TenantID  string    `json:"tenant_id"` // "" for the MSSP-wide list
	Value     string    `json:"value"`
	Comment   string    `json:"comment,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}
