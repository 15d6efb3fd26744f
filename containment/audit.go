package containment

import (
	"context"
	"time"

	socbot "github.com/socbot/socbot"
)

type auditKey struct{}

// AuditNote says who asks for a ledger or connector change and why. The bot attaches it to the
// context of its store writes, so that a Store which keeps an audit log (the SQL stores) records the
// person, not only the bot, in the same transaction as the change.
type AuditNote struct {
	By     socbot.Principal
	Reason string
}

// WithAudit returns ctx carrying who acts and why.
func WithAudit(ctx context.Context, by socbot.Principal, reason string) context.Context {
	return context.WithValue(ctx, auditKey{}, AuditNote{By: by, Reason: reason})
}

// AuditFrom returns the note attached by WithAudit; without one, the containment bot itself acts.
func AuditFrom(ctx context.Context) (AuditNote, bool) {
	n, ok := ctx.Value(auditKey{}).(AuditNote)
	if !ok {
		return AuditNote{By: socbot.Bot("containment")}, false
	}
	return n, true
}

// NeverBlockEntry is one never-block value (the root type, so that the API and the store share it).
type NeverBlockEntry = socbot.NeverBlockEntry

// NeverBlockStore keeps the never-block lists: each tenant's and the MSSP-wide one (tenant "").
// Changes are audited with the AuditNote of the context.
type NeverBlockStore interface {
	NeverBlock(ctx context.Context, tenantID string) ([]NeverBlockEntry, error)
	// AllNeverBlock returns every tenant's entries and the MSSP-wide ones, for the rails.
	AllNeverBlock(ctx context.Context) ([]NeverBlockEntry, error)
	AddNeverBlock(ctx context.Context, entries []NeverBlockEntry) ([]NeverBlockEntry, error)
	DeleteNeverBlock(ctx context.Context, tenantID string, id int64) (NeverBlockEntry, error)
}

// IncidentChange is one incident version seen by the incident feed: which incident, and when it
// last changed.
type IncidentChange struct {
	TenantID  string
	ID        int64
	Status    string
	UpdatedAt time.Time
}

// IncidentFeedStore is what the containment bot's incident feed reads: incidents changed since a
// time, and a persisted cursor so that a restart resumes where the last run stopped.
type IncidentFeedStore interface {
	// IncidentChanges lists incidents whose updated_at is at or after since, oldest change first.
	IncidentChanges(ctx context.Context, since time.Time, limit int) ([]IncidentChange, error)
	Cursor(ctx context.Context, name string) (time.Time, error) // zero time when never set
	SetCursor(ctx context.Context, name string, at time.Time) error
}
