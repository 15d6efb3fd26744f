package socbot

import "time"

// NotificationBody is the JSON document queued with each notification: the event and a snapshot of the
// incident at that moment. Channels render it.
type NotificationBody struct {
	Event    string    `json:"event"`
	Tenant   string    `json:"tenant"`
	TenantID string    `json:"tenant_id"`
	Incident Incident  `json:"incident"`
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
}

// Notification channel kinds.
const (
	ChannelEmail   = "email"
	ChannelSlack   = "slack"
	ChannelTeams   = "teams"
	ChannelWebhook = "webhook"
)

// Events a notification policy can subscribe to.
const (
	EventIncidentCreated   = "incident.created"
	EventIncidentUpdated   = "incident.updated"   // status, assignee or priority changed by a person
	EventIncidentEscalated = "incident.escalated" // an SLA was breached
	EventIncidentClosed    = "incident.closed"    // resolved or false positive
	EventIncidentNote      = "incident.note"
)

// Containment and playbook events a channel may subscribe to (the containment bot raises them).
const (
	EventContainmentApprovalRequested = "containment.approval_requested"
	EventContainmentApprovalEscalated = "containment.approval_escalated"
	EventContainmentApplied           = "containment.applied"
	EventContainmentFailed            = "containment.failed"
	EventContainmentRemoved           = "containment.removed"
	EventContainmentDenied            = "containment.denied"
	EventPlaybookNotify               = "playbook.notify"
)

// NotifyEvents lists every event name a channel may subscribe to.
var NotifyEvents = []string{EventIncidentCreated, EventIncidentUpdated, EventIncidentEscalated, EventIncidentClosed, EventIncidentNote,
	EventContainmentApprovalRequested, EventContainmentApprovalEscalated, EventContainmentApplied, EventContainmentFailed,
	EventContainmentRemoved, EventContainmentDenied, EventPlaybookNotify}

// Channel is one way to tell a tenant (or the SOC) about events: an email list, a Slack or Teams
// incoming webhook, or a generic signed webhook.
type Channel struct {
	ID          int64     `json:"id"`
	TenantID    string    `json:"tenant_id"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`   // email, slack, teams, webhook
	Target      string    `json:"target"` // comma-separated addresses, or the URL
	Secret      string    `json:"-"`      // HMAC key for webhooks; never returned
	HasSecret   bool      `json:"has_secret"`
	Events      []string  `json:"events"`
	MinPriority Priority  `json:"-"` // notify only for this priority or more urgent (P4 = all)
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"created_at"`
}

// Notification delivery statuses.
const (
	DeliveryPending = "pending"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed" // gave up after the last attempt
)

// Notification is one message to one channel: the outbox row and, once tried, its delivery log.
type Notification struct {
	ID            int64      `json:"id"`
	TenantID      string     `json:"tenant_id"`
	ChannelID     int64      `json:"channel_id"`
	Event         string     `json:"event"`
	IncidentID    int64      `json:"incident_id,omitempty"`
	Subject       string     `json:"subject"`
	Body          string     `json:"body"` // JSON document the channel renders
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error,omitempty"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}
