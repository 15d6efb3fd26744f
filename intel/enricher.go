package intel

import (
	"context"
	"fmt"
	"strings"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// Enricher looks an alert's observables up in the match index for triage and records each hit as a
// sighting of the indicator (buffered; the engine's Run or Flush writes them). It implements
// socbot.Enricher.
type Enricher struct {
	e *Engine
	// MaliciousAt is the score from which a hit is a "malicious" verdict (default 70); below it the hit
	// is "suspicious".
	MaliciousAt int
	// Shown is the most restrictive marking whose details (indicator value, sources) may be written
	// into an alert's reasons, which the tenant's own viewers read; a hit marked above it says only
	// that a restricted indicator matched, with its id for MSSP staff. Nil: AMBER.
	Shown func(tenantID string) TLP
}

var _ socbot.Enricher = (*Enricher)(nil)

// Enricher returns the engine's triage enricher.
func (e *Engine) Enricher() *Enricher { return &Enricher{e: e, MaliciousAt: 70} }

func (en *Enricher) shown(tenantID string) TLP {
	if en.Shown == nil {
		return TLPAmber
	}
	return en.Shown(tenantID)
}

// Name implements socbot.Enricher.
func (en *Enricher) Name() string { return "intel" }

// Enrich implements socbot.Enricher. It never modifies the alert.
func (en *Enricher) Enrich(ctx context.Context, tenantID string, a *socbot.Alert) ([]socbot.Enrichment, error) {
	var out []socbot.Enrichment
	var sights []Sighting
	now := en.e.clock.Now()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := en.e.matcher.MatchBatch(tenantID, a.Observables)
	for i, o := range a.Observables {
		for _, m := range results[i] {
			verdict := socbot.VerdictSuspicious
			if m.Score >= en.MaliciousAt {
				verdict = socbot.VerdictMalicious
			}
			detail := fmt.Sprintf("%s %s matches threat-intel indicator %s %s (%s, score %d, sources %s)",
				o.Type, o.Value, m.Type, m.Value, m.Why, m.Score, strings.Join(m.Sources, ", "))
			if t, ok := ParseTLP(m.TLP); !ok || !t.MayShare(en.shown(tenantID)) {
				detail = fmt.Sprintf("%s %s matches a threat-intel indicator marked TLP:%s (score %d; details for MSSP staff under its id)",
					o.Type, o.Value, strings.ToUpper(m.TLP), m.Score)
			}
			out = append(out, socbot.Enrichment{
				Enricher: "intel", Observable: o.Key(), Verdict: verdict, Score: m.Score, Ref: m.IndicatorID, Detail: detail,
			})
			sights = append(sights, Sighting{TenantID: m.TenantID, SeenBy: tenantID, IndicatorID: m.IndicatorID, Type: ioc.Type(m.Type), Value: m.Value,
				Observed: o.Value, Source: "triage", Ref: a.UID, At: now, Kind: SightingSeen})
		}
	}
	if len(sights) > 0 {
		en.e.queueSightings(sights)
	}
	return out, nil
}
