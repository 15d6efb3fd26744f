package socbot

import (
	"context"
	"io"
)

// LogIngester is what the API asks of the monitor bot: run the detection rules over a batch of log
// events that a tenant's shipper posted, and hand what they find to triage as alerts. The tenant is
// the authenticated one, already resolved by the caller.
//
// IngestLogs returns once every event of the batch was matched and every resulting alert is durable
// on the bus. Errors carry a Kind: KindInvalid (a bad option, with Field set), KindTooLarge (an event
// over the size limit), KindUnavailable (all processors busy, or the alerts could not be submitted:
// retry the batch).
type LogIngester interface {
	IngestLogs(ctx context.Context, tenantID string, batch LogBatch) (LogBatchResult, error)
}

// LogBatch is one posted batch of log events.
type LogBatch struct {
	// Format is json (JSON Lines, a JSON array or concatenated objects; the default), eve (Suricata
	// eve.json), zeek-json or syslog (one message per line).
	Format string
	// Logsource says where JSON events come from when their shape does not: product[/channel[/event-id]],
	// e.g. "windows/Security/4688" or "aws/cloudtrail".
	Logsource string
	// Source names the sender in the alerts (e.g. "http:" and the token's name).
	Source string
	Body   io.Reader
}

// LogBatchResult counts what a batch did.
type LogBatchResult struct {
	Accepted  int64 `json:"accepted"`  // events matched
	Malformed int64 `json:"malformed"` // events that could not be read (skipped)
	Alerts    int64 `json:"alerts"`    // alerts submitted to triage
}
