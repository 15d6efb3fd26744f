package containment

import (
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// State is where an action is in its life.
type State string

// Action states. Applied, Removed, Failed and Denied are where an action rests; Removed, Failed and
// Denied are terminal (a new request for the same key then starts a new action).
const (
	StateRequested        State = "requested"
	StateAwaitingApproval State = "awaiting_approval"
	StateApproved         State = "approved" // ready to apply when NextAttemptAt is due
	StateApplying         State = "applying" // sent (or about to be sent) to the vendor: in doubt until answered
	StateApplied          State = "applied"
	StateExpiring         State = "expiring" // the inverse is due (expiry or rollback)
	StateRemoved          State = "removed"
	StateFailed           State = "failed"
	StateDenied           State = "denied"
)

// States lists every state in flow order.
var States = []State{StateRequested, StateAwaitingApproval, StateApproved, StateApplying, StateApplied,
	StateExpiring, StateRemoved, StateFailed, StateDenied}

var transitions = map[State][]State{
	StateRequested:        {StateAwaitingApproval, StateApproved, StateDenied, StateFailed},
	StateAwaitingApproval: {StateApproved, StateDenied},
	StateApproved:         {StateApplying, StateDenied},
	StateApplying:         {StateApplied, StateApproved, StateFailed},
	StateApplied:          {StateExpiring, StateRemoved},
	StateExpiring:         {StateRemoved, StateFailed},
}

// CanTransition reports whether an action may move from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Terminal reports whether s ends an action's life.
func (s State) Terminal() bool { return s == StateRemoved || s == StateFailed || s == StateDenied }

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}

// Approval is one person's decision on an action.
type Approval struct {
	By       string    `json:"by"` // principal name
	At       time.Time `json:"at"`
	Approved bool      `json:"approved"`
	Comment  string    `json:"comment,omitempty"`
}

// Attempt is one call to a vendor for an action.
type Attempt struct {
	N          int                       `json:"n"`
	Op         string                    `json:"op"` // apply, remove, check
	At         time.Time                 `json:"at"`
	Took       time.Duration             `json:"took"`
	Outcome    socbot.ContainmentOutcome `json:"outcome,omitempty"`
	Error      string                    `json:"error,omitempty"`
	Status     int                       `json:"status,omitempty"`
	Code       string                    `json:"code,omitempty"`
	Retryable  bool                      `json:"retryable,omitempty"`
	RetryAfter time.Duration             `json:"retry_after,omitempty"`
}

// Action is one containment action on one connector instance of one tenant: a ledger row.
type Action struct {
	ID          int64             `json:"id"`
	TenantID    string            `json:"tenant_id"`
	Kind        socbot.ActionKind `json:"kind"`
	Value       string            `json:"value"`
	ConnectorID string            `json:"connector_id"`
	State       State             `json:"state"`

	// Who asked and why.
	RequestedBy  string `json:"requested_by"` // principal name: "bot:containment", "user:ana@mssp", "cli:root"
	Reason       string `json:"reason"`
	IncidentID   int64  `json:"incident_id,omitempty"`
	PlaybookStep string `json:"playbook_step,omitempty"` // "<playbook>@v<version>/<step id>"
	Confidence   int    `json:"confidence"`
	CrownJewel   bool   `json:"crown_jewel,omitempty"`

	TTL               time.Duration `json:"ttl,omitempty"`
	RequiredApprovals int           `json:"required_approvals"`
	Approvals         []Approval    `json:"approvals,omitempty"`
	ApprovalDeadline  *time.Time    `json:"approval_deadline,omitempty"`
	Escalations       int           `json:"escalations,omitempty"`
	PolicyRule        string        `json:"policy_rule,omitempty"` // the approval rule that matched

	Attempts      []Attempt `json:"attempts,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LeaseOwner    string    `json:"lease_owner,omitempty"` // executor holding it while in flight
	LeaseUntil    time.Time `json:"lease_until"`

	VendorRef    string     `json:"vendor_ref,omitempty"`
	AppliedAt    *time.Time `json:"applied_at,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	NativeExpiry bool       `json:"native_expiry,omitempty"` // the vendor removes it by itself at ExpiresAt
	RemovedAt    *time.Time `json:"removed_at,omitempty"`
	Rollback     bool       `json:"rollback,omitempty"` // undo as soon as it is applied
	InDoubt      bool       `json:"in_doubt,omitempty"` // a crashed executor may have called the vendor
	Detail       string     `json:"detail,omitempty"`   // why it failed, was denied or removed

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"` // optimistic concurrency: bumped on every write
}

// Key is the action's idempotency key: (tenant, kind, value, connector).
type Key struct {
	TenantID    string
	Kind        socbot.ActionKind
	Value       string
	ConnectorID string
}

func (k Key) String() string {
	return k.TenantID + "|" + string(k.Kind) + "|" + k.Value + "|" + k.ConnectorID
}

// Key returns the action's idempotency key.
func (a Action) Key() Key {
	return Key{TenantID: a.TenantID, Kind: a.Kind, Value: a.Value, ConnectorID: a.ConnectorID}
}

// NormalizeValue puts a value in the canonical form used in keys: trimmed, and lower-case for
// everything but URLs (whose path is case-sensitive) and message ids.
func NormalizeValue(k socbot.ActionKind, v string) string {
	v = strings.TrimSpace(v)
	switch k {
	case socbot.ActBlockURL, socbot.ActUnblockURL, socbot.ActPurgeMessage, socbot.ActRestoreMessage:
		return v
	}
	return strings.ToLower(v)
}

// Approvers returns the distinct principals who approved the action.
func (a Action) Approvers() []string {
	seen := map[string]bool{}
	var out []string
	for _, ap := range a.Approvals {
		if ap.Approved && !seen[ap.By] {
			seen[ap.By] = true
			out = append(out, ap.By)
		}
	}
	return out
}

// Request is what a caller hands the bot: one action on one connector, or on every connector of the
// tenant that supports the kind when ConnectorID is empty.
type Request struct {
	TenantID     string
	Kind         socbot.ActionKind
	Value        string
	ConnectorID  string
	TTL          time.Duration
	RequestedBy  string
	Reason       string
	IncidentID   int64
	PlaybookStep string
	Confidence   int
	CrownJewel   bool
	// MinApprovals raises the policy's answer (a playbook's "request approval" step); never lowers it.
	MinApprovals int
}

// transition moves a to state to, or reports why it may not.
func (a *Action) transition(op string, to State, now time.Time) error {
	if !CanTransition(a.State, to) {
		return socbot.E(op, socbot.KindConflict, "action "+strconv.FormatInt(a.ID, 10)+": cannot go from "+string(a.State)+" to "+string(to))
	}
	a.State = to
	a.UpdatedAt = now
	return nil
}
