package socbot

import (
	"context"
	"time"
)

// AlertBatch is one message of alerts taken off the bus: all of one tenant, identified by its stream
// sequence so that a redelivered message is recognised and creates nothing twice.
type AlertBatch struct {
	Stream   string
	Seq      uint64
	TenantID string
	Alerts   []Alert
}

// AlertGroup is a run of the same detection (same tenant, source, rule and key entities): repeats
// raise its count and last-seen instead of creating new work.
type AlertGroup struct {
	ID          int64     `json:"id"`
	TenantID    string    `json:"tenant_id"`
	Fingerprint string    `json:"fingerprint"`
	IncidentID  int64     `json:"incident_id,omitempty"`
	Count       int64     `json:"count"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	Open        bool      `json:"open"`
}

// TriageState is what the triage bot needs to resume correlating a tenant's alerts: its open incidents
// seen within the correlation window, their entities, and their open alert groups.
type TriageState struct {
	Incidents []Incident
	Groups    []AlertGroup
}

// IncidentDelta is triage's change to an open incident: more alerts, a later last-seen, and the
// triage-owned fields recomputed. Fields people own (status, assignee, queue) are never touched.
type IncidentDelta struct {
	ID         int64
	TenantID   string
	AddAlerts  int
	LastSeen   time.Time
	Priority   Priority // the incident's priority becomes the more urgent of this and its own
	Confidence int
	Reasons    []string
	Tactics    []string
	Techniques []string
}

// TriageTx is one triage transaction: everything one batch of alerts changes commits together with
// the record that the batch was processed.
type TriageTx interface {
	Processed(stream string, seq uint64) (bool, error)
	MarkProcessed(stream string, seq uint64) error
	// CreateIncident assigns the incident its id and the next number of its tenant.
	CreateIncident(inc *Incident) error
	// TouchIncident applies d; it fails with KindConflict if the incident was closed meanwhile.
	TouchIncident(d IncidentDelta) error
	CreateGroup(g *AlertGroup) error
	TouchGroup(id int64, add int64, lastSeen time.Time) error
	// CloseGroup ends a group (its window passed): the next repeat starts a new one.
	CloseGroup(id int64) error
	InsertAlerts(alerts []*Alert) error
	AddEntities(tenantID string, incidentID int64, entities []string, at time.Time) error
	// Merge folds the incidents `from` into `into`: alerts, groups and entities move, counts add up,
	// and each of `from` is marked merged.
	Merge(tenantID string, into int64, from []int64, at time.Time, by Principal) error
	AddTimeline(entries ...TimelineEntry) error
	// Notify queues the event for every enabled channel of the tenant that wants it.
	Notify(tenantID, event string, inc Incident, detail string) error
	Audit(rec AuditRecord) error
	SuppressionHits(tenantID string, hits map[int64]int64, at time.Time) error
}

// TriageStore runs triage transactions and loads triage state.
type TriageStore interface {
	// PrepareAlerts encodes what it can of the alerts' rows before the write transaction, so that the
	// single writer spends its time writing. Everything set before the call must not change after it,
	// except the fields triage decides in the transaction (status, group, incident, priority, confidence).
	PrepareAlerts(alerts []*Alert)
	TriageTx(ctx context.Context, fn func(TriageTx) error) error
	TriageState(ctx context.Context, tenantID string, since time.Time) (TriageState, error)
	DeadLetter(ctx context.Context, subject string, data []byte, reason string) error
}
