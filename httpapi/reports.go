package httpapi

import (
	_ "embed"
	"fmt"
	"net/http"
	"strings"

	socbot "github.com/socbot/socbot"
)

// The report bot's routes: generate on demand, list and download stored reports, manage schedules and
// branding. Every route is tenant-scoped like the core's; without a report service they answer 503.

//go:embed openapi_reports.json
var openapiReports []byte

func init() {
	routeGroups = append(routeGroups, (*Server).reportRoutes)
	addOpenAPI(openapiReports)
}

func (s *Server) reportRoutes() {
	s.handle("GET", "/reports", PermRead, "List stored reports (newest first)", s.listReports)
	s.handle("POST", "/reports", PermWork, "Generate a report now (HTML and PDF) and store it", s.createReport)
	s.handle("GET", "/reports/{id}", PermRead, "Get a stored report's record", s.getReport)
	s.handle("GET", "/reports/{id}/content", PermRead, "Download a stored report as PDF or HTML", s.reportContent)
	s.handle("GET", "/report-schedules", PermStaff, "List report schedules with their last outcome", s.listReportSchedules)
	s.handle("POST", "/report-schedules", PermWork, "Schedule monthly or quarterly reports, e-mailed as PDF", s.createReportSchedule)
	s.handle("DELETE", "/report-schedules/{id}", PermWork, "Delete a report schedule", s.deleteReportSchedule)
	s.handle("GET", "/report-schedules/{id}/history", PermStaff, "A schedule's runs, failures included", s.reportScheduleHistory)
	s.handle("GET", "/report-branding", PermRead, "The tenant's report branding", s.getBranding)
	s.handle("PUT", "/report-branding", PermAdmin, "Set the tenant's report branding (name, logo, colours)", s.putBranding)
}

func (s *Server) reports(w http.ResponseWriter, r *http.Request) bool {
	if s.Reports == nil {
		writeError(w, r, s.Logger, socbot.E("httpapi.reports", socbot.KindUnavailable, "the report bot is not running on this node"))
		return false
	}
	return true
}

func (s *Server) listReports(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	limit, err := optIntN(r.URL.Query().Get("limit"), "limit")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Reports.Runs(r.Context(), tenant, limit)
	writeList(s, w, r, "reports", list, err)
}

func (s *Server) createReport(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	var body struct {
		Period   string `json:"period"`
		Audience string `json:"audience"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	run, err := s.Reports.Generate(r.Context(), socbot.ReportRequest{TenantID: tenant, Period: body.Period, Audience: body.Audience}, principal(r))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, run)
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	run, err := s.Reports.Run(r.Context(), tenant, id, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, run)
}

func (s *Server) reportContent(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = socbot.FormatPDF
	}
	if format != socbot.FormatPDF && format != socbot.FormatHTML {
		writeError(w, r, s.Logger, socbot.FieldError("httpapi", "format", "format must be pdf or html"))
		return
	}
	run, err := s.Reports.Run(r.Context(), tenant, id, true)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if run.Status != socbot.ReportOK {
		writeError(w, r, s.Logger, socbot.E("httpapi", socbot.KindConflict, "report "+fmt.Sprint(id)+" failed: "+run.Error))
		return
	}
	body, typ := run.PDF, "application/pdf"
	if format == socbot.FormatHTML {
		body, typ = run.HTML, "text/html; charset=utf-8"
		// The page is self-contained: its inline styles and data: images may load, nothing else.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, ReportFilename(run, format)))
	w.WriteHeader(200)
	_, _ = w.Write(body)
}

// ReportFilename names a downloaded report: report-<period>-<audience>-<id>.<format>.
func ReportFilename(run socbot.ReportRun, format string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, run.Period)
	return fmt.Sprintf("report-%s-%s-%d.%s", clean, run.Audience, run.ID, format)
}

func (s *Server) listReportSchedules(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Reports.Schedules(r.Context(), tenant)
	writeList(s, w, r, "schedules", list, err)
}

func (s *Server) createReportSchedule(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	var body struct {
		Cadence    string   `json:"cadence"`
		Audience   string   `json:"audience"`
		Recipients []string `json:"recipients"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	sc := socbot.ReportSchedule{TenantID: tenant, Cadence: body.Cadence, Audience: body.Audience, Recipients: body.Recipients}
	if err := s.Reports.CreateSchedule(r.Context(), &sc, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, sc)
}

func (s *Server) deleteReportSchedule(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	if err := s.Reports.DeleteSchedule(r.Context(), tenant, id, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) reportScheduleHistory(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	list, err := s.Reports.Schedules(r.Context(), tenant)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	var sc *socbot.ReportSchedule
	for i := range list {
		if list[i].ID == id {
			sc = &list[i]
		}
	}
	if sc == nil {
		writeError(w, r, s.Logger, socbot.E("httpapi", socbot.KindNotFound, "no report schedule "+fmt.Sprint(id)))
		return
	}
	runs, err := s.Reports.Runs(r.Context(), sc.TenantID, 1000)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	hist := []socbot.ReportRun{}
	for _, run := range runs {
		if run.ScheduleID == id {
			hist = append(hist, run)
		}
	}
	writeJSON(w, 200, map[string]any{"schedule": sc, "runs": hist})
}

func (s *Server) getBranding(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	b, err := s.Reports.Branding(r.Context(), tenant)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, b)
}

func (s *Server) putBranding(w http.ResponseWriter, r *http.Request) {
	if !s.reports(w, r) {
		return
	}
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	var body struct {
		DisplayName  string `json:"display_name"`
		Logo         string `json:"logo"`
		PrimaryColor string `json:"primary_color"`
		AccentColor  string `json:"accent_color"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	b := socbot.ReportBranding{TenantID: tenant, DisplayName: body.DisplayName, Logo: body.Logo, PrimaryColor: body.PrimaryColor, AccentColor: body.AccentColor}
	if err := s.Reports.SetBranding(r.Context(), b, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	b, _ = s.Reports.Branding(r.Context(), tenant)
	writeJSON(w, 200, b)
}
