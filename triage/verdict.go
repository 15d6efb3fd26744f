package triage

import (
	"fmt"
	"strings"

	socbot "github.com/socbot/socbot"
)

// defaultReliability is how far socbot trusts each source's detections (0-100) unless a tenant says
// otherwise in its settings: EDR/XDR verdicts are specific; network signatures and log rules less so.
var defaultReliability = map[string]int{
	"crowdstrike": 85, "sentinelone": 85, "defender": 80, "graph": 80, "elastic": 70, "guardduty": 75,
	"ocsf": 65, "wazuh": 55, "suricata": 55, "sigma": 60, "generic": 50,
}

// verdict scores an enriched alert: a priority, a confidence, and the reasons for both in words.
//
// The score starts from the source's severity (0-100) and moves with what enrichment found:
// crown jewels +20, critical assets +15 (high +10, low -5), internet-facing +5, a known-bad indicator
// +25 (or the intel score / 4, at least +10), a known-good value -30. Priority: >= 85 P1, >= 65 P2,
// >= 40 P3, else P4. Confidence starts at the source's reliability, +15 per independent malicious
// indicator hit, -30 for a known-good value, clamped to 0-100.
func verdict(cfg *tenantConfig, a *socbot.Alert) {
	score := a.SeverityScore
	var reasons []string
	if a.Severity == socbot.SeverityUnknown || score == 0 {
		score = 40
		reasons = append(reasons, "source gave no severity; assumed medium")
	} else {
		r := fmt.Sprintf("%s reports severity %s", sourceName(a), a.Severity)
		if a.SeverityRaw != "" && !strings.EqualFold(a.SeverityRaw, a.Severity.String()) {
			r += fmt.Sprintf(" (%q)", a.SeverityRaw)
		}
		reasons = append(reasons, r)
	}
	reliability := defaultReliability[a.Format]
	if r, ok := cfg.tenant.Settings.SourceReliability[a.Format]; ok {
		reliability = r
	}
	if reliability == 0 {
		reliability = 50
	}
	confidence := reliability

	bestAsset := 0
	for _, e := range a.Enrichment {
		switch {
		case e.Enricher == "assets":
			bump := map[string]int{"critical": 15, "high": 10, "medium": 0, "low": -5}[e.Criticality]
			if e.CrownJewel {
				bump = 20
				reasons = append(reasons, fmt.Sprintf("%s is a crown jewel", valueOf(e.Observable)))
			} else if e.Criticality == "critical" || e.Criticality == "high" {
				reasons = append(reasons, fmt.Sprintf("%s is a %s-criticality asset", valueOf(e.Observable), e.Criticality))
			}
			if e.Internet {
				bump += 5
				reasons = append(reasons, fmt.Sprintf("%s is internet-facing", valueOf(e.Observable)))
			}
			bestAsset = max(bestAsset, bump)
		case e.Verdict == socbot.VerdictMalicious:
			bump := 25
			if e.Enricher != "indicators" {
				bump = max(10, e.Score/4)
			}
			score += bump
			confidence += 15
			reasons = append(reasons, e.Detail)
		case e.Verdict == socbot.VerdictSuspicious:
			score += 5
			reasons = append(reasons, e.Detail)
		case e.Verdict == socbot.VerdictBenign:
			score -= 30
			confidence -= 30
			reasons = append(reasons, e.Detail)
		}
	}
	score += bestAsset
	reasons = append(reasons, fmt.Sprintf("source reliability %d/100", reliability))
	a.Confidence = clamp(confidence)
	score = clamp(score)
	switch {
	case score >= 85:
		a.Priority = socbot.P1
	case score >= 65:
		a.Priority = socbot.P2
	case score >= 40:
		a.Priority = socbot.P3
	default:
		a.Priority = socbot.P4
	}
	a.Reasons = append(reasons, a.Reasons...)
	a.Reasons = append(a.Reasons, fmt.Sprintf("risk score %d → %s", score, a.Priority))
}

func sourceName(a *socbot.Alert) string {
	if a.Vendor != "" {
		if a.Product != "" && !strings.Contains(a.Vendor, a.Product) {
			return a.Vendor + " " + a.Product
		}
		return a.Vendor
	}
	return a.Format
}

func valueOf(key string) string {
	if _, v, ok := strings.Cut(key, ":"); ok {
		return v
	}
	return key
}

func clamp(v int) int { return min(100, max(0, v)) }
