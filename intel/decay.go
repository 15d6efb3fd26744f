package intel

import (
	"encoding/json"
	"io"
	"math"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// DecayModel is the polynomial decay of MISP and OpenCTI:
//
//	score(t) = base × (1 − (t/τ)^(1/δ)), floored at 0
//
// where τ is Lifetime, δ is Speed (δ > 1 falls fast at first, δ < 1 holds and then drops) and t the
// time since the indicator was last reported by a source or last sighted. An indicator whose score is
// below Threshold is expired: it stops matching and being published but stays searchable.
// A Lifetime of 0 means the type never decays (CVE ids, ATT&CK techniques).
type DecayModel struct {
	Lifetime  time.Duration `json:"lifetime"`
	Speed     float64       `json:"speed"`
	Threshold int           `json:"threshold"`
}

// Decay holds one model per indicator type.
type Decay map[ioc.Type]DecayModel

const day = 24 * time.Hour

// DefaultDecay is the built-in set: addresses rotate fast (OpenCTI gives IPs 60 days), URLs and
// domains last longer, file hashes longest; CVE and technique ids do not decay.
func DefaultDecay() Decay {
	return Decay{
		ioc.IPv4:            {Lifetime: 60 * day, Speed: 2, Threshold: 20},
		ioc.IPv6:            {Lifetime: 60 * day, Speed: 2, Threshold: 20},
		ioc.CIDR:            {Lifetime: 90 * day, Speed: 2, Threshold: 20},
		ioc.URL:             {Lifetime: 180 * day, Speed: 1, Threshold: 20},
		ioc.Domain:          {Lifetime: 180 * day, Speed: 1, Threshold: 20},
		ioc.Email:           {Lifetime: 180 * day, Speed: 1, Threshold: 20},
		ioc.MD5:             {Lifetime: 730 * day, Speed: 0.5, Threshold: 20},
		ioc.SHA1:            {Lifetime: 730 * day, Speed: 0.5, Threshold: 20},
		ioc.SHA256:          {Lifetime: 730 * day, Speed: 0.5, Threshold: 20},
		ioc.SHA512:          {Lifetime: 730 * day, Speed: 0.5, Threshold: 20},
		ioc.CVE:             {Lifetime: 0, Speed: 1, Threshold: 0},
		ioc.AttackTechnique: {Lifetime: 0, Speed: 1, Threshold: 0},
	}
}

// Model returns the model of type t (a 180-day linear model for unknown types).
func (d Decay) Model(t ioc.Type) DecayModel {
	if m, ok := d[t]; ok {
		return m
	}
	return DecayModel{Lifetime: 180 * day, Speed: 1, Threshold: 20}
}

// ScoreAt is the decayed score of base after age.
func (m DecayModel) ScoreAt(base int, age time.Duration) int {
	if m.Lifetime <= 0 {
		return base
	}
	if age <= 0 {
		return base
	}
	if age >= m.Lifetime {
		return 0
	}
	speed := m.Speed
	if speed <= 0 {
		speed = 1
	}
	x := float64(age) / float64(m.Lifetime)
	f := 1 - math.Pow(x, 1/speed)
	s := int(math.Round(float64(base) * f))
	if s < 0 {
		return 0
	}
	return s
}

// Expired reports whether a score is below the model's threshold.
func (m DecayModel) Expired(score int) bool {
	return score < m.Threshold || score <= 0 && m.Lifetime > 0
}

// BaseScore is the score an indicator starts from before ageing: its combined confidence, halved for
// each false-positive sighting, 0 when revoked or filtered.
func (in *Indicator) BaseScore() int {
	if in.Revoked || in.FilteredBy != "" {
		return 0
	}
	b := in.Confidence
	for i := 0; i < in.FalsePos && b > 0; i++ {
		b /= 2
	}
	return b
}

// Reference is the time ageing counts from: the last report by a source or the last sighting.
func (in *Indicator) Reference() time.Time {
	if in.LastSighting.After(in.LastSeen) {
		return in.LastSighting
	}
	return in.LastSeen
}

// ValidUntil is the latest expiry any enabled source gave, or zero when some source gave none.
func (in *Indicator) ValidUntil() time.Time {
	var max time.Time
	for _, s := range in.Sources {
		if s.ValidUntil.IsZero() {
			return time.Time{}
		}
		if s.ValidUntil.After(max) {
			max = s.ValidUntil
		}
	}
	return max
}

// Score is the current score of the indicator under decay d at time now.
func (in *Indicator) Score(d Decay, now time.Time) int {
	if vu := in.ValidUntil(); !vu.IsZero() && now.After(vu) && !in.LastSighting.After(vu) {
		return 0
	}
	return d.Model(in.Type).ScoreAt(in.BaseScore(), now.Sub(in.Reference()))
}

// Active reports whether the indicator currently matches and is published.
func (in *Indicator) Active(d Decay, now time.Time) bool {
	if in.Revoked || in.FilteredBy != "" {
		return false
	}
	s := in.Score(d, now)
	return !d.Model(in.Type).Expired(s)
}

// CombineConfidence merges the confidences of independent sources, each weighted by the reliability
// (0-100) of the feed it came from, as a noisy-OR: 1 − Π(1 − c·r). Two mediocre sources agreeing give
// more confidence than either alone; no number of unreliable sources reaches certainty.
func CombineConfidence(conf, reliability []int) int {
	p := 1.0
	for i, c := range conf {
		r := 100
		if i < len(reliability) {
			r = reliability[i]
		}
		p *= 1 - clamp01(float64(c)/100)*clamp01(float64(r)/100)
	}
	return int(math.Round((1 - p) * 100))
}

func clamp01(f float64) float64 {
	if f < 0 {
		return 0
	}
	if f > 1 {
		return 1
	}
	return f
}

// MISPDecayModel is a MISP decaying-model file (misp-decaying-models/models/*.json).
type MISPDecayModel struct {
	Name       string `json:"name"`
	Formula    string `json:"formula"`
	Parameters struct {
		Lifetime         float64 `json:"lifetime"` // days
		DecaySpeed       float64 `json:"decay_speed"`
		Threshold        float64 `json:"threshold"`
		DefaultBaseScore float64 `json:"default_base_score"`
	} `json:"parameters"`
	AttributeTypes []string `json:"attribute_types"`
}

// mispAttrTypes maps MISP attribute types to indicator types for decay models.
var mispAttrTypes = map[string][]ioc.Type{
	"ip-src": {ioc.IPv4, ioc.IPv6, ioc.CIDR}, "ip-dst": {ioc.IPv4, ioc.IPv6, ioc.CIDR},
	"ip-src|port": {ioc.IPv4, ioc.IPv6}, "ip-dst|port": {ioc.IPv4, ioc.IPv6},
	"domain": {ioc.Domain}, "hostname": {ioc.Domain}, "domain|ip": {ioc.Domain}, "hostname|port": {ioc.Domain},
	"url": {ioc.URL}, "uri": {ioc.URL}, "link": {ioc.URL},
	"email": {ioc.Email}, "email-src": {ioc.Email}, "email-dst": {ioc.Email},
	"md5": {ioc.MD5}, "sha1": {ioc.SHA1}, "sha256": {ioc.SHA256}, "sha512": {ioc.SHA512},
	"filename|md5": {ioc.MD5}, "filename|sha1": {ioc.SHA1}, "filename|sha256": {ioc.SHA256}, "filename|sha512": {ioc.SHA512},
}

// ReadMISPDecayModel decodes a MISP decaying model (only the Polynomial formula is supported).
func ReadMISPDecayModel(r io.Reader) (MISPDecayModel, error) {
	var m MISPDecayModel
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return m, socbot.E("intel.ReadMISPDecayModel", socbot.KindInvalid, err)
	}
	if m.Formula != "" && !strings.EqualFold(m.Formula, "Polynomial") {
		return m, socbot.FieldError("intel.ReadMISPDecayModel", "formula", "formula %q is not supported (only Polynomial)", m.Formula)
	}
	if m.Parameters.Lifetime <= 0 || m.Parameters.DecaySpeed <= 0 {
		return m, socbot.FieldError("intel.ReadMISPDecayModel", "parameters", "lifetime and decay_speed must be positive")
	}
	return m, nil
}

// Apply sets the model for every indicator type its attribute types cover. It returns the types set.
func (d Decay) Apply(m MISPDecayModel) []ioc.Type {
	var set []ioc.Type
	dm := DecayModel{Lifetime: time.Duration(m.Parameters.Lifetime * float64(day)), Speed: m.Parameters.DecaySpeed,
		Threshold: int(math.Round(m.Parameters.Threshold))}
	seen := map[ioc.Type]bool{}
	for _, a := range m.AttributeTypes {
		for _, t := range mispAttrTypes[a] {
			if !seen[t] {
				seen[t] = true
				d[t] = dm
				set = append(set, t)
			}
		}
	}
	return set
}
