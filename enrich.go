package socbot

import "context"

// Enrichment is what one enricher learned about one observable of an alert.
type Enrichment struct {
	Enricher    string `json:"enricher"`              // e.g. "assets", "indicators", "intel"
	Observable  string `json:"observable"`            // Observable.Key() it is about
	Verdict     string `json:"verdict,omitempty"`     // "malicious", "suspicious", "benign", or "" for context only
	Score       int    `json:"score,omitempty"`       // 0-100 strength of the verdict
	Criticality string `json:"criticality,omitempty"` // asset criticality: low, medium, high, critical
	CrownJewel  bool   `json:"crown_jewel,omitempty"`
	Internet    bool   `json:"internet_facing,omitempty"`
	Detail      string `json:"detail,omitempty"` // a sentence a person can read
	Ref         string `json:"ref,omitempty"`    // id of the asset or indicator that matched
}

// Enrichment verdicts.
const (
	VerdictMalicious  = "malicious"
	VerdictSuspicious = "suspicious"
	VerdictBenign     = "benign"
)

// Enricher looks up an alert's observables in one source of context. Enrichers run concurrently under
// a deadline; one that fails or runs late is skipped and the alert says so in its reasons. Enrich must
// be safe for concurrent use and must not modify the alert.
type Enricher interface {
	Name() string
	Enrich(ctx context.Context, tenantID string, alert *Alert) ([]Enrichment, error)
}
