package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// Store is what the report bot needs of the store.
type Store interface {
	socbot.ReportStore
	Tenant(ctx context.Context, id string) (socbot.Tenant, error)
}

// Mailer sends a finished report by e-mail with its PDF attached.
type Mailer interface {
	SendReport(ctx context.Context, to []string, subject, text, filename string, pdf []byte) error
}

// Config tunes the report bot.
type Config struct {
	Model      HoursModel    // the analyst-hours model (default DefaultHoursModel)
	Interval   time.Duration // how often the scheduler looks for due schedules (default 1 min)
	RetryAfter time.Duration // first retry of a failed scheduled report, doubling up to 6 h (default 15 min)
	Lease      time.Duration // how long a node holds a due schedule (default 15 min)
}

// Service generates, stores and schedules reports. It implements socbot.ReportService.
type Service struct {
	store   Store
	printer Printer
	mailer  Mailer
	clock   socbot.Clock
	log     *slog.Logger
	cfg     Config
}

var _ socbot.ReportService = (*Service)(nil)

// New returns the report bot. printer may be a *Chromium whose Path is empty: reports then fail with
// a clear error; mailer may be nil: scheduled reports are then stored but not sent, and say so.
func New(store Store, printer Printer, mailer Mailer, clock socbot.Clock, logger *slog.Logger, cfg Config) *Service {
	if cfg.Model == (HoursModel{}) {
		cfg.Model = DefaultHoursModel
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 15 * time.Minute
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Minute
	}
	if clock == nil {
		clock = socbot.SystemClock{}
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{store: store, printer: printer, mailer: mailer, clock: clock, log: logger, cfg: cfg}
}

// Location returns a tenant's time zone.
func Location(t socbot.Tenant) *time.Location {
	if loc, err := time.LoadLocation(t.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// Build gathers the document of one report.
func (s *Service) Build(ctx context.Context, tenantID, period, audience string) (*Document, error) {
	const op = "report.Build"
	if audience != socbot.AudienceManagement && audience != socbot.AudienceTechnical {
		return nil, socbot.FieldError(op, "audience", "audience must be management or technical, not %q", audience)
	}
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return nil, socbot.E(op, err)
	}
	loc := Location(t)
	p, err := ParsePeriod(period, loc)
	if err != nil {
		return nil, err
	}
	doc := &Document{Tenant: t, Period: p, Audience: audience, GeneratedAt: s.clock.Now().UTC(), Location: loc}
	if doc.Branding, err = s.store.ReportBranding(ctx, tenantID); err != nil {
		return nil, socbot.E(op, err)
	}
	if doc.Metrics, err = s.store.ReportMetrics(ctx, tenantID, p.From, p.To, loc); err != nil {
		return nil, socbot.E(op, "metrics", err)
	}
	doc.Derived = derive(doc.Metrics, s.cfg.Model)
	if audience == socbot.AudienceTechnical {
		if doc.Incidents, err = s.store.ReportIncidents(ctx, tenantID, p.From, p.To); err != nil {
			return nil, socbot.E(op, "incidents", err)
		}
		if doc.OpenActions, err = s.store.ReportOpenActions(ctx, tenantID); err != nil {
			return nil, socbot.E(op, "actions", err)
		}
	}
	doc.Summary = summary(doc)
	return doc, nil
}

// PDF prints a rendered report.
func (s *Service) PDF(ctx context.Context, html []byte) ([]byte, error) {
	if s.printer == nil {
		return nil, socbot.E("report.pdf", socbot.KindUnavailable, "no PDF printer configured")
	}
	return s.printer.PDF(ctx, html)
}

// produce builds, renders and prints a report; any failure leaves nothing half-built behind.
func (s *Service) produce(ctx context.Context, tenantID, period, audience string) (*Document, []byte, []byte, error) {
	doc, err := s.Build(ctx, tenantID, period, audience)
	if err != nil {
		return nil, nil, nil, err
	}
	html, err := RenderHTML(doc)
	if err != nil {
		return doc, nil, nil, err
	}
	pdf, err := s.PDF(ctx, html)
	if err != nil {
		return doc, nil, nil, err
	}
	return doc, html, pdf, nil
}

// Generate produces a report now and stores it. A failure is stored too, with its reason, and returned.
func (s *Service) Generate(ctx context.Context, req socbot.ReportRequest, by socbot.Principal) (socbot.ReportRun, error) {
	return s.generate(ctx, req, 0, by)
}

func (s *Service) generate(ctx context.Context, req socbot.ReportRequest, scheduleID int64, by socbot.Principal) (socbot.ReportRun, error) {
	const op = "report.Generate"
	if req.TenantID == "" {
		return socbot.ReportRun{}, socbot.FieldError(op, "tenant", "a report is for one tenant")
	}
	if req.Audience == "" {
		req.Audience = socbot.AudienceManagement
	}
	t, err := s.store.Tenant(ctx, req.TenantID)
	if err != nil {
		return socbot.ReportRun{}, socbot.E(op, err)
	}
	p, err := ParsePeriod(req.Period, Location(t))
	if err != nil {
		return socbot.ReportRun{}, err
	}
	if req.Audience != socbot.AudienceManagement && req.Audience != socbot.AudienceTechnical {
		return socbot.ReportRun{}, socbot.FieldError(op, "audience", "audience must be management or technical, not %q", req.Audience)
	}
	run := socbot.ReportRun{TenantID: req.TenantID, ScheduleID: scheduleID, Period: p.Label, From: p.From, To: p.To, Audience: req.Audience, Status: socbot.ReportOK}
	_, html, pdf, genErr := s.produce(ctx, req.TenantID, req.Period, req.Audience)
	if genErr != nil {
		run.Status, run.Error = socbot.ReportFailed, genErr.Error()
	} else {
		sum := sha256.Sum256(html)
		run.HTML, run.PDF, run.SHA256 = html, pdf, hex.EncodeToString(sum[:])
	}
	if err := s.store.SaveReportRun(ctx, &run, by); err != nil {
		return run, err
	}
	run.HTML, run.PDF = nil, nil
	if genErr != nil {
		s.log.Warn("report failed", "tenant", req.TenantID, "period", p.Label, "audience", req.Audience, "err", genErr)
		return run, genErr
	}
	return run, nil
}

// Runs lists stored reports, newest first.
func (s *Service) Runs(ctx context.Context, tenantID string, limit int) ([]socbot.ReportRun, error) {
	return s.store.ReportRuns(ctx, tenantID, 0, limit)
}

// Run returns one stored report.
func (s *Service) Run(ctx context.Context, tenantID string, id int64, content bool) (socbot.ReportRun, error) {
	return s.store.ReportRun(ctx, tenantID, id, content)
}

// Schedules lists schedules.
func (s *Service) Schedules(ctx context.Context, tenantID string) ([]socbot.ReportSchedule, error) {
	return s.store.ReportSchedules(ctx, tenantID)
}

// CreateSchedule validates and stores a schedule; its first run is the next month or quarter start
// (06:00) in the tenant's time zone.
func (s *Service) CreateSchedule(ctx context.Context, sc *socbot.ReportSchedule, by socbot.Principal) error {
	const op = "report.CreateSchedule"
	t, err := s.store.Tenant(ctx, sc.TenantID)
	if err != nil {
		return socbot.E(op, err)
	}
	if sc.Audience == "" {
		sc.Audience = socbot.AudienceManagement
	}
	if len(sc.Recipients) > 50 {
		return socbot.FieldError(op, "recipients", "at most 50 recipients")
	}
	for i, r := range sc.Recipients {
		a, err := mail.ParseAddress(strings.TrimSpace(r))
		if err != nil {
			return socbot.FieldError(op, fmt.Sprintf("recipients[%d]", i), "not an e-mail address: %q", r)
		}
		sc.Recipients[i] = a.Address
	}
	sc.Enabled = true
	sc.NextRunAt = NextRun(sc.Cadence, s.clock.Now(), Location(t))
	return s.store.CreateReportSchedule(ctx, sc, by)
}

// DeleteSchedule removes a schedule.
func (s *Service) DeleteSchedule(ctx context.Context, tenantID string, id int64, by socbot.Principal) error {
	return s.store.DeleteReportSchedule(ctx, tenantID, id, by)
}

// Branding returns a tenant's branding.
func (s *Service) Branding(ctx context.Context, tenantID string) (socbot.ReportBranding, error) {
	if _, err := s.store.Tenant(ctx, tenantID); err != nil {
		return socbot.ReportBranding{}, err
	}
	return s.store.ReportBranding(ctx, tenantID)
}

// SetBranding replaces a tenant's branding.
func (s *Service) SetBranding(ctx context.Context, b socbot.ReportBranding, by socbot.Principal) error {
	if _, err := s.store.Tenant(ctx, b.TenantID); err != nil {
		return err
	}
	return s.store.SetReportBranding(ctx, b, by)
}

// Run runs the scheduler until ctx ends.
func (s *Service) RunSchedules(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("report scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick produces every scheduled report that is due now. A report that fails (Chromium missing, a
// database error, the mail relay refusing) is recorded in the schedule's history and retried later;
// only a complete report is ever e-mailed.
func (s *Service) Tick(ctx context.Context) error {
	now := s.clock.Now()
	due, err := s.store.ClaimReportSchedules(ctx, now, s.cfg.Lease, 10)
	if err != nil {
		return err
	}
	for _, sc := range due {
		s.runSchedule(ctx, sc, now)
	}
	return nil
}

func (s *Service) runSchedule(ctx context.Context, sc socbot.ReportSchedule, now time.Time) {
	bot := socbot.Bot("report")
	t, err := s.store.Tenant(ctx, sc.TenantID)
	loc := time.UTC
	if err == nil {
		loc = Location(t)
	}
	p := LastComplete(sc.Cadence, sc.NextRunAt, loc)
	var failure error
	run, genErr := s.generate(ctx, socbot.ReportRequest{TenantID: sc.TenantID, Period: p.Label, Audience: sc.Audience}, sc.ID, bot)
	switch {
	case err != nil:
		failure = err
	case genErr != nil:
		failure = genErr
	case len(sc.Recipients) == 0:
		_ = s.store.SetReportDelivery(ctx, run.ID, "stored; no recipients")
	case s.mailer == nil:
		failure = fmt.Errorf("e-mail: no SMTP server configured (smtp.host)")
		_ = s.store.SetReportDelivery(ctx, run.ID, "not sent: no SMTP server configured")
	default:
		full, err := s.store.ReportRun(ctx, sc.TenantID, run.ID, true)
		if err == nil && len(full.PDF) == 0 {
			err = fmt.Errorf("stored report has no PDF")
		}
		if err == nil {
			name := fmt.Sprintf("%s-%s-%s.pdf", t.Name, p.Label, sc.Audience)
			subject := fmt.Sprintf("%s security report %s (%s)", t.Name, p.Label, sc.Audience)
			text := fmt.Sprintf("The %s security operations report for %s, %s, is attached.\n", sc.Audience, t.Name, p.Label)
			err = s.mailer.SendReport(ctx, sc.Recipients, subject, text, name, full.PDF)
		}
		if err != nil {
			failure = fmt.Errorf("e-mail: %w", err)
			_ = s.store.SetReportDelivery(ctx, run.ID, "failed: "+err.Error())
		} else {
			_ = s.store.SetReportDelivery(ctx, run.ID, fmt.Sprintf("sent to %d recipients", len(sc.Recipients)))
		}
	}
	at := now.UTC()
	sc.LastRunAt = &at
	if failure != nil {
		sc.Attempts++
		sc.LastStatus, sc.LastError = socbot.ReportFailed, failure.Error()
		delay := s.cfg.RetryAfter << min(sc.Attempts-1, 5)
		sc.NextRunAt = now.Add(min(delay, 6*time.Hour))
		s.log.Warn("scheduled report failed; will retry", "schedule", sc.ID, "tenant", sc.TenantID, "period", p.Label, "retry_at", sc.NextRunAt, "err", failure)
	} else {
		sc.Attempts = 0
		sc.LastStatus, sc.LastError = socbot.ReportOK, ""
		sc.NextRunAt = NextRun(sc.Cadence, p.To.Add(time.Hour*24), loc)
		if !sc.NextRunAt.After(now) {
			sc.NextRunAt = NextRun(sc.Cadence, now, loc)
		}
	}
	if err := s.store.FinishReportSchedule(ctx, sc); err != nil {
		s.log.Error("report scheduler: could not record the outcome", "schedule", sc.ID, "err", err)
	}
}
