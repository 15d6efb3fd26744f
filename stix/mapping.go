package stix

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
	"github.com/valyala/fastjson"
)

// KillChainPhase is a STIX kill-chain phase.
type KillChainPhase struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

// ExternalReference is a STIX external reference.
type ExternalReference struct {
	SourceName  string `json:"source_name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

// Indicator is the STIX 2.1 indicator SDO (with socbot's custom x_socbot_* properties on export).
type Indicator struct {
	Type               string              `json:"type"`
	SpecVersion        string              `json:"spec_version"`
	ID                 string              `json:"id"`
	CreatedByRef       string              `json:"created_by_ref,omitempty"`
	Created            string              `json:"created"`
	Modified           string              `json:"modified"`
	Name               string              `json:"name,omitempty"`
	Description        string              `json:"description,omitempty"`
	IndicatorTypes     []string            `json:"indicator_types,omitempty"`
	Pattern            string              `json:"pattern"`
	PatternType        string              `json:"pattern_type"`
	PatternVersion     string              `json:"pattern_version,omitempty"`
	ValidFrom          string              `json:"valid_from"`
	ValidUntil         string              `json:"valid_until,omitempty"`
	KillChainPhases    []KillChainPhase    `json:"kill_chain_phases,omitempty"`
	Confidence         *int                `json:"confidence,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	Revoked            bool                `json:"revoked,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
	XScore             *int                `json:"x_socbot_score,omitempty"`
	XSources           []string            `json:"x_socbot_sources,omitempty"`
	XSightings         int                 `json:"x_socbot_sightings,omitempty"`
}

// FromIndicator maps an indicator to its STIX indicator SDO. score is its current score (exported as
// x_socbot_score); the SDO's modified time is the indicator's.
func FromIndicator(in *intel.Indicator, score int) Indicator {
	conf := in.Confidence
	sc := score
	out := Indicator{
		Type: "indicator", SpecVersion: "2.1", ID: in.ID, CreatedByRef: IdentityID,
		Created: Timestamp(in.Created), Modified: Timestamp(in.Modified),
		Name: string(in.Type) + " " + in.Value, Description: in.Description,
		IndicatorTypes: []string{"malicious-activity"},
		Pattern:        PatternFor(in.Type, in.Value), PatternType: "stix", PatternVersion: "2.1",
		ValidFrom: Timestamp(in.FirstSeen), Confidence: &conf, Labels: in.Tags, Revoked: in.Revoked,
		ObjectMarkingRefs: []string{tlpMarking(in.TLP)}, XScore: &sc, XSources: in.SourceNames(), XSightings: in.Sightings,
	}
	if in.Created.IsZero() {
		out.Created = Timestamp(in.FirstSeen)
	}
	if in.Modified.IsZero() || in.Modified.Before(in.Created) {
		out.Modified = out.Created
	}
	if out.ID == "" {
		out.ID = intel.IndicatorID(in.Type, in.Value)
	}
	if vu := in.ValidUntil(); !vu.IsZero() && vu.After(in.FirstSeen) {
		out.ValidUntil = Timestamp(vu)
	}
	for _, k := range in.KillChain {
		out.KillChainPhases = append(out.KillChainPhases, KillChainPhase{KillChainName: k.KillChain, PhaseName: k.Phase})
	}
	if in.Type == ioc.CVE {
		out.ExternalReferences = []ExternalReference{{SourceName: "cve", ExternalID: in.Value}}
	}
	return out
}

// Identity is socbot's identity object, the creator of what it exports.
func Identity() map[string]any {
	return map[string]any{"type": "identity", "spec_version": "2.1", "id": IdentityID, "created": "2026-01-01T00:00:00.000Z",
		"modified": "2026-01-01T00:00:00.000Z", "name": "socbot", "identity_class": "system"}
}

// TLPMarkingDefinition returns the spec's TLP 1.0 marking-definition object for an id.
func TLPMarkingDefinition(id string) map[string]any {
	name := map[string]string{TLPWhiteID: "white", TLPGreenID: "green", TLPAmberID: "amber", TLPRedID: "red"}[id]
	return map[string]any{"type": "marking-definition", "spec_version": "2.1", "id": id, "created": "2017-01-20T00:00:00.000Z",
		"definition_type": "tlp", "name": "TLP:" + strings.ToUpper(name), "definition": map[string]string{"tlp": name}}
}

// ExportOptions controls a bundle export.
type ExportOptions struct {
	MaxTLP      intel.TLP // never export above this marking (TLP enforcement on the way out)
	Observables bool      // also write each indicator's SCO and a based-on relationship
	IncludeDead bool      // also revoked, filtered and expired indicators (revoked ones marked so)
	Decay       intel.Decay
	Now         time.Time
}

// ExportBundle writes the indicators the filter selects from store as one streamed bundle, enforcing
// the TLP ceiling. It returns the number of indicators written.
func ExportBundle(ctx context.Context, store intel.Store, f intel.Filter, opts ExportOptions, w io.Writer) (int, error) {
	if opts.Decay == nil {
		opts.Decay = intel.DefaultDecay()
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC()
	}
	bw := NewWriter(w, "")
	bw.Write(Identity())
	written := map[string]bool{}
	n := 0
	f.IncludeDead = opts.IncludeDead
	err := store.ScanIndicators(ctx, f, func(in *intel.Indicator) error {
		if !in.TLP.MayShare(opts.MaxTLP) {
			return nil
		}
		if !opts.IncludeDead && !in.Active(opts.Decay, opts.Now) {
			return nil
		}
		sdo := FromIndicator(in, in.Score(opts.Decay, opts.Now))
		if sdo.Pattern == "" {
			return nil
		}
		m := sdo.ObjectMarkingRefs[0]
		if !written[m] {
			written[m] = true
			if err := bw.Write(TLPMarkingDefinition(m)); err != nil {
				return err
			}
		}
		if err := bw.Write(sdo); err != nil {
			return err
		}
		n++
		if opts.Observables {
			if sco := SCOFor(in.Type, in.Value); sco != nil && in.Type != ioc.CIDR {
				sco["object_marking_refs"] = []string{m}
				id := sco["id"].(string)
				if err := bw.Write(sco); err != nil {
					return err
				}
				rel := map[string]any{"type": "relationship", "spec_version": "2.1", "id": RelationshipID("based-on", sdo.ID, id),
					"created": sdo.Created, "modified": sdo.Modified, "relationship_type": "based-on",
					"source_ref": sdo.ID, "target_ref": id, "object_marking_refs": []string{m}}
				if err := bw.Write(rel); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, bw.Close()
}

// object is the part of any STIX object the importer reads.
type object struct {
	Type               string              `json:"type"`
	ID                 string              `json:"id"`
	Created            string              `json:"created"`
	Modified           string              `json:"modified"`
	Name               string              `json:"name"`
	Description        string              `json:"description"`
	Pattern            string              `json:"pattern"`
	PatternType        string              `json:"pattern_type"`
	ValidFrom          string              `json:"valid_from"`
	ValidUntil         string              `json:"valid_until"`
	KillChainPhases    []KillChainPhase    `json:"kill_chain_phases"`
	Confidence         *int                `json:"confidence"`
	Labels             []string            `json:"labels"`
	IndicatorTypes     []string            `json:"indicator_types"`
	Revoked            bool                `json:"revoked"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs"`
	ExternalReferences []ExternalReference `json:"external_references"`
	DefinitionType     string              `json:"definition_type"`
	Definition         map[string]any      `json:"definition"`
	Extensions         map[string]any      `json:"extensions"`
}

// ImportStats counts what Import read.
type ImportStats struct {
	Objects     int `json:"objects"`
	Indicators  int `json:"indicators"`
	Items       int `json:"items"`
	Unsupported int `json:"unsupported_patterns"` // non-STIX pattern types, or patterns without an indexable comparison
	Invalid     int `json:"invalid_patterns"`
}

// Import streams a bundle (or TAXII envelope) and emits one Item per value the indicators' patterns
// test for equality (ipv4/ipv6 addresses and ISSUBSET CIDRs, domain names, URLs, e-mail addresses,
// file hashes). Items carry the indicator's confidence, validity, labels, kill-chain phases, TLP (from
// the spec's TLP 1.0 marking ids or TLP marking-definitions met earlier in the stream) and the
// pattern itself when it is more than a simple OR of equalities. Other objects are skipped.
func Import(r io.Reader, emit func(intel.Item) error) (ImportStats, error) {
	return ImportFrom(NewReader(r), emit)
}

// ImportFrom is Import over an existing Reader (so that the caller can read the envelope's More and
// Next afterwards).
func ImportFrom(rd *Reader, emit func(intel.Item) error) (ImportStats, error) {
	var st ImportStats
	markings := map[string]string{}
	var fp fastjson.Parser
	for {
		raw, err := rd.ReadRaw()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		st.Objects++
		o, ok := objectOf(&fp, raw)
		if !ok {
			continue
		}
		switch o.Type {
		case "marking-definition":
			if tlp := markingTLP(o); tlp != "" {
				markings[o.ID] = tlp
			}
			continue
		case "indicator":
		default:
			continue
		}
		st.Indicators++
		items, err := itemsOf(o, markings, &st)
		if err != nil {
			continue
		}
		for _, it := range items {
			st.Items++
			if err := emit(it); err != nil {
				return st, err
			}
		}
	}
}

// objectOf reads the fields the importer needs with fastjson (several times faster than decoding
// into a struct with encoding/json). Objects that are not JSON objects are skipped.
func objectOf(p *fastjson.Parser, raw []byte) (*object, bool) {
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, false
	}
	str := func(keys ...string) string { return string(v.GetStringBytes(keys...)) }
	strs := func(key string) []string {
		var out []string
		for _, x := range v.GetArray(key) {
			if b, err := x.StringBytes(); err == nil {
				out = append(out, string(b))
			}
		}
		return out
	}
	o := &object{Type: str("type"), ID: str("id")}
	switch o.Type {
	case "indicator":
	case "marking-definition":
		o.Name, o.DefinitionType = str("name"), str("definition_type")
		if t := str("definition", "tlp"); t != "" {
			o.Definition = map[string]any{"tlp": t}
		}
		if ext := v.GetObject("extensions"); ext != nil {
			o.Extensions = map[string]any{}
			ext.Visit(func(k []byte, ev *fastjson.Value) {
				if t := ev.GetStringBytes("tlp_2_0"); t != nil {
					o.Extensions[string(k)] = map[string]any{"tlp_2_0": string(t)}
				}
			})
		}
		return o, true
	default:
		return o, true
	}
	o.Created, o.Modified, o.Name, o.Description = str("created"), str("modified"), str("name"), str("description")
	o.Pattern, o.PatternType, o.ValidFrom, o.ValidUntil = str("pattern"), str("pattern_type"), str("valid_from"), str("valid_until")
	if c := v.Get("confidence"); c != nil {
		if n, err := c.Int(); err == nil {
			o.Confidence = &n
		}
	}
	o.Labels, o.IndicatorTypes, o.ObjectMarkingRefs = strs("labels"), strs("indicator_types"), strs("object_marking_refs")
	o.Revoked = v.GetBool("revoked")
	for _, k := range v.GetArray("kill_chain_phases") {
		o.KillChainPhases = append(o.KillChainPhases, KillChainPhase{KillChainName: string(k.GetStringBytes("kill_chain_name")), PhaseName: string(k.GetStringBytes("phase_name"))})
	}
	return o, true
}

func markingTLP(o *object) string {
	if t, ok := TLPFromMarking(o.ID); ok {
		return t.String()
	}
	if o.DefinitionType == "tlp" {
		if s, ok := o.Definition["tlp"].(string); ok {
			return s
		}
	}
	if n := strings.ToLower(o.Name); strings.HasPrefix(n, "tlp:") {
		return n
	}
	for _, ext := range o.Extensions {
		if m, ok := ext.(map[string]any); ok {
			if s, ok := m["tlp_2_0"].(string); ok {
				return s
			}
		}
	}
	return ""
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// pathType maps an object path of an equality comparison to an indicator type.
func pathType(p Path) (ioc.Type, bool) {
	key := p.String()
	switch key {
	case "ipv4-addr:value", "network-traffic:dst_ref.value", "network-traffic:src_ref.value":
		return ioc.IPv4, true
	case "ipv6-addr:value":
		return ioc.IPv6, true
	case "domain-name:value", "network-traffic:extensions.'http-request-ext'.request_header.Host":
		return ioc.Domain, true
	case "url:value":
		return ioc.URL, true
	case "email-addr:value", "email-message:from_ref.value", "email-message:sender_ref.value":
		return ioc.Email, true
	case "vulnerability:name":
		return ioc.CVE, true
	}
	if p.ObjectType == "file" || p.ObjectType == "artifact" {
		if len(p.Steps) == 2 && p.Steps[0] == "hashes" {
			switch strings.ToUpper(strings.ReplaceAll(p.Steps[1], "-", "")) {
			case "MD5":
				return ioc.MD5, true
			case "SHA1":
				return ioc.SHA1, true
			case "SHA256":
				return ioc.SHA256, true
			case "SHA512":
				return ioc.SHA512, true
			}
		}
	}
	return "", false
}

func itemsOf(o *object, markings map[string]string, st *ImportStats) ([]intel.Item, error) {
	if o.PatternType != "" && o.PatternType != "stix" {
		st.Unsupported++
		return nil, nil
	}
	p, err := ParsePattern(o.Pattern)
	if err != nil {
		st.Invalid++
		return nil, err
	}
	base := intel.Item{Description: o.Description, Ref: o.ID, Tags: append(append([]string(nil), o.Labels...), o.IndicatorTypes...),
		FirstSeen: parseTime(o.ValidFrom), LastSeen: parseTime(o.Modified), ValidUntil: parseTime(o.ValidUntil), Revoked: o.Revoked}
	if base.Description == "" {
		base.Description = o.Name
	}
	if o.Confidence != nil {
		base.Confidence = *o.Confidence
	}
	for _, k := range o.KillChainPhases {
		base.KillChain = append(base.KillChain, intel.KillChainPhase{KillChain: k.KillChainName, Phase: k.PhaseName})
	}
	for _, m := range o.ObjectMarkingRefs {
		if t, ok := markings[m]; ok {
			if tl, ok := intel.ParseTLP(t); ok {
				if cur, ok2 := intel.ParseTLP(base.TLP); !ok2 || tl > cur || base.TLP == "" {
					base.TLP = tl.String()
				}
			}
		} else if tl, ok := TLPFromMarking(m); ok {
			if cur, ok2 := intel.ParseTLP(base.TLP); !ok2 || tl > cur || base.TLP == "" {
				base.TLP = tl.String()
			}
		}
	}
	if !p.Simple() {
		base.Pattern = o.Pattern
	}
	var out []intel.Item
	seen := map[string]bool{}
	add := func(t ioc.Type, v string) {
		if t == ioc.IPv4 && strings.Contains(v, ":") {
			t = ioc.IPv6
		}
		if (t == ioc.IPv4 || t == ioc.IPv6) && strings.Contains(v, "/") {
			t = ioc.CIDR
		}
		if seen[string(t)+v] {
			return
		}
		seen[string(t)+v] = true
		it := base
		it.Type, it.Value = t, v
		out = append(out, it)
	}
	p.Comparisons(func(c *Comparison) {
		if c.Negate {
			return
		}
		t, ok := pathType(c.Path)
		if !ok {
			return
		}
		switch c.Op {
		case "=":
			if c.Value.Kind == "string" {
				add(t, c.Value.Text)
			}
		case "IN":
			for _, v := range c.Set {
				if v.Kind == "string" {
					add(t, v.Text)
				}
			}
		case "ISSUBSET":
			if t == ioc.IPv4 || t == ioc.IPv6 {
				add(ioc.CIDR, c.Value.Text)
			}
		}
	})
	if len(out) == 0 {
		st.Unsupported++
	}
	return out, nil
}

// DecodeObject reads the type and id of a raw STIX object.
func DecodeObject(raw json.RawMessage) (typ, id, modified string, err error) {
	var h struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Modified string `json:"modified"`
		Created  string `json:"created"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", "", "", socbot.E("stix.DecodeObject", socbot.KindInvalid, err)
	}
	if h.Type == "" || h.ID == "" {
		return "", "", "", socbot.FieldError("stix.DecodeObject", "id", "object without type or id")
	}
	m := h.Modified
	if m == "" {
		m = h.Created
	}
	return h.Type, h.ID, m, nil
}
