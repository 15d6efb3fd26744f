package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/report"
)

// pdfPrinter stands in for Chromium: it "prints" the HTML it is given into a fake PDF.
type pdfPrinter struct{}

func (pdfPrinter) PDF(_ context.Context, html []byte) ([]byte, error) {
	return append([]byte("%PDF-1.7 "), html...), nil
}

// withReports gives the API a report service and tenant B a stored report, a schedule and a branding
// that carry the matrix marker.
func withReports(t *testing.T, e *env) map[string]string {
	t.Helper()
	ctx := context.Background()
	svc := report.New(e.store, pdfPrinter{}, nil, nil, quiet, report.Config{})
	e.api.Reports = svc
	b := e.tenant["globex"].ID
	if err := svc.SetBranding(ctx, socbot.ReportBranding{TenantID: b, DisplayName: marker + " Inc"}, rootP); err != nil {
		t.Fatal(err)
	}
	run, err := svc.Generate(ctx, socbot.ReportRequest{TenantID: b, Period: "2026-10", Audience: "technical"}, rootP)
	if err != nil {
		t.Fatal(err)
	}
	sc := socbot.ReportSchedule{TenantID: b, Cadence: "monthly", Recipients: []string{marker + "@globex.example"}}
	if err := svc.CreateSchedule(ctx, &sc, rootP); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"reports": fmt.Sprint(run.ID), "report-schedules": fmt.Sprint(sc.ID)}
}

func init() { victimSeeders = append(victimSeeders, withReports) }

// reportState is everything of tenant B's reports that a route could change.
func reportState(t *testing.T, e *env) string {
	ctx := context.Background()
	b := e.tenant["globex"].ID
	runs, err1 := e.store.ReportRuns(ctx, b, 0, 100)
	scs, err2 := e.store.ReportSchedules(ctx, b)
	br, err3 := e.store.ReportBranding(ctx, b)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	out, _ := json.Marshal([]any{runs, scs, br})
	return string(out)
}

// TestReportIsolation: tenant A's roles never see or change tenant B's reports, schedules or branding,
// and B's own analyst can (so the test can fail).
func TestReportIsolation(t *testing.T) {
	e := newEnv(t)
	ids := withReports(t, e)
	before := reportState(t, e)
	victim := e.tenant["globex"]
	n := 0
	for _, rt := range e.api.Routes() {
		if !strings.HasPrefix(rt.Path, "/report") {
			continue
		}
		path := rt.Path
		if strings.Contains(path, "{id}") {
			path = strings.Replace(path, "{id}", ids[strings.Split(strings.TrimPrefix(path, "/"), "/")[0]], 1)
		}
		for _, role := range []string{"analyst", "viewer", "ingest"} {
			for _, scope := range []string{"?tenant=" + victim.ID, "?tenant=" + victim.Name, ""} {
				r := e.do(rt.Method, "/api/v1"+path+scope, e.tokens["acme/"+role], bodyFor(rt.Method, rt.Path))
				n++
				if bytes.Contains(bytes.ToLower(r.body), []byte(marker)) {
					t.Errorf("%s %s%s as acme/%s revealed B: %d %s", rt.Method, path, scope, role, r.code, r.body)
				}
				if scope != "" && r.code < 400 {
					t.Errorf("%s %s%s as acme/%s: %d", rt.Method, path, scope, role, r.code)
				}
				if scope == "" && strings.Contains(rt.Path, "{id}") && r.code < 400 {
					t.Errorf("%s %s as acme/%s reached B's object: %d", rt.Method, path, role, r.code)
				}
			}
		}
	}
	if after := reportState(t, e); after != before {
		t.Errorf("B's reports changed:\n%s\n%s", before, after)
	}
	if n < 90 {
		t.Fatalf("only %d requests", n)
	}
	// B's viewer downloads B's report; B's analyst sees the schedule.
	r := e.do("GET", "/api/v1/reports/"+ids["reports"]+"/content?format=html", e.tokens["globex/viewer"], nil)
	if r.code != 200 || !bytes.Contains(r.body, []byte(marker)) {
		t.Fatalf("B's viewer cannot download B's report: %d", r.code)
	}
	r = e.do("GET", "/api/v1/report-schedules", e.tokens["globex/analyst"], nil)
	if r.code != 200 || !bytes.Contains(r.body, []byte(marker)) {
		t.Fatalf("B's analyst cannot list B's schedules: %d %s", r.code, r.body)
	}
	// Viewers read but do not generate or schedule.
	if r := e.do("POST", "/api/v1/reports", e.tokens["globex/viewer"], bodyFor("POST", "/reports")); r.code != 403 {
		t.Fatalf("viewer generated a report: %d", r.code)
	}
}

func TestReportAPI(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["acme/analyst"]
	// Without the report bot: 503.
	if r := e.do("GET", "/api/v1/reports", tok, nil); r.code != 503 {
		t.Fatalf("no report bot: %d %s", r.code, r.body)
	}
	e.api.Reports = report.New(e.store, pdfPrinter{}, nil, nil, quiet, report.Config{})
	r := e.do("POST", "/api/v1/reports", tok, []byte(`{"period":"2026-Q3","audience":"management"}`))
	if r.code != 201 {
		t.Fatalf("generate: %d %s", r.code, r.body)
	}
	var run socbot.ReportRun
	r.json(t, &run)
	if run.Status != "ok" || run.Period != "2026-Q3" || run.PDFSize == 0 {
		t.Fatalf("run %+v", run)
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/reports/%d/content", run.ID), e.tokens["acme/viewer"], nil)
	if r.code != 200 || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
		t.Fatalf("download: %d", r.code)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"period":"2026-13"}`, "period"},
		{`{"period":"2026-10","audience":"board"}`, "audience"},
	} {
		r := e.do("POST", "/api/v1/reports", tok, []byte(tc.body))
		var eb errorBody
		r.json(t, &eb)
		if r.code != 400 || eb.Error.Field != tc.field {
			t.Errorf("%s: %d %s", tc.body, r.code, r.body)
		}
	}
	r = e.do("POST", "/api/v1/report-schedules", tok, []byte(`{"cadence":"quarterly","audience":"technical","recipients":["ciso@acme.example"]}`))
	if r.code != 201 {
		t.Fatalf("schedule: %d %s", r.code, r.body)
	}
	var sc socbot.ReportSchedule
	r.json(t, &sc)
	if r := e.do("POST", "/api/v1/report-schedules", tok, []byte(`{"cadence":"monthly","recipients":["not an address"]}`)); r.code != 400 {
		t.Fatalf("bad recipient: %d", r.code)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/report-schedules/%d/history", sc.ID), tok, nil); r.code != 200 {
		t.Fatalf("history: %d %s", r.code, r.body)
	}
	if r := e.do("PUT", "/api/v1/report-branding?tenant=acme", e.tokens["admin"], []byte(`{"display_name":"ACME","primary_color":"#123456"}`)); r.code != 200 {
		t.Fatalf("branding: %d %s", r.code, r.body)
	}
	if r := e.do("PUT", "/api/v1/report-branding?tenant=acme", e.tokens["admin"], []byte(`{"primary_color":"red"}`)); r.code != 400 {
		t.Fatalf("bad colour: %d", r.code)
	}
	if r := e.do("DELETE", fmt.Sprintf("/api/v1/report-schedules/%d", sc.ID), tok, nil); r.code != 204 {
		t.Fatalf("delete: %d", r.code)
	}
	// A failed report says why and cannot be downloaded.
	e.api.Reports = report.New(e.store, &report.Chromium{Path: "/nonexistent/chromium"}, nil, nil, quiet, report.Config{})
	r = e.do("POST", "/api/v1/reports", tok, []byte(`{"period":"2026-10"}`))
	if r.code != 503 || !strings.Contains(string(r.body), "Chromium not found") {
		t.Fatalf("missing Chromium: %d %s", r.code, r.body)
	}
	var list struct{ Reports []socbot.ReportRun }
	e.do("GET", "/api/v1/reports", tok, nil).json(t, &list)
	if len(list.Reports) != 2 || list.Reports[0].Status != "failed" {
		t.Fatalf("failed run not listed: %+v", list.Reports)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/reports/%d/content", list.Reports[0].ID), tok, nil); r.code != 409 {
		t.Fatalf("download of a failed report: %d", r.code)
	}
}
