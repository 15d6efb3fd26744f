package normalize

import (
	"math"
	"strconv"
	"strings"

	socbot "github.com/socbot/socbot"
)

// severityName reads a severity name case-insensitively: socbot.ParseSeverity's names plus the
// "no severity" values vendors document (unknownFutureValue, UnSpecified, n/a, other).
func severityName(s string) (socbot.Severity, bool) {
	if sev, ok := socbot.ParseSeverity(s); ok {
		return sev, true
	}
	var buf [32]byte
	if len(s) > len(buf) {
		return socbot.SeverityUnknown, false
	}
	switch string(foldKey(buf[:0], s)) {
	case "unknownfuturevalue", "unspecified", "severityunspecified", "na", "other", "notapplicable", "undefined":
		return socbot.SeverityUnknown, true
	case "informational", "info":
		return socbot.SeverityInfo, true
	}
	return socbot.SeverityUnknown, false
}

// setSeverity sets a named severity with its canonical score and the vendor's raw value.
func setSeverity(a *socbot.Alert, sev socbot.Severity, raw string) {
	a.Severity = sev
	a.SeverityScore = sev.Score()
	a.SeverityRaw = raw
}

// setScore sets the severity from a 0-100 score (clamped), bucketed as in socbot.SeverityFromScore.
func setScore(a *socbot.Alert, score float64, raw string) {
	n := int(math.Round(math.Max(0, math.Min(100, score))))
	a.Severity = socbot.SeverityFromScore(n)
	a.SeverityScore = n
	a.SeverityRaw = raw
}

// numText renders a number the way a person would write it (5, 7.5).
func numText(f float64) string {
	if f >= 0 && f < 100 && f == float64(int(f)) {
		return strconv.Itoa(int(f)) // no allocation below 100
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// severityFromNamedField reads the severity name at path into a. An unrecognised name is an error naming
// the field; a missing one leaves the alert's severity unknown. It reports whether a severity was set.
func (r *reader) namedSeverity(a *socbot.Alert, s, field string) bool {
	if s == "" {
		return false
	}
	sev, ok := severityName(s)
	if !ok {
		r.fail(field, "unknown severity %q", truncate(s, 40))
		return false
	}
	setSeverity(a, sev, s)
	return true
}

// lowerTrim is strings.ToLower(strings.TrimSpace(s)).
func lowerTrim(s string) string { return lowerASCII(strings.TrimSpace(s)) }
