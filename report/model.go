package report

import (
	"fmt"
	"math"
	"time"

	socbot "github.com/socbot/socbot"
)

// HoursModel is the stated model of analyst time saved: what each piece of work would cost a person
// doing it by hand. It is printed in every management report next to the figure it produces.
type HoursModel struct {
	PerAlert    time.Duration // reading an alert, looking up its host and indicators, deciding: saved for every alert that never became its own case
	PerIncident time.Duration // gathering context for a case: saved because triage enriched and grouped it
	PerAction   time.Duration // carrying out a block/isolate by hand in a vendor console: saved for every action applied without approval
}

// DefaultHoursModel: 5 minutes per alert, 10 per incident, 15 per automatic containment action.
var DefaultHoursModel = HoursModel{PerAlert: 5 * time.Minute, PerIncident: 10 * time.Minute, PerAction: 15 * time.Minute}

// Derived are the figures computed from the metrics: rates and the hours model. Nothing else in a
// report computes a number.
type Derived struct {
	AutoClosed       int64   // suppressed + duplicate alerts
	AutomationRate   float64 // percent of alerts that never became separate analyst work
	AlertTrend       float64 // percent change against the previous period (NaN when it had none)
	IncidentTrend    float64
	AckAdherence     float64 // percent of decided acknowledge deadlines that were met (NaN when none)
	ResolveAdherence float64
	HoursSaved       float64
	Model            HoursModel
	FalsePosRate     float64 // percent of incidents closed as false positives
	AutoActionRate   float64 // percent of containment actions applied without approval
}

func pct(n, d int64) float64 {
	if d == 0 {
		return math.NaN()
	}
	return 100 * float64(n) / float64(d)
}

func derive(m socbot.ReportMetrics, model HoursModel) Derived {
	d := Derived{Model: model, AutoClosed: m.AlertsSuppressed + m.AlertsDuplicate}
	d.AutomationRate = pct(d.AutoClosed+m.AlertsCorrelated, m.Alerts)
	d.AlertTrend = pct(m.Alerts-m.PrevAlerts, m.PrevAlerts)
	d.IncidentTrend = pct(m.Incidents-m.PrevIncidents, m.PrevIncidents)
	d.AckAdherence = pct(m.AckMet, m.AckMet+m.AckBreached)
	d.ResolveAdherence = pct(m.ResolveMet, m.ResolveMet+m.ResolveBreached)
	d.FalsePosRate = pct(m.FalsePositives, m.Incidents)
	d.AutoActionRate = pct(m.ActionsAutoApplied, m.Actions)
	saved := time.Duration(max(m.Alerts-m.Incidents, 0))*model.PerAlert + time.Duration(m.Incidents)*model.PerIncident +
		time.Duration(m.ActionsAutoApplied)*model.PerAction
	d.HoursSaved = math.Round(saved.Hours()*10) / 10
	return d
}

// Document is everything one report shows.
type Document struct {
	Tenant      socbot.Tenant
	Branding    socbot.ReportBranding
	Period      Period
	Audience    string
	GeneratedAt time.Time
	Location    *time.Location
	Metrics     socbot.ReportMetrics
	Derived     Derived
	Incidents   []socbot.ReportIncident // technical
	OpenActions []socbot.ReportAction   // technical
	Summary     []string                // the executive summary, sentence by sentence
}

// summary writes the executive summary from the metrics and derived figures.
func summary(doc *Document) []string {
	m, d := doc.Metrics, doc.Derived
	var out []string
	out = append(out, fmt.Sprintf("In %s socbot received %s alerts for %s and opened %s incidents.",
		doc.Period.Label, num(m.Alerts), doc.Name(), num(m.Incidents)))
	if !math.IsNaN(d.AutomationRate) {
		out = append(out, fmt.Sprintf("%s of alerts were handled without separate analyst work (suppressed, duplicates or grouped into an existing incident), saving an estimated %s analyst hours.",
			percent(d.AutomationRate), fmt.Sprint(d.HoursSaved)))
	}
	p1 := m.IncidentsByPriority["P1"]
	p2 := m.IncidentsByPriority["P2"]
	out = append(out, fmt.Sprintf("%s incidents were urgent (P1) and %s high priority (P2); %s were closed as false positives.", num(p1), num(p2), num(m.FalsePositives)))
	if m.NMTTA > 0 {
		out = append(out, fmt.Sprintf("Incidents were acknowledged in %s on average and resolved in %s; acknowledge deadlines were met %s of the time.",
			dur(m.MTTA), durOr(m.MTTR, m.NMTTR), percent(d.AckAdherence)))
	}
	if m.Actions > 0 {
		out = append(out, fmt.Sprintf("%s containment actions were taken, %s of them applied automatically.", num(m.Actions), num(m.ActionsAutoApplied)))
	}
	out = append(out, fmt.Sprintf("%s incidents were open at the end of the period.", num(m.OpenAtEnd)))
	return out
}

// Name is the client's name as printed.
func (doc *Document) Name() string {
	if doc.Branding.DisplayName != "" {
		return doc.Branding.DisplayName
	}
	return doc.Tenant.Name
}

func num(n int64) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

func percent(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", v)
}

func trend(v float64) string {
	if math.IsNaN(v) {
		return "no earlier data"
	}
	if v >= 0 {
		return fmt.Sprintf("+%.1f%% on the previous period", v)
	}
	return fmt.Sprintf("%.1f%% on the previous period", v)
}

// dur renders mean seconds as a short duration.
func dur(sec float64) string {
	d := time.Duration(math.Round(sec)) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func durOr(sec float64, n int64) string {
	if n == 0 {
		return "n/a"
	}
	return dur(sec)
}
