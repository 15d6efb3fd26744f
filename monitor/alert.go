package monitor

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// tacticIDs maps ATT&CK tactic tag names (as in Sigma tags "attack.<name>") to tactic ids.
var tacticIDs = map[string]string{
	"reconnaissance": "TA0043", "resource-development": "TA0042", "initial-access": "TA0001", "execution": "TA0002",
	"persistence": "TA0003", "privilege-escalation": "TA0004", "defense-evasion": "TA0005", "credential-access": "TA0006",
	"discovery": "TA0007", "lateral-movement": "TA0008", "collection": "TA0009", "command-and-control": "TA0011",
	"exfiltration": "TA0010", "impact": "TA0040",
}

// attackFromTags splits Sigma ATT&CK tags into tactic ids and technique ids.
func attackFromTags(tags []string) (tactics, techniques []string) {
	seen := map[string]bool{}
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		rest, ok := strings.CutPrefix(t, "attack.")
		if !ok || seen[rest] {
			continue
		}
		seen[rest] = true
		switch {
		case len(rest) > 1 && rest[0] == 't' && rest[1] >= '0' && rest[1] <= '9':
			techniques = append(techniques, strings.ToUpper(rest))
		case tacticIDs[strings.ReplaceAll(rest, "_", "-")] != "":
			tactics = append(tactics, tacticIDs[strings.ReplaceAll(rest, "_", "-")])
		case strings.HasPrefix(rest, "ta") && len(rest) == 6:
			tactics = append(tactics, strings.ToUpper(rest))
		}
	}
	return tactics, techniques
}

// drlNotice is added to every alert from a Sigma rule: the Detection Rule License requires the
// rule's author in every match.
const drlNotice = "Detection Rule License 1.1 (https://github.com/SigmaHQ/Detection-Rule-License)"

// FindingToAlert converts a finding into a socbot alert for triage. The alert shares no memory with
// the finding's event, so it may outlive Emit.
func FindingToAlert(f *Finding, tenant string, now time.Time) socbot.Alert {
	a := socbot.Alert{UID: socbot.NewID(), TenantID: tenant, Vendor: "socbot", Product: "monitor",
		DetectedAt: f.Time, ReceivedAt: now, Raw: append([]byte(nil), f.Event...)}
	if a.DetectedAt.IsZero() {
		a.DetectedAt = now
		a.Flags = append(a.Flags, socbot.FlagTimeMissing)
	}
	switch f.Kind {
	case "sigma", "correlation":
		r := f.Rule
		a.Format = "sigma"
		a.RuleID = r.ID
		a.RuleName = r.Title
		if r.Name != "" {
			a.RuleName = r.Name
		}
		a.Title = r.Title
		a.SeverityRaw = r.Level
		a.Severity = r.Severity
		if a.Severity == socbot.SeverityUnknown {
			a.Severity = socbot.SeverityMedium
		}
		a.Category = r.LogSource
		a.Tactics, a.Techniques = attackFromTags(r.Tags)
		var d strings.Builder
		if r.Description != "" {
			d.WriteString(strings.TrimSpace(r.Description))
			d.WriteString("\n\n")
		}
		fmt.Fprintf(&d, "Sigma rule %q (%s) by %s. %s.", r.Title, r.ID, r.Author, drlNotice)
		if len(f.Matched) > 0 {
			fmt.Fprintf(&d, " Matched: %s.", strings.Join(f.Matched, ", "))
		}
		if f.Correlation != nil {
			fmt.Fprintf(&d, " Correlation %s: %d events from %s to %s over rules %s.", f.Correlation.Type, f.Correlation.Count,
				f.Correlation.First.Format(time.RFC3339), f.Correlation.Last.Format(time.RFC3339), strings.Join(f.Correlation.Rules, ", "))
		}
		a.Description = d.String()
		a.Flags = append(a.Flags, "sigma_author="+r.Author)
		if f.Kind == "correlation" {
			a.Flags = append(a.Flags, "sigma_correlation")
		}
		a.SourceID = r.ID + "@" + f.Source + "#" + strconv.FormatInt(f.Time.UnixNano(), 10)
	case "suricata":
		s := f.Suricata
		a.Format = "suricata"
		a.Vendor, a.Product = "OISF", "Suricata"
		a.RuleID = fmt.Sprintf("%d:%d:%d", s.GID, s.SignatureID, s.Rev)
		a.RuleName = s.Signature
		a.Title = s.Signature
		a.Category = s.Category
		a.SeverityRaw = strconv.Itoa(s.Severity)
		switch s.Severity {
		case 1:
			a.Severity = socbot.SeverityHigh
		case 2:
			a.Severity = socbot.SeverityMedium
		case 3:
			a.Severity = socbot.SeverityLow
		default:
			a.Severity = socbot.SeverityInfo
		}
		a.Description = fmt.Sprintf("Suricata signature %d (rev %d, action %s): %s", s.SignatureID, s.Rev, s.Action, s.Category)
		for _, t := range s.Metadata["mitre_technique_id"] {
			a.Techniques = append(a.Techniques, strings.ToUpper(t))
		}
		for _, t := range s.Metadata["mitre_tactic_id"] {
			a.Tactics = append(a.Tactics, strings.ToUpper(t))
		}
		a.SourceID = a.RuleID + "@" + f.Source + "#" + strconv.FormatInt(f.Time.UnixNano(), 10)
	case "intel":
		a.Format = "monitor-intel"
		best := 0
		var vals []string
		for _, m := range f.Intel {
			if m.Score > best {
				best = m.Score
			}
			vals = append(vals, fmt.Sprintf("%s %s (%s, score %d, %s)", m.Type, m.Value, m.Why, m.Score, strings.Join(m.Sources, "/")))
		}
		a.RuleID = "intel-match"
		a.RuleName = "Threat intelligence match"
		a.Title = fmt.Sprintf("Traffic matches threat intelligence: %s", f.Intel[0].Matched)
		a.Description = fmt.Sprintf("%s %s traffic matched %d indicator(s): %s", f.Product, f.Channel, len(f.Intel), strings.Join(vals, "; "))
		a.Severity = socbot.SeverityFromScore(best)
		a.SeverityRaw = strconv.Itoa(best)
		a.Category = f.Product + "/" + f.Channel
		a.SourceID = "intel:" + f.Intel[0].IndicatorID + "@" + f.Source + "#" + strconv.FormatInt(f.Time.UnixNano(), 10)
	}
	a.SeverityScore = a.Severity.Score()
	for _, o := range f.Observables {
		// the finding's values may point into the event's buffers, which the next event reuses
		a.AddObservable(o.Type, strings.Clone(o.Value), o.Role)
	}
	return a
}
