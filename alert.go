package socbot

import (
	"strings"
	"time"
)

// Severity is the one severity scale every source is mapped onto.
type Severity uint8

// Severities, lowest first. SeverityUnknown means the source gave none.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"unknown", "info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "unknown"
}

// Score is the canonical 0-100 score of a severity (info 10, low 30, medium 50, high 70, critical 90).
func (s Severity) Score() int {
	switch s {
	case SeverityInfo:
		return 10
	case SeverityLow:
		return 30
	case SeverityMedium:
		return 50
	case SeverityHigh:
		return 70
	case SeverityCritical:
		return 90
	}
	return 0
}

// SeverityFromScore buckets a 0-100 score: 0-19 info, 20-39 low, 40-59 medium, 60-79 high, 80+ critical.
func SeverityFromScore(score int) Severity {
	switch {
	case score >= 80:
		return SeverityCritical
	case score >= 60:
		return SeverityHigh
	case score >= 40:
		return SeverityMedium
	case score >= 20:
		return SeverityLow
	default:
		return SeverityInfo
	}
}

// ParseSeverity reads a severity name case-insensitively; it accepts common vendor synonyms.
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "info", "informational", "information", "informative":
		return SeverityInfo, true
	case "low", "minor":
		return SeverityLow, true
	case "medium", "moderate", "med":
		return SeverityMedium, true
	case "high", "major", "important":
		return SeverityHigh, true
	case "critical", "severe", "fatal":
		return SeverityCritical, true
	case "unknown", "", "unspecified", "severity_unspecified":
		return SeverityUnknown, s != ""
	}
	return SeverityUnknown, false
}

// Priority is the triage bot's verdict on how urgently people must look: P1 (now) to P4 (when time allows).
type Priority uint8

// Priorities.
const (
	PriorityNone Priority = iota
	P1
	P2
	P3
	P4
)

func (p Priority) String() string {
	switch p {
	case P1:
		return "P1"
	case P2:
		return "P2"
	case P3:
		return "P3"
	case P4:
		return "P4"
	}
	return ""
}

// ParsePriority reads "P1".."P4" (case-insensitive).
func ParsePriority(s string) (Priority, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "P1":
		return P1, true
	case "P2":
		return P2, true
	case "P3":
		return P3, true
	case "P4":
		return P4, true
	}
	return PriorityNone, false
}

// Raise returns the next more urgent priority (P1 stays P1).
func (p Priority) Raise() Priority {
	if p <= P1 {
		return P1
	}
	return p - 1
}

// ObservableType names the kind of entity an observable is.
type ObservableType string

// Observable types.
const (
	ObsIP      ObservableType = "ip"
	ObsDomain  ObservableType = "domain"
	ObsURL     ObservableType = "url"
	ObsMD5     ObservableType = "md5"
	ObsSHA1    ObservableType = "sha1"
	ObsSHA256  ObservableType = "sha256"
	ObsEmail   ObservableType = "email"
	ObsUser    ObservableType = "user"
	ObsHost    ObservableType = "host"
	ObsProcess ObservableType = "process"
	ObsFile    ObservableType = "file"
)

// ObsRole says what part an observable played in the detection.
type ObsRole string

// Observable roles.
const (
	AsSource      ObsRole = "source"
	AsDestination ObsRole = "destination"
	AsActor       ObsRole = "actor"
	AsTarget      ObsRole = "target"
	AsRelated     ObsRole = "related"
)

// Observable is one entity extracted from an alert.
type Observable struct {
	Type  ObservableType `json:"type"`
	Value string         `json:"value"`
	Role  ObsRole        `json:"role,omitempty"`
}

// Key is the observable's identity for correlation and lookups: "type:value".
func (o Observable) Key() string { return string(o.Type) + ":" + o.Value }

// Alert is one detection in socbot's internal model, whatever product sent it.
type Alert struct {
	ID       int64  `json:"id,omitempty"`        // database id, set once stored
	UID      string `json:"uid"`                 // socbot id assigned at ingest, unique
	TenantID string `json:"tenant_id"`           // owning tenant
	Format   string `json:"format"`              // normaliser that read it, e.g. "crowdstrike"
	Vendor   string `json:"vendor,omitempty"`    // e.g. "CrowdStrike"
	Product  string `json:"product,omitempty"`   // e.g. "Falcon"
	SourceID string `json:"source_id,omitempty"` // the vendor's own id for the detection

	RuleID      string `json:"rule_id,omitempty"`
	RuleName    string `json:"rule_name,omitempty"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Category    string `json:"category,omitempty"`

	Severity      Severity `json:"-"`
	SeverityScore int      `json:"severity_score"`
	SeverityRaw   string   `json:"severity_raw,omitempty"`

	Tactics    []string `json:"tactics,omitempty"`    // ATT&CK tactic ids or names, e.g. TA0002
	Techniques []string `json:"techniques,omitempty"` // ATT&CK technique ids, e.g. T1059.001

	Observables []Observable `json:"observables,omitempty"`

	DetectedAt time.Time `json:"detected_at"` // when the source detected it (ingest time if unknown)
	ReceivedAt time.Time `json:"received_at"` // when socbot accepted it
	Flags      []string  `json:"flags,omitempty"`

	Raw []byte `json:"-"` // the record exactly as received

	// Set by triage.
	Fingerprint  string       `json:"fingerprint,omitempty"`
	GroupID      int64        `json:"group_id,omitempty"`
	IncidentID   int64        `json:"incident_id,omitempty"`
	Priority     Priority     `json:"-"`
	Confidence   int          `json:"confidence"`
	Reasons      []string     `json:"reasons,omitempty"`
	Status       string       `json:"status,omitempty"` // open, suppressed, duplicate
	SuppressedBy string       `json:"suppressed_by,omitempty"`
	Enrichment   []Enrichment `json:"enrichment,omitempty"`

	// Prepared holds the alert's columns encoded by the store ahead of its write transaction (see
	// TriageStore.PrepareAlerts); only the store reads it.
	Prepared any `json:"-"`
}

// Alert flags.
const (
	FlagTimeMissing = "time_missing" // the source gave no usable time; DetectedAt is the ingest time
	FlagTimeFuture  = "time_future"  // the source time was far in the future and was replaced
)

// Alert statuses.
const (
	AlertOpen       = "open"
	AlertSuppressed = "suppressed"
	AlertDuplicate  = "duplicate"
)

// AddObservable appends an observable unless the same type, value and role is already there.
func (a *Alert) AddObservable(t ObservableType, value string, role ObsRole) {
	if value == "" {
		return
	}
	for _, o := range a.Observables {
		if o.Type == t && o.Value == value && o.Role == role {
			return
		}
	}
	a.Observables = append(a.Observables, Observable{Type: t, Value: value, Role: role})
}

// First returns the value of the first observable of type t (and role r if r is not empty).
func (a *Alert) First(t ObservableType, r ObsRole) string {
	for _, o := range a.Observables {
		if o.Type == t && (r == "" || o.Role == r) {
			return o.Value
		}
	}
	return ""
}
