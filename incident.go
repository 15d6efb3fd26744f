package socbot

import (
	"encoding/json"
	"time"
)

// Incident statuses. The flow is new -> acknowledged -> contained -> resolved, with false_positive as
// the other way to close; merged marks an incident folded into another.
const (
	StatusNew           = "new"
	StatusAcknowledged  = "acknowledged"
	StatusContained     = "contained"
	StatusResolved      = "resolved"
	StatusFalsePositive = "false_positive"
	StatusMerged        = "merged"
)

var statusFlow = map[string][]string{
	StatusNew:           {StatusAcknowledged, StatusContained, StatusResolved, StatusFalsePositive},
	StatusAcknowledged:  {StatusContained, StatusResolved, StatusFalsePositive},
	StatusContained:     {StatusResolved, StatusFalsePositive},
	StatusResolved:      {StatusAcknowledged}, // reopen
	StatusFalsePositive: {StatusAcknowledged}, // reopen
}

// ValidStatus reports whether s is an incident status a person may set.
func ValidStatus(s string) bool {
	_, ok := statusFlow[s]
	return ok
}

// CanTransition reports whether an incident may move from status from to status to.
func CanTransition(from, to string) bool {
	for _, s := range statusFlow[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Closed reports whether status s ends an incident's life (new alerts then open a new incident).
func Closed(s string) bool {
	return s == StatusResolved || s == StatusFalsePositive || s == StatusMerged
}

// Incident is a group of correlated alerts that people work as one case.
type Incident struct {
	ID         int64     `json:"id"`
	TenantID   string    `json:"tenant_id"`
	Number     int64     `json:"number"` // sequential per tenant
	Title      string    `json:"title"`
	Priority   Priority  `json:"-"`
	Status     string    `json:"status"`
	Queue      string    `json:"queue"`
	Assignee   string    `json:"assignee,omitempty"`
	Category   string    `json:"category,omitempty"`
	Confidence int       `json:"confidence"`
	Reasons    []string  `json:"reasons,omitempty"`
	AlertCount int       `json:"alert_count"`
	Entities   []string  `json:"entities,omitempty"` // observable keys that tie its alerts together
	Tactics    []string  `json:"tactics,omitempty"`
	Techniques []string  `json:"techniques,omitempty"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`

	AckDue          *time.Time `json:"ack_due,omitempty"`
	ResolveDue      *time.Time `json:"resolve_due,omitempty"`
	AcknowledgedAt  *time.Time `json:"acknowledged_at,omitempty"`
	ContainedAt     *time.Time `json:"contained_at,omitempty"`
	ResolvedAt      *time.Time `json:"resolved_at,omitempty"`
	EscalationLevel int        `json:"escalation_level"`
	MergedInto      int64      `json:"merged_into,omitempty"`
}

// MarshalJSON adds the priority as "P1".."P4".
func (i Incident) MarshalJSON() ([]byte, error) {
	type plain Incident
	return json.Marshal(struct {
		plain
		Priority string `json:"priority"`
	}{plain(i), i.Priority.String()})
}

// TimelineEntry is one thing that happened to an incident.
type TimelineEntry struct {
	ID         int64           `json:"id"`
	TenantID   string          `json:"tenant_id"`
	IncidentID int64           `json:"incident_id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Kind       string          `json:"kind"` // created, alert_added, merged, status, assigned, priority, note, escalated, notified, ...
	Text       string          `json:"text"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// IncidentUpdate is a change a person asks for; nil fields stay as they are.
type IncidentUpdate struct {
	Status   *string
	Assignee *string
	Priority *Priority
	Queue    *string
	Title    *string
	Reason   string // why, for the timeline and the audit log
}

// IncidentFilter selects incidents in a listing.
type IncidentFilter struct {
	TenantID string // empty for all tenants (MSSP staff only)
	Status   []string
	Priority []Priority
	Queue    string
	Assignee string
	Open     bool // only statuses that are not closed
	Search   string
	Limit    int
	AfterID  int64 // paging: return ids below this (newest first)
}

// MarshalJSON adds the priority as "P1".."P4".
func (a Alert) MarshalJSON() ([]byte, error) {
	type plain Alert
	return json.Marshal(struct {
		plain
		Severity string `json:"severity"`
		Priority string `json:"priority,omitempty"`
	}{plain(a), a.Severity.String(), a.Priority.String()})
}

// AlertFilter selects alerts in a listing.
type AlertFilter struct {
	TenantID   string
	IncidentID int64
	Status     string
	Format     string
	Limit      int
	AfterID    int64
}
