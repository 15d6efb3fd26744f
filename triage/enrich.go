package triage

import (
	"context"
	"fmt"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

// enrichBuiltin adds what the tenant's own asset inventory and indicator lists say about an alert.
// These are in-memory lookups, done inline.
func enrichBuiltin(cfg *tenantConfig, a *socbot.Alert, now time.Time) {
	for _, o := range a.Observables {
		var asset *socbot.Asset
		switch o.Type {
		case socbot.ObsHost:
			asset = cfg.assets.host(o.Value)
		case socbot.ObsIP:
			asset = cfg.assets.ip(o.Value)
		}
		if asset != nil {
			e := socbot.Enrichment{Enricher: "assets", Observable: o.Key(), Criticality: asset.Criticality, CrownJewel: asset.CrownJewel,
				Internet: asset.InternetFacing, Ref: fmt.Sprintf("asset:%d", asset.ID)}
			e.Detail = fmt.Sprintf("%s is asset %s", o.Value, asset.Hostname)
			if asset.Criticality != "" {
				e.Detail += fmt.Sprintf(" (%s criticality", asset.Criticality)
				if asset.Owner != "" {
					e.Detail += ", owner " + asset.Owner
				}
				e.Detail += ")"
			}
			a.Enrichment = append(a.Enrichment, e)
		}
		if it := cfg.lists.lookup(o, now); it != nil {
			e := socbot.Enrichment{Enricher: "indicators", Observable: o.Key(), Ref: fmt.Sprintf("indicator:%d", it.ID)}
			if it.List == socbot.ListBad {
				e.Verdict, e.Score = socbot.VerdictMalicious, 90
				e.Detail = fmt.Sprintf("%s is on the tenant's block list", o.Value)
			} else {
				e.Verdict, e.Score = socbot.VerdictBenign, 90
				e.Detail = fmt.Sprintf("%s is on the tenant's allow list", o.Value)
			}
			if it.Value != o.Value {
				e.Detail += " (as " + it.Value + ")"
			}
			if it.Description != "" {
				e.Detail += ": " + it.Description
			}
			a.Enrichment = append(a.Enrichment, e)
		}
	}
}

// enrichExternal runs the pluggable enrichers concurrently over the alerts, each under the deadline.
// An enricher that fails or runs out of time is skipped for the alerts it had not reached, and those
// alerts say so in their reasons.
func enrichExternal(ctx context.Context, enrichers []socbot.Enricher, deadline time.Duration, tenantID string, alerts []*socbot.Alert) {
	if len(enrichers) == 0 || len(alerts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	results := make([][][]socbot.Enrichment, len(enrichers)) // enricher -> alert -> enrichments
	problems := make([][]string, len(enrichers))             // enricher -> alert -> problem
	var wg sync.WaitGroup
	for i, e := range enrichers {
		results[i] = make([][]socbot.Enrichment, len(alerts))
		problems[i] = make([]string, len(alerts))
		wg.Add(1)
		go func(i int, e socbot.Enricher) {
			defer wg.Done()
			for j, a := range alerts {
				if ctx.Err() != nil {
					for k := j; k < len(alerts); k++ {
						problems[i][k] = fmt.Sprintf("enrichment by %s skipped: deadline of %s reached", e.Name(), deadline)
					}
					return
				}
				res, err := e.Enrich(ctx, tenantID, a)
				if err != nil {
					problems[i][j] = fmt.Sprintf("enrichment by %s failed: %v", e.Name(), err)
					continue
				}
				results[i][j] = res
			}
		}(i, e)
	}
	wg.Wait()
	for i := range enrichers {
		for j, a := range alerts {
			a.Enrichment = append(a.Enrichment, results[i][j]...)
			if problems[i][j] != "" {
				a.Reasons = append(a.Reasons, problems[i][j])
			}
		}
	}
}
