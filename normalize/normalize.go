package normalize

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// Normalizer reads one vendor format. Match must be cheap and specific: it looks at a few
// discriminating fields and never at content shared by every format. Normalize maps the record onto
// alerts; it must not keep v (or anything read from it without copying) after it returns, and it
// leaves Raw, UID, TenantID and ReceivedAt to the caller.
type Normalizer interface {
	Name() string
	Match(v *fastjson.Value) bool
	Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error)
}

// Prioritized may be implemented by a Normalizer to place itself in the detection order: lower runs
// first. Normalizers without it get priority 100; the generic catch-all has 1000. Ties are broken by name.
type Prioritized interface {
	Priority() int
}

const defaultPriority = 100

type registry struct {
	mu      sync.RWMutex
	byName  map[string]Normalizer
	aliases map[string]string // alias -> name
	order   []Normalizer      // detection order
}

var reg = registry{byName: map[string]Normalizer{}, aliases: map[string]string{}}

// Register adds a normaliser under name (used by ?format=). If name differs from n.Name(), name is an
// alias of the normaliser registered as n.Name() and n takes no extra part in detection. It panics when
// the name is taken or empty: registration happens in init functions, so a clash is a programming error.
func Register(name string, n Normalizer) {
	if name == "" || n == nil {
		panic("normalize.Register: empty name or nil normaliser")
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.byName[name]; dup {
		panic("normalize.Register: duplicate format " + name)
	}
	if _, dup := reg.aliases[name]; dup {
		panic("normalize.Register: duplicate format " + name)
	}
	if name != n.Name() {
		reg.aliases[name] = n.Name()
		return
	}
	reg.byName[name] = n
	reg.order = append(reg.order, n)
	sort.SliceStable(reg.order, func(i, j int) bool {
		pi, pj := priority(reg.order[i]), priority(reg.order[j])
		if pi != pj {
			return pi < pj
		}
		return reg.order[i].Name() < reg.order[j].Name()
	})
}

func priority(n Normalizer) int {
	if p, ok := n.(Prioritized); ok {
		return p.Priority()
	}
	return defaultPriority
}

// Lookup returns the normaliser registered under name (or an alias of it).
func Lookup(name string) (Normalizer, bool) {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	if real, ok := reg.aliases[name]; ok {
		name = real
	}
	n, ok := reg.byName[name]
	return n, ok
}

// Formats lists the format names accepted by ?format= (aliases included), sorted.
func Formats() []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]string, 0, len(reg.byName)+len(reg.aliases))
	for name := range reg.byName {
		out = append(out, name)
	}
	for name := range reg.aliases {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// DetectionOrder lists the registered normalisers' names in the order auto-detection tries them.
func DetectionOrder() []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]string, len(reg.order))
	for i, n := range reg.order {
		out[i] = n.Name()
	}
	return out
}

func detect(v *fastjson.Value) Normalizer {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	for _, n := range reg.order {
		if n.Match(v) {
			return n
		}
	}
	return nil
}

var parsers fastjson.ParserPool

// Detect names the format of a record, or "" if none matches. For an envelope ({"value":[...]} and the
// like) it names the format of the first record inside.
func Detect(rec []byte) (name string) {
	defer func() {
		if recover() != nil {
			name = "" // a Match bug: nothing detected (Normalize reports it as an internal error)
		}
	}()
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(rec)
	if err != nil {
		return ""
	}
	for depth := 0; depth < maxEnvelopeDepth; depth++ {
		env, ok := matchEnvelope(v)
		if !ok {
			break
		}
		inner := env.first(v)
		if inner == nil {
			return ""
		}
		v = inner
	}
	if n := detect(v); n != nil {
		return n.Name()
	}
	return ""
}

// Normalize turns one record into alerts. format "" means auto-detect (per record inside an envelope);
// otherwise it names a registered format or alias (see Formats). Most records give one alert; envelopes
// give one per record inside. A record that is understood but carries nothing to triage (an empty API
// page, an Elastic building-block alert, a passed compliance check; see docs/formats.md) gives no alerts
// and no error.
//
// Errors are *socbot.Error: KindInvalid for a malformed record or a field of the wrong type or value
// (Field is the JSON path, with the envelope position in front, e.g. "value[2].severity"), KindUnsupported
// for an unknown format name or a record no normaliser recognises, and KindOther only if a normaliser
// fails internally (a recovered panic: a bug, reported, never a crash). A record is normalised entirely
// or not at all.
//
// now is the ingest time: DetectedAt when the record has no usable time (then the alert carries
// socbot.FlagTimeMissing) or a time more than 24 h ahead of now (socbot.FlagTimeFuture). Each alert's
// Raw holds its record's bytes exactly as received (for an envelope, the bytes of the element), copied
// from rec. UID, TenantID and ReceivedAt are left to the caller.
func Normalize(format string, rec []byte, now time.Time) ([]socbot.Alert, error) {
	var n Normalizer
	if format != "" {
		var ok bool
		if n, ok = Lookup(format); !ok {
			return nil, &socbot.Error{Op: "normalize", Kind: socbot.KindUnsupported,
				Msg: fmt.Sprintf("unknown format %q (known: %s)", format, strings.Join(Formats(), ", "))}
		}
	}
	return NormalizeWith(n, rec, now)
}

// NormalizeWith is Normalize with a normaliser given directly (for example one made by NewGeneric from a
// tenant's mapping). A nil n means auto-detect.
func NormalizeWith(n Normalizer, rec []byte, now time.Time) (alerts []socbot.Alert, err error) {
	// A normaliser bug must cost one record, not the ingest server: a panic becomes this record's error.
	defer func() {
		if p := recover(); p != nil {
			alerts, err = nil, &socbot.Error{Op: "normalize", Kind: socbot.KindOther, Msg: fmt.Sprintf("internal error normalising the record: %v", p)}
		}
	}()
	// fastjson is lenient (it takes "\0" escapes, leading zeros, control characters); hold every record
	// to the same strict grammar as Records, so that Raw is always valid JSON.
	start := skipWS(rec, 0)
	if start >= len(rec) {
		return nil, &socbot.Error{Op: "normalize", Kind: socbot.KindInvalid, Msg: "empty record"}
	}
	if end, serr := scanValue(rec, start); serr != nil {
		return nil, &socbot.Error{Op: "normalize", Kind: socbot.KindInvalid, Msg: fmt.Sprintf("malformed JSON at byte %d: %s", serr.at, serr.msg)}
	} else if skipWS(rec, end) != len(rec) {
		return nil, &socbot.Error{Op: "normalize", Kind: socbot.KindInvalid, Msg: fmt.Sprintf("malformed JSON at byte %d: data after the record", skipWS(rec, end))}
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(rec)
	if err != nil {
		return nil, &socbot.Error{Op: "normalize", Kind: socbot.KindInvalid, Msg: "malformed JSON", Err: err}
	}
	if t := v.Type(); t != fastjson.TypeObject && t != fastjson.TypeArray {
		return nil, &socbot.Error{Op: "normalize", Kind: socbot.KindInvalid, Msg: fmt.Sprintf("a record must be a JSON object, not a %s", t)}
	}
	raw := make([]byte, len(rec))
	copy(raw, rec)
	w := walker{n: n, now: now}
	if err := w.walk(v, raw, "", "", 0); err != nil {
		return nil, err
	}
	if w.out == nil {
		w.out = []socbot.Alert{}
	}
	return w.out, nil
}

// walker descends through envelopes and normalises the records it finds.
type walker struct {
	n   Normalizer // nil: detect per record
	now time.Time
	out []socbot.Alert
}

const maxEnvelopeDepth = 4

// walk normalises v whose bytes are raw. path is v's position in the outer record ("" at the top, e.g.
// "value[2]") for error messages; idHint is an id an envelope gave for the record (an Elasticsearch _id).
func (w *walker) walk(v *fastjson.Value, raw []byte, path, idHint string, depth int) error {
	if depth < maxEnvelopeDepth {
		if env, ok := matchEnvelope(v); ok {
			return env.each(v, raw, path, func(elem *fastjson.Value, elemRaw []byte, elemPath, hint string) error {
				return w.walk(elem, elemRaw, elemPath, hint, depth+1)
			})
		}
	}
	if v.Type() != fastjson.TypeObject {
		return &socbot.Error{Op: "normalize", Kind: socbot.KindInvalid, Field: strings.TrimSuffix(path, "."),
			Msg: fmt.Sprintf("expected an alert object, got a %s", v.Type())}
	}
	n := w.n
	if n == nil {
		if n = detect(v); n == nil {
			msg := "no normaliser recognises this record; name the format with ?format= (known: " + strings.Join(Formats(), ", ") + ")"
			if path != "" {
				msg = "no normaliser recognises the record at " + path + "; name the format with ?format= (known: " + strings.Join(Formats(), ", ") + ")"
			}
			return &socbot.Error{Op: "normalize", Kind: socbot.KindUnsupported, Msg: msg}
		}
	}
	alerts, err := n.Normalize(v, w.now)
	if err != nil {
		return prefixField(err, path)
	}
	for i := range alerts {
		a := &alerts[i]
		a.Format = n.Name()
		a.Raw = raw
		if a.SourceID == "" && idHint != "" {
			a.SourceID = idHint
		}
	}
	if len(w.out) == 0 {
		w.out = alerts // the common case: one record, one alert, no copy
	} else {
		w.out = append(w.out, alerts...)
	}
	return nil
}

// prefixField puts the envelope position in front of the field an error names.
func prefixField(err error, path string) error {
	if path == "" {
		return err
	}
	if e, ok := err.(*socbot.Error); ok {
		cp := *e
		if cp.Field != "" {
			cp.Field = path + "." + cp.Field
		} else {
			cp.Field = path
		}
		return &cp
	}
	return err
}

func elemPath(path, key string, i int) string {
	s := key
	if path != "" {
		s = path + "." + key
	}
	if i >= 0 {
		s += "[" + strconv.Itoa(i) + "]"
	}
	return s
}
