package socbot

import (
	"context"
	"time"
)

// Every method that changes state takes the acting Principal and appends an audit entry in the same
// transaction as the change, so that no change goes unrecorded. Every method that reads or writes a
// tenant's data takes the tenant id; an id of another tenant yields KindNotFound.

// TenantStore keeps tenants.
type TenantStore interface {
	CreateTenant(ctx context.Context, t *Tenant, by Principal) error
	Tenant(ctx context.Context, id string) (Tenant, error)
	TenantByName(ctx context.Context, name string) (Tenant, error)
	Tenants(ctx context.Context) ([]Tenant, error)
	UpdateTenant(ctx context.Context, t Tenant, by Principal) error
	// ConfigVersion changes whenever anything triage caches for the tenant changes: settings, assets,
	// indicator lists, suppression or routing rules.
	ConfigVersion(ctx context.Context, tenantID string) (int64, error)
}

// TokenStore keeps API tokens (hashed) and users.
type TokenStore interface {
	CreateToken(ctx context.Context, t *Token, by Principal) error
	TokenByHash(ctx context.Context, hash string) (Token, error)
	Tokens(ctx context.Context, tenantID string) ([]Token, error) // "" lists every token (admin)
	RevokeToken(ctx context.Context, tenantID, id string, by Principal) error
	TouchToken(ctx context.Context, id string, at time.Time) error
	CreateUser(ctx context.Context, u *User, passwordHash string, by Principal) error
	UserByEmail(ctx context.Context, email string) (User, string, error) // user and password hash
	Users(ctx context.Context, tenantID string) ([]User, error)
}

// AssetStore keeps each tenant's asset inventory and its own indicator lists.
type AssetStore interface {
	UpsertAssets(ctx context.Context, tenantID string, assets []Asset, by Principal) (int, error)
	Assets(ctx context.Context, tenantID string, limit, offset int) ([]Asset, error)
	Asset(ctx context.Context, tenantID string, id int64) (Asset, error)
	DeleteAsset(ctx context.Context, tenantID string, id int64, by Principal) error
	AddListIndicators(ctx context.Context, tenantID string, items []ListIndicator, by Principal) (int, error)
	ListIndicators(ctx context.Context, tenantID string) ([]ListIndicator, error)
	DeleteListIndicator(ctx context.Context, tenantID string, id int64, by Principal) error
}

// RuleStore keeps suppression rules, routing rules and queues.
type RuleStore interface {
	CreateSuppression(ctx context.Context, r *SuppressionRule, by Principal) error
	Suppressions(ctx context.Context, tenantID string) ([]SuppressionRule, error)
	Suppression(ctx context.Context, tenantID string, id int64) (SuppressionRule, error)
	UpdateSuppression(ctx context.Context, r SuppressionRule, by Principal) error
	DeleteSuppression(ctx context.Context, tenantID string, id int64, by Principal) error

	CreateRoutingRule(ctx context.Context, r *RoutingRule, by Principal) error
	RoutingRules(ctx context.Context, tenantID string) ([]RoutingRule, error) // the tenant's, then MSSP-wide ones
	DeleteRoutingRule(ctx context.Context, tenantID string, id int64, by Principal) error

	CreateQueue(ctx context.Context, q *Queue, by Principal) error
	Queues(ctx context.Context, tenantID string) ([]Queue, error) // the tenant's and MSSP-wide ones
	QueueStats(ctx context.Context, tenantID string, now time.Time) ([]QueueStats, error)
}

// IncidentStore reads incidents and applies people's changes to them.
type IncidentStore interface {
	Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	Incident(ctx context.Context, tenantID string, id int64) (Incident, error)
	UpdateIncident(ctx context.Context, tenantID string, id int64, u IncidentUpdate, by Principal) (Incident, error)
	AddNote(ctx context.Context, tenantID string, id int64, text string, by Principal) (TimelineEntry, error)
	Timeline(ctx context.Context, tenantID string, id int64) ([]TimelineEntry, error)
	// Escalate raises the escalation level of an open incident whose SLA is breached, from level
	// `from` to from+1; it does nothing (and returns false) if another worker got there first.
	Escalate(ctx context.Context, tenantID string, id int64, from int, raise bool, reason string, by Principal) (bool, error)
	// Breached lists open incidents whose acknowledge or resolve deadline passed before now and that
	// have not been escalated for it yet.
	Breached(ctx context.Context, now time.Time, limit int) ([]Incident, error)
}

// AlertStore reads stored alerts.
type AlertStore interface {
	Alerts(ctx context.Context, f AlertFilter) ([]Alert, error)
	Alert(ctx context.Context, tenantID string, id int64) (Alert, error)
	CountAlerts(ctx context.Context, tenantID string) (int64, error)
}

// NotifyStore keeps notification channels and the notification outbox (which is also the delivery log).
type NotifyStore interface {
	CreateChannel(ctx context.Context, c *Channel, by Principal) error
	Channels(ctx context.Context, tenantID string) ([]Channel, error)
	DeleteChannel(ctx context.Context, tenantID string, id int64, by Principal) error
	Notifications(ctx context.Context, tenantID string, limit int) ([]Notification, error)
	// ClaimNotifications leases up to limit pending notifications due at now for lease, so that no other
	// dispatcher sends them meanwhile.
	ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Notification, error)
	ChannelByID(ctx context.Context, id int64) (Channel, error)
	FinishNotification(ctx context.Context, n Notification, timeline string) error
}

// AuditStore reads and verifies the audit log.
type AuditStore interface {
	Audit(ctx context.Context, rec AuditRecord) error
	AuditEntries(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]AuditEntry, error)
	VerifyAudit(ctx context.Context) (checked int64, problems []AuditProblem, err error)
}

// Store is everything the core keeps in its database.
type Store interface {
	TenantStore
	TokenStore
	AssetStore
	RuleStore
	IncidentStore
	AlertStore
	NotifyStore
	AuditStore
	TriageStore
	Close() error
}
