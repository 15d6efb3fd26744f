// Package misp reads and writes MISP data: single event files ({"Event": ...}), REST answers with many
// events ({"response": [{"Event": ...}, ...]} or a bare array), the feed layout (manifest.json, one
// <uuid>.json per event, hashes.csv) through a Collector that fetches only the events whose timestamp
// changed, and exports socbot indicators as a MISP event. Events are decoded one at a time, so a
// response of any number of events streams.
package misp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// Tag is a MISP tag.
type Tag struct {
	Name   string `json:"name"`
	Colour string `json:"colour,omitempty"`
}

// Attribute is a MISP attribute.
type Attribute struct {
	UUID      string          `json:"uuid,omitempty"`
	Type      string          `json:"type"`
	Category  string          `json:"category,omitempty"`
	Value     string          `json:"value"`
	ToIDS     flexBool        `json:"to_ids"`
	Comment   string          `json:"comment,omitempty"`
	Timestamp flexString      `json:"timestamp,omitempty"`
	Deleted   flexBool        `json:"deleted,omitempty"`
	Tag       []Tag           `json:"Tag,omitempty"`
	FirstSeen string          `json:"first_seen,omitempty"`
	LastSeen  string          `json:"last_seen,omitempty"`
	Sighting  json.RawMessage `json:"Sighting,omitempty"`
}

// Object is a MISP object (a group of attributes).
type Object struct {
	Name      string      `json:"name"`
	Attribute []Attribute `json:"Attribute"`
}

// Org is a MISP organisation reference.
type Org struct {
	Name string `json:"name"`
	UUID string `json:"uuid,omitempty"`
}

// Event is a MISP event.
type Event struct {
	UUID          string      `json:"uuid"`
	Info          string      `json:"info"`
	Date          string      `json:"date,omitempty"`
	Timestamp     flexString  `json:"timestamp,omitempty"`
	Published     flexBool    `json:"published,omitempty"`
	Analysis      flexString  `json:"analysis,omitempty"`
	ThreatLevelID flexString  `json:"threat_level_id,omitempty"`
	Distribution  flexString  `json:"distribution,omitempty"`
	Orgc          *Org        `json:"Orgc,omitempty"`
	Tag           []Tag       `json:"Tag,omitempty"`
	Attribute     []Attribute `json:"Attribute"`
	Object        []Object    `json:"Object,omitempty"`
}

// flexString accepts a JSON string or number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	*f = flexString(strings.TrimSpace(string(b)))
	return nil
}

// flexBool accepts true/false, "1"/"0", 1/0.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	*f = flexBool(s == "true" || s == "1")
	return nil
}

// Options controls the conversion of attributes to items.
type Options struct {
	// AllAttributes imports attributes without the to_ids flag too (with lower confidence); by default
	// only IDS-flagged attributes become indicators, as MISP's own exports do.
	AllAttributes bool
}

// OptionsFrom reads feed options ("all_attributes": "true").
func OptionsFrom(o map[string]string) Options {
	return Options{AllAttributes: o["all_attributes"] == "true"}
}

// attrTypes maps MISP attribute types to indicator types; composite types take the given part.
var attrTypes = map[string]struct {
	t    ioc.Type
	part int // for "a|b" values: which part (-1: both, as their own types)
}{
	"ip-src": {ioc.IPv4, 0}, "ip-dst": {ioc.IPv4, 0}, "ip-src|port": {ioc.IPv4, 0}, "ip-dst|port": {ioc.IPv4, 0},
	"domain": {ioc.Domain, 0}, "hostname": {ioc.Domain, 0}, "hostname|port": {ioc.Domain, 0}, "domain|ip": {ioc.Domain, -1},
	"url": {ioc.URL, 0}, "email": {ioc.Email, 0}, "email-src": {ioc.Email, 0}, "email-dst": {ioc.Email, 0},
	"md5": {ioc.MD5, 0}, "sha1": {ioc.SHA1, 0}, "sha256": {ioc.SHA256, 0}, "sha512": {ioc.SHA512, 0},
	"filename|md5": {ioc.MD5, 1}, "filename|sha1": {ioc.SHA1, 1}, "filename|sha256": {ioc.SHA256, 1}, "filename|sha512": {ioc.SHA512, 1},
	"vulnerability": {ioc.CVE, 0},
}

// ItemsOf converts an event's attributes (including those inside objects) to items. TLP comes from
// tlp:* tags of the attribute or the event; other tags are kept.
func ItemsOf(ev *Event, opts Options, emit func(intel.Item) error) error {
	evTLP, evTags := splitTags(ev.Tag)
	evTime := unixTime(string(ev.Timestamp))
	conv := func(a *Attribute) error {
		m, ok := attrTypes[a.Type]
		if !ok {
			return nil
		}
		if !bool(a.ToIDS) && !opts.AllAttributes {
			return nil
		}
		tlp, tags := splitTags(a.Tag)
		if tlp == "" {
			tlp = evTLP
		}
		it := intel.Item{TLP: tlp, Tags: append(append([]string(nil), evTags...), tags...), Description: ev.Info,
			Ref: "misp:event:" + ev.UUID, LastSeen: unixTime(string(a.Timestamp)), Revoked: bool(a.Deleted)}
		if it.LastSeen.IsZero() {
			it.LastSeen = evTime
		}
		if fs := parseMISPTime(a.FirstSeen); !fs.IsZero() {
			it.FirstSeen = fs
		}
		if !bool(a.ToIDS) {
			it.Confidence = 30
		}
		if a.Category != "" {
			it.Tags = append(it.Tags, "misp-category:"+a.Category)
		}
		parts := strings.Split(a.Value, "|")
		switch {
		case m.part == -1 && len(parts) == 2: // domain|ip
			d, ip := it, it
			d.Type, d.Value = ioc.Domain, parts[0]
			ip.Type, ip.Value = ioc.IPv4, parts[1]
			if strings.Contains(parts[1], ":") {
				ip.Type = ioc.IPv6
			}
			if err := emit(d); err != nil {
				return err
			}
			return emit(ip)
		case m.part < len(parts):
			it.Type, it.Value = m.t, parts[max(m.part, 0)]
		default:
			return nil
		}
		if (it.Type == ioc.IPv4) && strings.Contains(it.Value, ":") {
			it.Type = ioc.IPv6
		}
		return emit(it)
	}
	for i := range ev.Attribute {
		if err := conv(&ev.Attribute[i]); err != nil {
			return err
		}
	}
	for i := range ev.Object {
		for j := range ev.Object[i].Attribute {
			if err := conv(&ev.Object[i].Attribute[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

func splitTags(ts []Tag) (tlp string, tags []string) {
	for _, t := range ts {
		n := strings.TrimSpace(t.Name)
		if l := strings.ToLower(n); strings.HasPrefix(l, "tlp:") {
			if cand, ok := intel.ParseTLP(l); ok {
				if cur, ok := intel.ParseTLP(tlp); !ok || tlp == "" || cand > cur {
					tlp = cand.String()
				}
			}
			continue
		}
		tags = append(tags, n)
	}
	return tlp, tags
}

func unixTime(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

func parseMISPTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

// Parse streams a MISP event document: {"Event": {...}}, {"response": [{"Event": ...}, ...]}, a bare
// array of {"Event": ...}, or a bare event object. Each event is decoded alone and converted.
func Parse(ctx context.Context, opts Options, r io.Reader, emit func(intel.Item) error) error {
	return Events(ctx, r, func(ev *Event) error { return ItemsOf(ev, opts, emit) })
}

// Events streams the events of a MISP document to fn.
func Events(ctx context.Context, r io.Reader, fn func(*Event) error) error {
	const op = "misp.Events"
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	t, err := dec.Token()
	if err != nil {
		return socbot.E(op, socbot.KindInvalid, err, "not JSON")
	}
	arrayOf := func() error {
		for dec.More() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var w struct {
				Event *Event `json:"Event"`
			}
			if err := dec.Decode(&w); err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
			if w.Event != nil {
				if err := fn(w.Event); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token()
		return err
	}
	switch t {
	case json.Delim('['):
		return arrayOf()
	case json.Delim('{'):
	default:
		return socbot.E(op, socbot.KindInvalid, "a MISP document is a JSON object or array")
	}
	// an object: {"Event": {...}}, {"response": [...]}, or the event itself
	var bare Event
	bareSeen := false
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return socbot.E(op, socbot.KindInvalid, err)
		}
		switch k {
		case "Event":
			var ev Event
			if err := dec.Decode(&ev); err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
			if err := fn(&ev); err != nil {
				return err
			}
		case "response":
			t, err := dec.Token()
			if err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
			if t != json.Delim('[') {
				return socbot.FieldError(op, "response", "must be an array")
			}
			if err := arrayOf(); err != nil {
				return err
			}
		case "uuid", "info", "timestamp", "Attribute", "Object", "Tag", "date":
			bareSeen = true
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
			if err := json.Unmarshal([]byte(fmt.Sprintf("{%q:%s}", k, raw)), &bare); err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
		}
	}
	if bareSeen {
		return fn(&bare)
	}
	return nil
}

// ManifestEntry is one event of a MISP feed's manifest.json.
type ManifestEntry struct {
	Info      string     `json:"info"`
	Date      string     `json:"date"`
	Timestamp flexString `json:"timestamp"`
	Orgc      *Org       `json:"Orgc"`
	Tag       []Tag      `json:"Tag"`
}

// ReadManifest decodes a manifest.json ({"<event uuid>": {...}}), streaming its entries to fn.
func ReadManifest(r io.Reader, fn func(uuid string, e ManifestEntry) error) error {
	const op = "misp.ReadManifest"
	dec := json.NewDecoder(bufio.NewReader(r))
	t, err := dec.Token()
	if err != nil || t != json.Delim('{') {
		return socbot.E(op, socbot.KindInvalid, "manifest.json must be a JSON object")
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return socbot.E(op, socbot.KindInvalid, err)
		}
		var e ManifestEntry
		if err := dec.Decode(&e); err != nil {
			return socbot.E(op, socbot.KindInvalid, err)
		}
		if err := fn(fmt.Sprint(k), e); err != nil {
			return err
		}
	}
	return nil
}

// ReadHashes streams a feed's hashes.csv: "md5(value),event-uuid" per line.
func ReadHashes(r io.Reader, fn func(md5, eventUUID string) error) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		h, ev, ok := strings.Cut(l, ",")
		if !ok || len(h) != 32 {
			return socbot.E("misp.ReadHashes", socbot.KindInvalid, "bad hashes.csv line "+strconv.Quote(l))
		}
		if err := fn(h, ev); err != nil {
			return err
		}
	}
	return sc.Err()
}
