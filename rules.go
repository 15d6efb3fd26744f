package socbot

import "time"

// SuppressionRule auto-closes known-benign alerts. Its expression is CEL over the alert.
type SuppressionRule struct {
	ID         int64      `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Name       string     `json:"name"`
	Expression string     `json:"expression"`
	Reason     string     `json:"reason"`
	Author     string     `json:"author"`
	Enabled    bool       `json:"enabled"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Hits       int64      `json:"hits"`
	LastHitAt  *time.Time `json:"last_hit_at,omitempty"`
}

// Active reports whether the rule applies at time now.
func (r SuppressionRule) Active(now time.Time) bool {
	return r.Enabled && (r.ExpiresAt == nil || now.Before(*r.ExpiresAt))
}

// RoutingRule sends incidents that match its CEL expression to a queue. Rules are tried in order of
// Position; the first match wins; no match means the "triage" queue.
type RoutingRule struct {
	ID         int64     `json:"id"`
	TenantID   string    `json:"tenant_id,omitempty"` // empty: applies to every tenant after the tenant's own
	Position   int       `json:"position"`
	Name       string    `json:"name"`
	Expression string    `json:"expression"`
	Queue      string    `json:"queue"`
	CreatedAt  time.Time `json:"created_at"`
}

// DefaultQueue receives incidents no routing rule claims.
const DefaultQueue = "triage"

// Queue is a named work queue of the SOC.
type Queue struct {
	ID          int64     `json:"id"`
	TenantID    string    `json:"tenant_id,omitempty"` // empty: an MSSP-wide queue
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// QueueStats counts a queue's open incidents.
type QueueStats struct {
	Queue      string         `json:"queue"`
	Open       int            `json:"open"`
	ByPriority map[string]int `json:"by_priority"`
	Breached   int            `json:"sla_breached"`
	OldestOpen *time.Time     `json:"oldest_open,omitempty"`
	NextDue    *time.Time     `json:"next_due,omitempty"`
}
