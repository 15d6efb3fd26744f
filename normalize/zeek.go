package normalize

import (
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// zeekNotice reads Zeek notice.log records in JSON form (LogAscii::use_json=T: literal dotted keys such
// as "id.orig_h"; nested objects are read too). ZeekTSV turns the tab-separated form into these records.
type zeekNotice struct{}

var (
	_ Normalizer  = zeekNotice{}
	_ Prioritized = zeekNotice{}
)

func init() { Register("zeek_notice", zeekNotice{}) }

func (zeekNotice) Name() string { return "zeek_notice" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (zeekNotice) Priority() int { return 120 }

func (zeekNotice) Match(v *fastjson.Value) bool {
	note := v.GetStringBytes("note")
	return strings.Contains(string(note), "::") && v.Get("ts") != nil && (v.Get("msg") != nil || v.Get("src") != nil)
}

// zeekSeverity is the policy for notes, which carry no severity: attackers and password guessing high,
// intel hits, scans, victims and injections medium, certificates, software versions and weirds low,
// anything else low. ACTION_ALARM, ACTION_EMAIL, ACTION_PAGE or ACTION_DROP raises it one step.
func zeekSeverity(note string) socbot.Severity {
	n := lowerASCII(note)
	switch {
	case strings.Contains(n, "attacker"), strings.Contains(n, "password_guessing"), strings.Contains(n, "bruteforc"):
		return socbot.SeverityHigh
	case strings.HasPrefix(n, "intel::"), strings.HasPrefix(n, "scan::"), strings.Contains(n, "victim"), strings.Contains(n, "injection"),
		strings.Contains(n, "malware"), strings.Contains(n, "exploit"):
		return socbot.SeverityMedium
	}
	return socbot.SeverityLow
}

func (zeekNotice) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("zeek_notice")
	r.dotted = true // Zeek's JSON spells "id.orig_h" as one key
	a := newAlert("Zeek", "Zeek")
	note := r.str(v, "note")
	if note == "" {
		if r.err != nil {
			return nil, r.err
		}
		return nil, errorf("zeek_notice", "note", "required field is missing")
	}
	a.RuleID = note
	a.RuleName = note
	a.Title = r.first(v, "msg", "note")
	a.Description = r.str(v, "sub")
	a.Category, _, _ = strings.Cut(note, "::")

	sev := zeekSeverity(note)
	raise := false
	r.eachStr(v, "actions", func(s string) {
		switch s {
		case "Notice::ACTION_ALARM", "Notice::ACTION_EMAIL", "Notice::ACTION_PAGE", "Notice::ACTION_DROP":
			raise = true
		}
	})
	if raise && sev < socbot.SeverityCritical {
		sev++
	}
	setSeverity(&a, sev, "")

	t, ok := r.time(v, "ts")
	setTime(&a, t, ok, now)

	src := r.first(v, "src", "id.orig_h")
	dst := r.first(v, "dst", "id.resp_h")
	addIP(&a, r.str(v, "id.orig_h"), socbot.AsSource)
	addIP(&a, r.str(v, "id.resp_h"), socbot.AsDestination)
	addIP(&a, r.str(v, "src"), socbot.AsSource)
	addIP(&a, r.str(v, "dst"), socbot.AsDestination)
	if strings.HasPrefix(note, "Intel::") { // sub holds the indicator that was seen
		if ip := canonIP(a.Description); ip != "" {
			addIP(&a, ip, socbot.AsRelated)
		} else {
			addDomain(&a, a.Description, socbot.AsRelated)
		}
	}

	// Zeek notices have no id; hash what identifies the occurrence.
	h := xxhash.New()
	for _, s := range [...]string{r.str(v, "ts"), note, src, dst, r.str(v, "uid"), a.Title} {
		_, _ = h.WriteString(s)
		_, _ = h.WriteString("\x00")
	}
	a.SourceID = "zeek:" + strconv.FormatUint(h.Sum64(), 16)

	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}
