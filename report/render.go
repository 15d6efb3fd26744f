package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"sort"
	"time"

	socbot "github.com/socbot/socbot"
)

//go:embed report.html.tmpl
var reportTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":     num,
	"percent": percent,
	"trend":   trend,
	"durn":    durOr,
	"minutes": func(d time.Duration) string { return fmt.Sprintf("%g minutes", d.Minutes()) },
}).Parse(reportTemplate))

// view is what the template sees.
type view struct {
	Doc     *Document
	Title   string
	Primary template.CSS
	Accent  template.CSS
	Logo    template.URL

	AlertsChart, IncidentsChart, PriorityChart, CategoryChart, TechniquesChart, PostureChart template.HTML

	Severities    []string
	Statuses      []socbot.Count
	OpenIncidents []socbot.Incident
}

// Local formats a time in the tenant's zone.
func (v view) Local(t any) string {
	var tt time.Time
	switch x := t.(type) {
	case time.Time:
		tt = x
	case *time.Time:
		if x == nil {
			return ""
		}
		tt = *x
	}
	return tt.In(v.Doc.Location).Format("2006-01-02 15:04 MST")
}

// Day formats a date in the tenant's zone.
func (v view) Day(t time.Time) string { return t.In(v.Doc.Location).Format("Jan 2") }

// RenderHTML renders the document as one self-contained HTML page (styles and charts inline, no
// script, no external resource).
func RenderHTML(doc *Document) ([]byte, error) {
	v := view{Doc: doc, Primary: "#1f3a5f", Accent: "#2e7d32"}
	v.Title = "Security operations report for management"
	if doc.Audience == socbot.AudienceTechnical {
		v.Title = "Security operations report, technical"
	}
	if doc.Branding.PrimaryColor != "" && colorOK(doc.Branding.PrimaryColor) {
		v.Primary = template.CSS(doc.Branding.PrimaryColor)
	}
	if doc.Branding.AccentColor != "" && colorOK(doc.Branding.AccentColor) {
		v.Accent = template.CSS(doc.Branding.AccentColor)
	}
	if logoOK(doc.Branding.Logo) {
		v.Logo = template.URL(doc.Branding.Logo)
	}
	m := doc.Metrics
	days := make([]string, len(m.AlertsDaily))
	d := doc.Period.From.In(doc.Location)
	for i := range days {
		days[i] = d.Format("Jan 2")
		d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, doc.Location)
	}
	accent := string(v.Accent)
	primary := string(v.Primary)
	v.AlertsChart = columns("Alerts per day", m.AlertsDaily, days, primary)
	v.IncidentsChart = columns("Incidents per day", m.IncidentsDaily, days, accent)
	var prio []socbot.Count
	for _, p := range []string{"P1", "P2", "P3", "P4"} {
		prio = append(prio, socbot.Count{Name: p, N: m.IncidentsByPriority[p]})
	}
	v.PriorityChart = bars("Incidents by priority", prio, primary)
	cats := m.IncidentsByCategory
	if len(cats) > 10 {
		cats = cats[:10]
	}
	v.CategoryChart = bars("Incidents by category", cats, accent)
	v.TechniquesChart = bars("Top ATT&CK techniques", m.TopTechniques, primary)
	var weeks []string
	high := make([]int64, len(m.Weeks))
	backlog := make([]int64, len(m.Weeks))
	for i, w := range m.Weeks {
		weeks = append(weeks, v.Day(w.Start))
		high[i], backlog[i] = w.HighOpened, w.BacklogAtEnd
	}
	v.PostureChart = lines("Posture per week", weeks, [][]int64{high, backlog}, []string{"#b00020", primary}, []string{"P1+P2 opened", "open at week end"})
	v.Severities = []string{"critical", "high", "medium", "low", "info", "unknown"}
	for _, s := range v.Severities {
		if _, ok := m.AlertsBySeverity[s]; !ok {
			m.AlertsBySeverity[s] = 0
		}
	}
	for k, n := range m.IncidentsByStatus {
		v.Statuses = append(v.Statuses, socbot.Count{Name: k, N: n})
	}
	sort.Slice(v.Statuses, func(i, j int) bool { return v.Statuses[i].Name < v.Statuses[j].Name })
	for _, ri := range doc.Incidents {
		if !socbot.Closed(ri.Incident.Status) {
			v.OpenIncidents = append(v.OpenIncidents, ri.Incident)
		}
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return nil, socbot.E("report.RenderHTML", fmt.Errorf("template: %w", err))
	}
	return b.Bytes(), nil
}

func colorOK(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

func logoOK(l string) bool {
	return len(l) > 0 && len(l) <= 256<<10 && (bytesHasPrefix(l, "data:image/png;base64,") || bytesHasPrefix(l, "data:image/jpeg;base64,"))
}

func bytesHasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
