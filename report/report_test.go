package report

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
	"github.com/socbot/socbot/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// seeded returns a SQLite store with the storetest report tenant "acme" (and "globex" as noise).
func seeded(t testing.TB) (*sqlstore.Store, socbot.Tenant, *storetest.Clock) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	clock := storetest.NewClock(time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
	s := sqlstore.New(db, sqlstore.SQLite, clock, quiet)
	t.Cleanup(func() { s.Close() })
	exec := func(q string, args ...any) error { _, err := db.Exec(q, args...); return err }
	tn := storetest.SeedReportTenant(t, s, clock, exec, "acme")
	storetest.SeedReportTenant(t, s, clock, exec, "globex")
	return s, tn, clock
}

var generatedAt = time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		os.WriteFile(path+".got", got, 0o644)
		t.Fatalf("%s differs from the golden file (got written to %s.got; -update to accept)", name, path)
	}
}

// TestGolden renders both audiences of the seeded month and compares them with the golden files: the
// same data always gives the same report, byte for byte.
func TestGolden(t *testing.T) {
	s, tn, _ := seeded(t)
	if err := s.SetReportBranding(context.Background(), socbot.ReportBranding{TenantID: tn.ID, DisplayName: "ACME Corporation",
		PrimaryColor: "#0b3d91", AccentColor: "#fc3d21", Logo: testLogo}, socbot.Principal{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	svc := New(s, nil, nil, fixedClock{generatedAt}, quiet, Config{})
	for _, aud := range []string{socbot.AudienceManagement, socbot.AudienceTechnical} {
		doc, err := svc.Build(context.Background(), tn.ID, "2026-10", aud)
		if err != nil {
			t.Fatal(err)
		}
		html, err := RenderHTML(doc)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := svc.Build(context.Background(), tn.ID, "2026-10", aud)
		html2, _ := RenderHTML(again)
		if !bytes.Equal(html, html2) {
			t.Fatal("two renders of the same data differ")
		}
		golden(t, aud+"-2026-10.html", html)
		wants := []string{"ACME Corporation", "#0b3d91", "data:image/png;base64,"}
		if aud == socbot.AudienceManagement {
			wants = append(wants, "<svg")
		}
		for _, want := range wants {
			if !bytes.Contains(html, []byte(want)) {
				t.Errorf("%s report lacks %q", aud, want)
			}
		}
		if bytes.Contains(html, []byte("<script")) {
			t.Errorf("%s report contains a script", aud)
		}
	}
}

// A 1x1 PNG.
const testLogo = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

func TestManagementContents(t *testing.T) {
	s, tn, _ := seeded(t)
	svc := New(s, nil, nil, fixedClock{generatedAt}, quiet, Config{})
	doc, err := svc.Build(context.Background(), tn.ID, "2026-10", socbot.AudienceManagement)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := RenderHTML(doc)
	text := string(html)
	for _, section := range []string{"Executive summary", "Alerts per day", "Incidents by priority and category", "MTTD", "MTTA", "MTTC", "MTTR",
		"SLA adherence", "Automation rate", "Analyst hours saved", "Hours model", "Top ATT&amp;CK techniques", "Top threats", "Posture trend"} {
		if !strings.Contains(text, section) {
			t.Errorf("management report lacks %q", section)
		}
	}
	// Every headline number in the page is the metric's.
	m := doc.Metrics
	for _, want := range []string{num(m.Alerts) + "</b><span>alerts", num(m.Incidents) + "</b><span>incidents", percent(doc.Derived.AutomationRate)} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The hours model is what it says.
	want := (float64(m.Alerts-m.Incidents)*5 + float64(m.Incidents)*10 + float64(m.ActionsAutoApplied)*15) / 60
	if d := doc.Derived.HoursSaved - want; d > 0.06 || d < -0.06 {
		t.Errorf("hours saved %.1f, model gives %.2f", doc.Derived.HoursSaved, want)
	}
}

func TestTechnicalContents(t *testing.T) {
	s, tn, _ := seeded(t)
	svc := New(s, nil, nil, fixedClock{generatedAt}, quiet, Config{})
	doc, err := svc.Build(context.Background(), tn.ID, "2026-10", socbot.AudienceTechnical)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := RenderHTML(doc)
	text := string(html)
	for _, ri := range doc.Incidents {
		if !strings.Contains(text, ">#"+itoa(ri.Incident.Number)+" ") {
			t.Fatalf("incident #%d missing", ri.Incident.Number)
		}
	}
	for _, section := range []string{"Open items", "Containment actions not yet at rest", "Indicators", "Detections", "Actions taken", "Timeline", "awaiting_approval"} {
		if !strings.Contains(text, section) {
			t.Errorf("technical report lacks %q", section)
		}
	}
}

func itoa(n int64) string { return num(n) }

func TestPeriods(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct {
		in       string
		from, to string
		bad      bool
	}{
		{in: "2026-10", from: "2026-10-01T00:00:00+02:00", to: "2026-11-01T00:00:00+01:00"},
		{in: "2026-Q3", from: "2026-07-01T00:00:00+02:00", to: "2026-10-01T00:00:00+02:00"},
		{in: "2026-Q4", from: "2026-10-01T00:00:00+02:00", to: "2027-01-01T00:00:00+01:00"},
		{in: "2026-10-01..2026-10-15", from: "2026-10-01T00:00:00+02:00", to: "2026-10-16T00:00:00+02:00"},
		{in: "2026-10-01T00:00:00Z..2026-10-02T00:00:00Z", from: "2026-10-01T00:00:00Z", to: "2026-10-02T00:00:00Z"},
		{in: "2026-13", bad: true}, {in: "2026-Q5", bad: true}, {in: "2026-10-05..2026-10-01", bad: true}, {in: "", bad: true},
		{in: "2020-01-01..2026-01-01", bad: true}, {in: "last month", bad: true},
	} {
		p, err := ParsePeriod(tc.in, berlin)
		if tc.bad {
			if socbot.ErrorField(err) != "period" {
				t.Errorf("%q: want a period error, got %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := p.From.Format(time.RFC3339); got != tc.from {
			t.Errorf("%q from %s, want %s", tc.in, got, tc.from)
		}
		if got := p.To.Format(time.RFC3339); got != tc.to {
			t.Errorf("%q to %s, want %s", tc.in, got, tc.to)
		}
	}
	now := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC) // 06:30 in Berlin
	if p := LastComplete(socbot.CadenceMonthly, now, berlin); p.Label != "2026-10" {
		t.Errorf("last month %s", p.Label)
	}
	if p := LastComplete(socbot.CadenceQuarterly, now, berlin); p.Label != "2026-Q3" {
		t.Errorf("last quarter %s", p.Label)
	}
	if n := NextRun(socbot.CadenceMonthly, now, berlin); !n.Equal(time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("next monthly run %s", n)
	}
	if n := NextRun(socbot.CadenceQuarterly, now, berlin); !n.Equal(time.Date(2027, 1, 1, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("next quarterly run %s", n)
	}
	if n := NextRun(socbot.CadenceMonthly, time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), berlin); !n.Equal(time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("next run on the last day %s", n)
	}
}

// fakePrinter stands in for Chromium in scheduler tests.
type fakePrinter struct{ err error }

func (p *fakePrinter) PDF(_ context.Context, html []byte) ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	return append([]byte("%PDF-1.7 fake "), html[:20]...), nil
}

type sent struct {
	to       []string
	subject  string
	filename string
	pdf      []byte
}

type fakeMailer struct {
	mu   sync.Mutex
	sent []sent
	err  error
}

func (m *fakeMailer) SendReport(_ context.Context, to []string, subject, _, filename string, pdf []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.sent = append(m.sent, sent{to, subject, filename, pdf})
	return nil
}

// TestScheduleFailsThenRetries: Chromium is missing at the first run, so the failure is recorded in the
// schedule's history and nothing is mailed; the retry after it is back sends the complete PDF once.
func TestScheduleFailsThenRetries(t *testing.T) {
	s, tn, clock := seeded(t)
	ctx := context.Background()
	printer := &fakePrinter{err: socbot.E("report.pdf", socbot.KindUnavailable, "Chromium not found at /nope")}
	mailer := &fakeMailer{}
	clock.Advance(time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC).Sub(clock.Now()))
	svc := New(s, printer, mailer, clock, quiet, Config{RetryAfter: 10 * time.Minute})
	sc := socbot.ReportSchedule{TenantID: tn.ID, Cadence: socbot.CadenceMonthly, Audience: socbot.AudienceManagement, Recipients: []string{"CISO <ciso@acme.example>"}}
	if err := svc.CreateSchedule(ctx, &sc, socbot.Principal{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC); !sc.NextRunAt.Equal(want) {
		t.Fatalf("first run %s, want %s (06:00 Berlin)", sc.NextRunAt, want)
	}
	if err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.ReportRuns(ctx, tn.ID, sc.ID, 10); len(runs) != 0 {
		t.Fatal("ran before it was due")
	}
	clock.Advance(sc.NextRunAt.Sub(clock.Now()) + time.Minute)
	if err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	hist, _ := s.ReportRuns(ctx, tn.ID, sc.ID, 10)
	if len(hist) != 1 || hist[0].Status != socbot.ReportFailed || !strings.Contains(hist[0].Error, "Chromium not found") || hist[0].PDFSize != 0 {
		t.Fatalf("history after the failure: %+v", hist)
	}
	if len(mailer.sent) != 0 {
		t.Fatal("a failed report was e-mailed")
	}
	scs, _ := s.ReportSchedules(ctx, tn.ID)
	if scs[0].LastStatus != socbot.ReportFailed || scs[0].Attempts != 1 || !strings.Contains(scs[0].LastError, "Chromium") {
		t.Fatalf("schedule after the failure: %+v", scs[0])
	}
	retryAt := scs[0].NextRunAt
	if retryAt.Sub(clock.Now()) != 10*time.Minute {
		t.Fatalf("retry at %s", retryAt)
	}
	printer.err = nil
	clock.Advance(11 * time.Minute)
	if err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	hist, _ = s.ReportRuns(ctx, tn.ID, sc.ID, 10)
	if len(hist) != 2 || hist[0].Status != socbot.ReportOK || hist[0].Period != "2026-10" || hist[0].Delivery != "sent to 1 recipients" {
		t.Fatalf("history after the retry: %+v", hist)
	}
	if len(mailer.sent) != 1 || mailer.sent[0].to[0] != "ciso@acme.example" || !bytes.HasPrefix(mailer.sent[0].pdf, []byte("%PDF-")) ||
		mailer.sent[0].filename != "acme-2026-10-management.pdf" {
		t.Fatalf("mail: %+v", mailer.sent)
	}
	scs, _ = s.ReportSchedules(ctx, tn.ID)
	if scs[0].LastStatus != socbot.ReportOK || scs[0].Attempts != 0 || !scs[0].NextRunAt.Equal(time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)) {
		t.Fatalf("schedule after success: %+v", scs[0])
	}
	// A mail relay that refuses: the report is stored, the delivery says so, and the schedule retries.
	mailer.err = errors.New("421 try later")
	clock.Advance(scs[0].NextRunAt.Sub(clock.Now()) + time.Minute)
	if err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	hist, _ = s.ReportRuns(ctx, tn.ID, sc.ID, 1)
	if !strings.HasPrefix(hist[0].Delivery, "failed: 421") || hist[0].Period != "2026-11" {
		t.Fatalf("delivery %+v", hist[0])
	}
	scs, _ = s.ReportSchedules(ctx, tn.ID)
	if scs[0].LastStatus != socbot.ReportFailed || !strings.Contains(scs[0].LastError, "e-mail") {
		t.Fatalf("schedule after the mail failure: %+v", scs[0])
	}
}

// TestChromiumPDF prints the management report with the real Chromium.
func TestChromiumPDF(t *testing.T) {
	path := os.Getenv("SOCBOT_TEST_CHROMIUM")
	if path == "" {
		t.Skip("set SOCBOT_TEST_CHROMIUM=/usr/bin/chromium to print PDFs with Chromium")
	}
	s, tn, _ := seeded(t)
	svc := New(s, &Chromium{Path: path}, nil, fixedClock{generatedAt}, quiet, Config{})
	run, err := svc.Generate(context.Background(), socbot.ReportRequest{TenantID: tn.ID, Period: "2026-10", Audience: socbot.AudienceManagement}, socbot.Principal{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	full, err := s.ReportRun(context.Background(), tn.ID, run.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(full.PDF, []byte("%PDF-")) || len(full.PDF) < 10000 {
		t.Fatalf("PDF of %d bytes", len(full.PDF))
	}
	if dir := os.Getenv("SOCBOT_ARTIFACTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "management-2026-10.pdf"), full.PDF, 0o644)
	}
	// A missing browser fails clearly and is recorded.
	bad := New(s, &Chromium{Path: "/nonexistent/chromium"}, nil, fixedClock{generatedAt}, quiet, Config{})
	run, err = bad.Generate(context.Background(), socbot.ReportRequest{TenantID: tn.ID, Period: "2026-10"}, socbot.Principal{Name: "test"})
	if !socbot.IsKind(err, socbot.KindUnavailable) || run.Status != socbot.ReportFailed || !strings.Contains(run.Error, "Chromium not found") {
		t.Fatalf("missing Chromium: %v %+v", err, run)
	}
	_ = sql.ErrNoRows
}
