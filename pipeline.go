package socbot

import "context"

// AlertSink accepts normalised alerts into the triage pipeline. Submit returns only once the alerts
// are durable on the bus; after that they reach triage even if the process dies.
// HTTP ingest, the monitor bot and any other producer of alerts use it.
type AlertSink interface {
	Submit(ctx context.Context, tenantID string, alerts []Alert) error
}
