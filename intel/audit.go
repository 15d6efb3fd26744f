package intel

import (
	"context"

	socbot "github.com/socbot/socbot"
)

// AuditNote says who changes intel data and why. The API, the CLI and the service attach it to the
// context of store calls (WithAudit), and the SQL store appends an audit entry for the change in the
// same transaction. Feed configuration changes are always audited (as the intel bot when no note is
// attached); indicator and sighting writes are audited when a note is attached, so that a person's
// import or verdict is on record while the bot's own feed runs do not flood the log.
type AuditNote struct {
	By     socbot.Principal
	Reason string
}

type auditKey struct{}

// WithAudit returns ctx carrying who acts and why.
func WithAudit(ctx context.Context, by socbot.Principal, reason string) context.Context {
	return context.WithValue(ctx, auditKey{}, AuditNote{By: by, Reason: reason})
}

// AuditFrom returns the note attached by WithAudit; without one, the intel bot itself acts (ok false).
func AuditFrom(ctx context.Context) (AuditNote, bool) {
	n, ok := ctx.Value(auditKey{}).(AuditNote)
	if !ok {
		return AuditNote{By: socbot.Bot("intel")}, false
	}
	return n, true
}
