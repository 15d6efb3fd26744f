package socbot

import (
	"strings"
	"time"
)

// Tenant is one client company of the MSSP. Every row, subject and query carries its id.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	TimeZone  string    `json:"time_zone"` // IANA name, for schedules and reports
	Settings  Settings  `json:"settings"`  // triage settings
	CreatedAt time.Time `json:"created_at"`
}

// Settings are a tenant's triage settings.
type Settings struct {
	CorrelationWindow  Duration          `json:"correlation_window"`            // alerts sharing an entity within this window join one incident
	CorrelationExclude []string          `json:"correlation_exclude,omitempty"` // values and CIDRs never used to tie alerts together: own egress IPs, resolvers, proxies
	SourceReliability  map[string]int    `json:"source_reliability,omitempty"`  // format -> 0-100 reliability
	SLA                map[string]SLA    `json:"sla,omitempty"`                 // priority ("P1".."P4") -> SLA
	Escalation         EscalationPolicy  `json:"escalation"`
	Extra              map[string]string `json:"extra,omitempty"`
}

// SLA is the time allowed to acknowledge and to resolve an incident of one priority.
type SLA struct {
	Acknowledge Duration `json:"acknowledge"`
	Resolve     Duration `json:"resolve"`
}

// EscalationPolicy says what happens when an SLA is breached, besides the incident.escalated notice
// that channels subscribed to it receive.
type EscalationPolicy struct {
	RaisePriority bool `json:"raise_priority"`
}

// DefaultSettings are the settings of a new tenant.
func DefaultSettings() Settings {
	return Settings{
		CorrelationWindow: Duration(24 * time.Hour),
		SLA: map[string]SLA{
			"P1": {Acknowledge: Duration(15 * time.Minute), Resolve: Duration(4 * time.Hour)},
			"P2": {Acknowledge: Duration(time.Hour), Resolve: Duration(24 * time.Hour)},
			"P3": {Acknowledge: Duration(4 * time.Hour), Resolve: Duration(72 * time.Hour)},
			"P4": {Acknowledge: Duration(24 * time.Hour), Resolve: Duration(7 * 24 * time.Hour)},
		},
		Escalation: EscalationPolicy{RaisePriority: true},
	}
}

// SLAFor returns the SLA for priority p, falling back to the defaults.
func (s Settings) SLAFor(p Priority) SLA {
	if sla, ok := s.SLA[p.String()]; ok {
		return sla
	}
	return DefaultSettings().SLA[p.String()]
}

// Window returns the correlation window, the default if unset.
func (s Settings) Window() time.Duration {
	if s.CorrelationWindow <= 0 {
		return 24 * time.Hour
	}
	return time.Duration(s.CorrelationWindow)
}

// ValidTenantName reports whether name can name a tenant: 1-64 characters of letters, digits, '-', '_' and '.'.
func ValidTenantName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return !strings.HasPrefix(name, ".")
}
