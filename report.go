package socbot

import (
	"context"
	"time"
)

// Report audiences.
const (
	AudienceManagement = "management"
	AudienceTechnical  = "technical"
)

// Report formats.
const (
	FormatHTML = "html"
	FormatPDF  = "pdf"
)

// Report cadences of a schedule.
const (
	CadenceMonthly   = "monthly"
	CadenceQuarterly = "quarterly"
)

// Report run statuses.
const (
	ReportOK     = "ok"
	ReportFailed = "failed"
)

// ReportMetrics are every number a report shows, computed once by the store for one tenant and one
// period [From, To). Durations are mean seconds over the incidents that reached the milestone.
type ReportMetrics struct {
	TenantID string    `json:"tenant_id"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`

	// Alert volumes (by received_at in the period).
	Alerts           int64            `json:"alerts"`
	AlertsSuppressed int64            `json:"alerts_suppressed"`
	AlertsDuplicate  int64            `json:"alerts_duplicate"`
	AlertsCorrelated int64            `json:"alerts_correlated"` // joined an incident that already existed
	AlertsBySeverity map[string]int64 `json:"alerts_by_severity"`
	AlertsDaily      []int64          `json:"alerts_daily"` // one per local day of the period
	PrevAlerts       int64            `json:"prev_alerts"`  // the same length of time just before From

	// Incidents (by created_at in the period; merged incidents are not counted).
	Incidents           int64            `json:"incidents"`
	IncidentsDaily      []int64          `json:"incidents_daily"`
	PrevIncidents       int64            `json:"prev_incidents"`
	IncidentsByPriority map[string]int64 `json:"incidents_by_priority"` // P1..P4
	IncidentsByCategory []Count          `json:"incidents_by_category"` // most first
	IncidentsByStatus   map[string]int64 `json:"incidents_by_status"`   // status now
	FalsePositives      int64            `json:"false_positives"`
	OpenAtEnd           int64            `json:"open_at_end"` // created before To and not resolved by To

	// Mean times, in seconds, and how many incidents each mean is over.
	MTTD  float64 `json:"mttd_seconds"` // first detection at the source -> incident opened
	MTTA  float64 `json:"mtta_seconds"` // incident opened -> acknowledged
	MTTC  float64 `json:"mttc_seconds"` // incident opened -> contained
	MTTR  float64 `json:"mttr_seconds"` // incident opened -> resolved or closed as false positive
	NMTTD int64   `json:"mttd_n"`
	NMTTA int64   `json:"mtta_n"`
	NMTTC int64   `json:"mttc_n"`
	NMTTR int64   `json:"mttr_n"`

	// SLA adherence over the period's incidents: met, breached, and still running at the period's end.
	AckMet          int64 `json:"ack_met"`
	AckBreached     int64 `json:"ack_breached"`
	AckPending      int64 `json:"ack_pending"`
	ResolveMet      int64 `json:"resolve_met"`
	ResolveBreached int64 `json:"resolve_breached"`
	ResolvePending  int64 `json:"resolve_pending"`

	// Containment actions created in the period.
	Actions            int64            `json:"actions"`
	ActionsAutoApplied int64            `json:"actions_auto_applied"` // applied without any approval
	ActionsByState     map[string]int64 `json:"actions_by_state"`

	TopTechniques []Count `json:"top_techniques"` // ATT&CK technique -> incidents carrying it
	TopThreats    []Count `json:"top_threats"`    // detection title -> alerts

	// Posture: per week of the period, high-priority incidents opened and the open backlog at its end.
	Weeks []WeekPosture `json:"weeks"`
}

// Count is a named number, for the top-N lists.
type Count struct {
	Name string `json:"name"`
	N    int64  `json:"n"`
}

// WeekPosture is one week (or the partial week at either end) of the posture trend.
type WeekPosture struct {
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	HighOpened   int64     `json:"high_opened"`    // P1 and P2 incidents opened in the week
	Closed       int64     `json:"closed"`         // incidents resolved or closed as false positive in the week
	BacklogAtEnd int64     `json:"backlog_at_end"` // incidents open at the week's end
}

// ReportIncident is one incident in a technical report with everything that happened to it.
type ReportIncident struct {
	Incident   Incident          `json:"incident"`
	Timeline   []TimelineEntry   `json:"timeline"`
	Indicators []Observable      `json:"indicators"`
	Actions    []ReportAction    `json:"actions"`
	Alerts     []ReportAlertLine `json:"alerts"`
}

// ReportAlertLine is a detection of an incident, grouped by title.
type ReportAlertLine struct {
	Title string    `json:"title"`
	Count int64     `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// ReportAction is a containment action as a report shows it.
type ReportAction struct {
	ID          int64      `json:"id"`
	IncidentID  int64      `json:"incident_id,omitempty"`
	Kind        string     `json:"kind"`
	Value       string     `json:"value"`
	ConnectorID string     `json:"connector_id"`
	State       string     `json:"state"`
	RequestedBy string     `json:"requested_by"`
	Required    int        `json:"required_approvals"`
	CreatedAt   time.Time  `json:"created_at"`
	AppliedAt   *time.Time `json:"applied_at,omitempty"`
	RemovedAt   *time.Time `json:"removed_at,omitempty"`
	Detail      string     `json:"detail,omitempty"`
}

// ReportBranding is how a tenant's reports look.
type ReportBranding struct {
	TenantID     string    `json:"tenant_id"`
	DisplayName  string    `json:"display_name,omitempty"`  // the client's name as printed (default: the tenant name)
	Logo         string    `json:"logo,omitempty"`          // data:image/png;base64,… or data:image/jpeg;base64,…
	PrimaryColor string    `json:"primary_color,omitempty"` // #rrggbb
	AccentColor  string    `json:"accent_color,omitempty"`  // #rrggbb
	UpdatedAt    time.Time `json:"updated_at"`
}

// ReportSchedule produces a tenant's report for every completed month or quarter, in the tenant's
// time zone, and e-mails it.
type ReportSchedule struct {
	ID         int64      `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Cadence    string     `json:"cadence"`  // monthly or quarterly
	Audience   string     `json:"audience"` // management or technical
	Recipients []string   `json:"recipients"`
	Enabled    bool       `json:"enabled"`
	NextRunAt  time.Time  `json:"next_run_at"`
	LastRunAt  *time.Time `json:"last_run_at,omitempty"`
	LastStatus string     `json:"last_status,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	Attempts   int        `json:"attempts"` // failed attempts for the period due now
	CreatedBy  string     `json:"created_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// ReportRun is one generated (or failed) report: stored, listed, downloadable.
type ReportRun struct {
	ID          int64     `json:"id"`
	TenantID    string    `json:"tenant_id"`
	ScheduleID  int64     `json:"schedule_id,omitempty"`
	Period      string    `json:"period"` // as asked: 2026-10, 2026-Q3, 2026-10-01..2026-10-15
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Audience    string    `json:"audience"`
	Status      string    `json:"status"` // ok or failed
	Error       string    `json:"error,omitempty"`
	HTMLSize    int       `json:"html_size"`
	PDFSize     int       `json:"pdf_size"`
	SHA256      string    `json:"sha256,omitempty"` // of the HTML
	Delivery    string    `json:"delivery,omitempty"`
	RequestedBy string    `json:"requested_by"`
	CreatedAt   time.Time `json:"created_at"`
	HTML        []byte    `json:"-"`
	PDF         []byte    `json:"-"`
}

// ReportStore keeps what the report bot reads and writes. Every number of a report comes from
// ReportMetrics.
type ReportStore interface {
	ReportMetrics(ctx context.Context, tenantID string, from, to time.Time, loc *time.Location) (ReportMetrics, error)
	ReportIncidents(ctx context.Context, tenantID string, from, to time.Time) ([]ReportIncident, error)
	ReportOpenActions(ctx context.Context, tenantID string) ([]ReportAction, error)

	ReportBranding(ctx context.Context, tenantID string) (ReportBranding, error)
	SetReportBranding(ctx context.Context, b ReportBranding, by Principal) error

	CreateReportSchedule(ctx context.Context, s *ReportSchedule, by Principal) error
	ReportSchedules(ctx context.Context, tenantID string) ([]ReportSchedule, error) // "" lists all
	DeleteReportSchedule(ctx context.Context, tenantID string, id int64, by Principal) error
	// ClaimReportSchedules leases up to limit enabled schedules due at now, so that one node runs each.
	ClaimReportSchedules(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]ReportSchedule, error)
	// FinishReportSchedule records the outcome of a scheduled run and when to run next.
	FinishReportSchedule(ctx context.Context, s ReportSchedule) error

	SaveReportRun(ctx context.Context, r *ReportRun, by Principal) error
	ReportRuns(ctx context.Context, tenantID string, scheduleID int64, limit int) ([]ReportRun, error)
	ReportRun(ctx context.Context, tenantID string, id int64, content bool) (ReportRun, error)
	SetReportDelivery(ctx context.Context, id int64, delivery string) error
}

// ReportRequest asks for one report.
type ReportRequest struct {
	TenantID string `json:"tenant_id"`
	Period   string `json:"period"`
	Audience string `json:"audience"`
}

// ReportService generates, stores and lists reports and their schedules; the API and the console use
// it. Every method takes the tenant id already scoped by the caller; another tenant's id yields
// KindNotFound.
type ReportService interface {
	Generate(ctx context.Context, req ReportRequest, by Principal) (ReportRun, error)
	Runs(ctx context.Context, tenantID string, limit int) ([]ReportRun, error)
	Run(ctx context.Context, tenantID string, id int64, content bool) (ReportRun, error)
	Schedules(ctx context.Context, tenantID string) ([]ReportSchedule, error)
	CreateSchedule(ctx context.Context, s *ReportSchedule, by Principal) error
	DeleteSchedule(ctx context.Context, tenantID string, id int64, by Principal) error
	Branding(ctx context.Context, tenantID string) (ReportBranding, error)
	SetBranding(ctx context.Context, b ReportBranding, by Principal) error
}
