// Package intel is the threat-intelligence bot: one normalised, scored and expiring indicator set per
// tenant (plus the MSSP-wide set), built from many feeds, filtered through warninglists, matched at
// millions of lookups per second, and disseminated as firewall lists, STIX/TAXII and containment
// hand-offs with TLP enforced on every way out.
//
// The parts:
//   - Indicator, Source, Sighting, TLP: the model (model.go); Decay: type-specific ageing (decay.go).
//   - Engine: dedupe across feeds, confidence from source reliability, warninglist filtering, sightings,
//     and the live match index (engine.go); it implements socbot.IndicatorMatcher and socbot.Enricher.
//   - Index: the compact in-memory match index (index.go).
//   - Store: what the bot persists (store.go; the SQL implementation is sqlstore/intel.go), with
//     MemStore as the in-memory reference; CatchUp follows other writers' changes (catchup.go).
//   - Scheduler: feed collection with conditional GET, retries and per-feed health (scheduler.go).
//   - EDL: PAN-OS external dynamic lists (edl.go); ContainmentEvent: the hand-off (containment.go).
package intel

import (
	"crypto/sha1"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// TLP is a Traffic Light Protocol level, ordered from the most to the least shareable.
type TLP uint8

// TLP levels (TLP 2.0 names; TLP 1.0 WHITE reads as CLEAR).
const (
	TLPClear TLP = iota
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

var tlpNames = [...]string{"clear", "green", "amber", "amber+strict", "red"}

func (t TLP) String() string {
	if int(t) < len(tlpNames) {
		return tlpNames[t]
	}
	return "red"
}

// MarshalText writes the TLP name.
func (t TLP) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a TLP name.
func (t *TLP) UnmarshalText(b []byte) error {
	v, ok := ParseTLP(string(b))
	if !ok {
		return errBadTLP(string(b))
	}
	*t = v
	return nil
}

// ParseTLP reads "clear", "white", "green", "amber", "amber+strict", "red", with or without a "tlp:"
// prefix, case-insensitive.
func ParseTLP(s string) (TLP, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "tlp:")
	s = strings.TrimPrefix(s, "tlp-")
	switch s {
	case "clear", "white":
		return TLPClear, true
	case "green":
		return TLPGreen, true
	case "amber":
		return TLPAmber, true
	case "amber+strict", "amber-strict", "amber_strict":
		return TLPAmberStrict, true
	case "red":
		return TLPRed, true
	}
	return TLPRed, false
}

// MayShare reports whether something marked t may go to a recipient cleared up to max.
// It is the one TLP check every way out (API, TAXII, EDL, exports, reports, containment) uses.
func (t TLP) MayShare(max TLP) bool { return t <= max }

// KillChainPhase is a STIX kill-chain phase.
type KillChainPhase struct {
	KillChain string `json:"kill_chain_name"`
	Phase     string `json:"phase_name"`
}

// Source is one feed's (or analyst's) report of an indicator.
type Source struct {
	Name        string    `json:"name"`                  // feed name, e.g. "abusech-feodo", or "analyst:alice"
	Reliability int       `json:"reliability"`           // how far the feed is trusted, 0-100, when it reported this
	Confidence  int       `json:"confidence"`            // the source's own confidence 0-100 for this indicator
	FirstSeen   time.Time `json:"first_seen"`            // when this source first reported it
	LastSeen    time.Time `json:"last_seen"`             // when this source last reported it
	Ref         string    `json:"ref,omitempty"`         // the source's id or link for it (event uuid, ThreatFox id, post URL)
	Disabled    bool      `json:"disabled,omitempty"`    // the feed was disabled or removed: kept for attribution
	ValidUntil  time.Time `json:"valid_until,omitempty"` // the source's own expiry, if it gave one
}

// Indicator is one normalised indicator of one tenant ("" = MSSP-wide), with everything every
// source said about it.
type Indicator struct {
	ID           string           `json:"id"` // STIX id: indicator--<UUIDv5 of type and value>
	TenantID     string           `json:"tenant_id,omitempty"`
	Type         ioc.Type         `json:"type"`
	Value        string           `json:"value"`
	Sources      []Source         `json:"sources"`
	FirstSeen    time.Time        `json:"first_seen"`
	LastSeen     time.Time        `json:"last_seen"`  // the latest report by any source
	Confidence   int              `json:"confidence"` // combined over sources and their reliability, 0-100
	TLP          TLP              `json:"tlp"`
	Tags         []string         `json:"tags,omitempty"`
	KillChain    []KillChainPhase `json:"kill_chain_phases,omitempty"`
	Description  string           `json:"description,omitempty"`
	Pattern      string           `json:"pattern,omitempty"` // original STIX pattern, when it came as one
	Sightings    int              `json:"sightings"`
	LastSighting time.Time        `json:"last_sighting,omitempty"`
	FalsePos     int              `json:"false_positives,omitempty"` // sightings reported as false positives
	Revoked      bool             `json:"revoked,omitempty"`
	FilteredBy   string           `json:"filtered_by,omitempty"` // warninglist that filtered it: never matched or published
	Created      time.Time        `json:"created"`
	Modified     time.Time        `json:"modified"`
}

// indicatorNamespace is socbot's UUIDv5 namespace for indicator ids (SCOs use the STIX namespace).
var indicatorNamespace = uuid.MustParse("8d3b8e9e-5d1c-5b8a-9c64-3f6a2f0e7b11")

// IndicatorID returns the deterministic STIX id of the indicator for (type, canonical value): the
// same value from any feed gets the same id, so ids double as dedupe keys.
func IndicatorID(t ioc.Type, value string) string {
	// uuid.NewSHA1(indicatorNamespace, type ":" value), without its allocations: imports compute one
	// per item
	var small [128]byte
	var data []byte
	if n := len(indicatorNamespace) + len(t) + 1 + len(value); n <= len(small) {
		data = small[:0]
	} else {
		data = make([]byte, 0, n)
	}
	data = append(data, indicatorNamespace[:]...)
	data = append(data, t...)
	data = append(data, ':')
	data = append(data, value...)
	sum := sha1.Sum(data)
	sum[6] = sum[6]&0x0f | 0x50 // version 5
	sum[8] = sum[8]&0x3f | 0x80 // RFC 4122 variant
	const hexDigits = "0123456789abcdef"
	var out [len("indicator--") + 36]byte
	n := copy(out[:], "indicator--")
	for i, x := range sum[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[n] = '-'
			n++
		}
		out[n], out[n+1] = hexDigits[x>>4], hexDigits[x&0xf]
		n += 2
	}
	return string(out[:])
}

// Key is the indicator's identity within a tenant.
func (in *Indicator) Key() string { return string(in.Type) + ":" + in.Value }

// SourceNames lists the names of the sources, sorted.
func (in *Indicator) SourceNames() []string {
	out := make([]string, 0, len(in.Sources))
	for _, s := range in.Sources {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// Sighting is one observation of an indicator in a tenant's data (a triage enrichment hit or a monitor
// match), or an analyst's verdict on it.
type Sighting struct {
	TenantID    string    `json:"tenant_id"`         // owner of the indicator ("" = MSSP-wide)
	SeenBy      string    `json:"seen_by,omitempty"` // tenant in whose data it was seen
	IndicatorID string    `json:"indicator_id"`
	Type        ioc.Type  `json:"type"`
	Value       string    `json:"value"`    // the indicator value
	Observed    string    `json:"observed"` // what was seen (a subdomain, an IP inside the CIDR...)
	Source      string    `json:"source"`   // "triage", "monitor", "analyst:bob"
	Ref         string    `json:"ref,omitempty"`
	At          time.Time `json:"at"`
	Kind        int       `json:"kind"` // MISP sighting types: 0 sighting, 1 false positive, 2 expiration
}

// Sighting kinds (MISP numbering).
const (
	SightingSeen          = 0
	SightingFalsePositive = 1
	SightingExpiration    = 2
)

func addUnique(list []string, items ...string) []string {
	for _, it := range items {
		if it == "" {
			continue
		}
		found := false
		for _, x := range list {
			if x == it {
				found = true
				break
			}
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

func errBadTLP(s string) error {
	return socbot.FieldError("intel.ParseTLP", "tlp", "unknown TLP level %q", s)
}

// Shareable returns the indicators a recipient cleared up to max may receive (API answers, reports,
// exports). It is the list form of TLP.MayShare; the input is not modified.
func Shareable(ins []Indicator, max TLP) []Indicator {
	out := make([]Indicator, 0, len(ins))
	for _, in := range ins {
		if in.TLP.MayShare(max) {
			out = append(out, in)
		}
	}
	return out
}

// ShareableMatches drops the match-index hits above max (for anything shown to a client: incident
// notes, notifications, client reports). Hits with an unknown marking are treated as RED.
func ShareableMatches(ms []socbot.IndicatorMatch, max TLP) []socbot.IndicatorMatch {
	out := make([]socbot.IndicatorMatch, 0, len(ms))
	for _, m := range ms {
		t, ok := ParseTLP(m.TLP)
		if !ok {
			t = TLPRed
		}
		if t.MayShare(max) {
			out = append(out, m)
		}
	}
	return out
}

// RecipientTLP is the default TLP ceiling of a principal: MSSP staff and bots see everything (RED);
// a tenant's own users see up to AMBER+STRICT (AMBER+STRICT is for the organisation that received it).
func RecipientTLP(p socbot.Principal) TLP {
	if p.MSSPWide() {
		return TLPRed
	}
	return TLPAmberStrict
}
