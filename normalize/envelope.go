package normalize

import (
	"bytes"
	"strings"

	"github.com/valyala/fastjson"
)

// envelope is an API wrapper around alert records: a list response, a search hit, an event bus
// message. locate returns the key path from the wrapper to the member that holds the record (an
// object) or the records (an array), or ok=false when v is not this wrapper. inner, when set, is a key
// inside each element to descend to (Elasticsearch hits keep the alert in "_source"); hint names a key
// of the element whose string value identifies the record when the record itself lacks an id.
type envelope struct {
	name    string
	trigger uint32 // top-level keys (triggerBit) of which one must be present; 0 for arrays
	locate  func(v *fastjson.Value) (keys []string, ok bool)
	inner   string
	hint    string
}

// Trigger keys: an object is only tried against the envelopes whose key it has.
const (
	trSource uint32 = 1 << iota
	trHits
	trValue
	trData
	trResources
	trFindings
	trDetailType
	trReply
	trAlertFields
	trAlerts
	trListFindings
)

func triggerBit(k []byte) uint32 {
	switch string(k) {
	case "_source":
		return trSource
	case "hits":
		return trHits
	case "value":
		return trValue
	case "data":
		return trData
	case "resources":
		return trResources
	case "Findings", "findings":
		return trFindings
	case "detail-type":
		return trDetailType
	case "reply":
		return trReply
	case "alert_fields":
		return trAlertFields
	case "alerts":
		return trAlerts
	case "listFindingsResults":
		return trListFindings
	}
	return 0
}

// onlyKeys reports whether every key of object v is key or one of allowed (or starts with an allowed
// prefix ending in '.' or '@').
func onlyKeys(v *fastjson.Value, key string, allowed ...string) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	ok := true
	o.Visit(func(k []byte, _ *fastjson.Value) {
		if !ok || string(k) == key {
			return
		}
		for _, a := range allowed {
			if string(k) == a || strings.HasSuffix(a, "*") && strings.HasPrefix(string(k), a[:len(a)-1]) {
				return
			}
		}
		ok = false
	})
	return ok
}

func isType(v *fastjson.Value, t fastjson.Type) bool { return v != nil && v.Type() == t }

func nonEmptyArray(v *fastjson.Value) bool {
	return isType(v, fastjson.TypeArray) && len(v.GetArray()) > 0
}

var (
	keysValue     = []string{"value"}
	keysData      = []string{"data"}
	keysDataAlert = []string{"data", "alert"}
	keysResources = []string{"resources"}
	keysFindingsU = []string{"Findings"}
	keysFindingsL = []string{"findings"}
	keysDetail    = []string{"detail"}
	keysDetailF   = []string{"detail", "findings"}
	keysHits      = []string{"hits", "hits"}
	keysAlerts    = []string{"alerts"}
	keysAlertFlds = []string{"alert_fields"}
	keysGCPList   = []string{"listFindingsResults"}
	keysSelf      = []string{}
)

// envelopes are tried in this order; the first whose locate succeeds unwraps the record.
var envelopes = []envelope{
	{name: "array", locate: func(v *fastjson.Value) ([]string, bool) {
		return keysSelf, v.Type() == fastjson.TypeArray
	}},
	{name: "elasticsearch hit", trigger: trSource, inner: "_source", hint: "_id", locate: func(v *fastjson.Value) ([]string, bool) {
		return keysSelf, isType(v.Get("_source"), fastjson.TypeObject) && (v.Get("_index") != nil || v.Get("_id") != nil)
	}},
	{name: "elasticsearch search response", trigger: trHits, locate: func(v *fastjson.Value) ([]string, bool) {
		return keysHits, isType(v.Get("hits", "hits"), fastjson.TypeArray)
	}},
	{name: "es_archiver document", trigger: trValue, inner: "source", hint: "id", locate: func(v *fastjson.Value) ([]string, bool) {
		return keysValue, isType(v.Get("value", "source"), fastjson.TypeObject) && string(v.GetStringBytes("type")) == "doc"
	}},
	{name: "odata list", trigger: trValue, locate: func(v *fastjson.Value) ([]string, bool) {
		return keysValue, isType(v.Get("value"), fastjson.TypeArray) && onlyKeys(v, "value", "@odata*")
	}},
	{name: "data list", trigger: trData, locate: func(v *fastjson.Value) ([]string, bool) {
		return keysData, isType(v.Get("data"), fastjson.TypeArray) && onlyKeys(v, "data", "pagination", "errors", "meta")
	}},
	{name: "sentinelone uam response", trigger: trData, locate: func(v *fastjson.Value) ([]string, bool) {
		return keysDataAlert, isType(v.Get("data", "alert"), fastjson.TypeObject) && onlyKeys(v, "data", "errors", "extensions")
	}},
	{name: "resources list", trigger: trResources, locate: func(v *fastjson.Value) ([]string, bool) {
		return keysResources, isType(v.Get("resources"), fastjson.TypeArray) && onlyKeys(v, "resources", "meta", "errors")
	}},
	{name: "findings list", trigger: trFindings, locate: func(v *fastjson.Value) ([]string, bool) {
		if isType(v.Get("Findings"), fastjson.TypeArray) && onlyKeys(v, "Findings", "NextToken", "UnprocessedFindings", "ResponseMetadata") {
			return keysFindingsU, true
		}
		return keysFindingsL, isType(v.Get("findings"), fastjson.TypeArray) && onlyKeys(v, "findings", "nextToken", "NextToken")
	}},
	{name: "eventbridge event", trigger: trDetailType, locate: func(v *fastjson.Value) ([]string, bool) {
		if !isType(v.Get("detail-type"), fastjson.TypeString) || !isType(v.Get("detail"), fastjson.TypeObject) {
			return nil, false
		}
		if isType(v.Get("detail", "findings"), fastjson.TypeArray) {
			return keysDetailF, true
		}
		return keysDetail, true
	}},
	{name: "cortex reply", trigger: trReply, locate: func(v *fastjson.Value) ([]string, bool) {
		r := v.Get("reply")
		if !isType(r, fastjson.TypeObject) || !onlyKeys(v, "reply") {
			return nil, false
		}
		switch {
		case isType(r.Get("alerts"), fastjson.TypeArray):
			return []string{"reply", "alerts"}, true
		case isType(r.Get("alerts", "data"), fastjson.TypeArray):
			return []string{"reply", "alerts", "data"}, true
		case isType(r.Get("incidents"), fastjson.TypeArray):
			return []string{"reply", "incidents"}, true
		case isType(r.Get("incident"), fastjson.TypeObject):
			return []string{"reply", "incident"}, true
		}
		return nil, false
	}},
	{name: "cortex alert_fields", trigger: trAlertFields, locate: func(v *fastjson.Value) ([]string, bool) {
		return keysAlertFlds, isType(v.Get("alert_fields"), fastjson.TypeObject)
	}},
	{name: "cortex incident with alerts", trigger: trAlerts, locate: func(v *fastjson.Value) ([]string, bool) {
		return keysAlerts, v.Get("incident_id") != nil && nonEmptyArray(v.Get("alerts"))
	}},
	{name: "graph incident with alerts", trigger: trAlerts, locate: func(v *fastjson.Value) ([]string, bool) {
		t := v.GetStringBytes("@odata.type")
		return keysAlerts, strings.Contains(strings.ToLower(string(t)), "incident") && nonEmptyArray(v.Get("alerts"))
	}},
	{name: "gcp list findings response", trigger: trListFindings, locate: func(v *fastjson.Value) ([]string, bool) {
		return keysGCPList, isType(v.Get("listFindingsResults"), fastjson.TypeArray)
	}},
}

func matchEnvelope(v *fastjson.Value) (envelope, bool) {
	if v == nil {
		return envelope{}, false
	}
	t := v.Type()
	if t != fastjson.TypeObject && t != fastjson.TypeArray {
		return envelope{}, false
	}
	var present uint32
	if t == fastjson.TypeObject {
		o, _ := v.Object()
		o.Visit(func(k []byte, _ *fastjson.Value) { present |= triggerBit(k) })
		if present == 0 {
			return envelope{}, false
		}
	}
	for _, e := range envelopes {
		if (t == fastjson.TypeObject) != (e.trigger != 0) || e.trigger != 0 && e.trigger&present == 0 {
			continue
		}
		if _, ok := e.locate(v); ok {
			return e, true
		}
	}
	return envelope{}, false
}

// first returns the first record inside the envelope, or nil if it holds none.
func (e envelope) first(v *fastjson.Value) *fastjson.Value {
	keys, _ := e.locate(v)
	c := v.Get(keys...)
	if c != nil && c.Type() == fastjson.TypeArray {
		a := c.GetArray()
		if len(a) == 0 {
			return nil
		}
		c = a[0]
	}
	if e.inner != "" {
		c = c.Get(e.inner)
	}
	return c
}

// each calls fn for every record inside the envelope with its bytes (a sub-slice of raw, or a compact
// re-encoding when the bytes cannot be located), its path for error messages and its id hint.
func (e envelope) each(v *fastjson.Value, raw []byte, path string, fn func(elem *fastjson.Value, elemRaw []byte, elemPath, hint string) error) error {
	keys, _ := e.locate(v)
	c := v.Get(keys...)
	craw := raw
	for _, k := range keys {
		if craw != nil {
			craw = memberRaw(craw, k)
		}
	}
	cpath := path
	for _, k := range keys {
		if cpath == "" {
			cpath = k
		} else {
			cpath += "." + k
		}
	}
	one := func(elem *fastjson.Value, elemRaw []byte, elemPath string) error {
		hint := ""
		if e.hint != "" {
			if h := elem.GetStringBytes(e.hint); len(h) > 0 {
				hint = string(h)
			}
		}
		if e.inner != "" {
			elem = elem.Get(e.inner)
			if elemRaw != nil {
				elemRaw = memberRaw(elemRaw, e.inner)
			}
			elemPath = joinPath(elemPath, e.inner)
		}
		if elemRaw == nil {
			elemRaw = elem.MarshalTo(nil)
		}
		return fn(elem, elemRaw, elemPath, hint)
	}
	if c.Type() != fastjson.TypeArray {
		return one(c, craw, cpath)
	}
	it := arrayIter{b: craw}
	for i, elem := range c.GetArray() {
		elemRaw := it.next()
		if err := one(elem, elemRaw, cpath+"["+itoa(i)+"]"); err != nil {
			return err
		}
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func itoa(i int) string {
	if i >= 0 && i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// The span helpers below walk bytes that NormalizeWith has already validated, so they only match
// brackets and quotes instead of checking the grammar again.

// memberRaw returns the bytes of the value of key in the JSON object b, or nil.
func memberRaw(b []byte, key string) []byte {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] == '"' {
		kend := skipString(b, i)
		k := b[i+1 : max(i+1, kend-1)]
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return nil
		}
		i = skipWS(b, i+1)
		vend := skipValue(b, i)
		if string(k) == key {
			return b[i:vend]
		}
		i = skipWS(b, vend)
		if i >= len(b) || b[i] != ',' {
			return nil
		}
		i = skipWS(b, i+1)
	}
	return nil
}

// skipString returns the offset after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		end := i + j
		n := 0
		for k := end - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		i = end + 1
		if n%2 == 0 {
			return i
		}
	}
}

// skipValue returns the offset after the (valid) JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
		case '{', '[':
			depth++
			i++
		case '}', ']':
			depth--
			i++
			if depth <= 0 {
				return i
			}
		default:
			if depth == 0 { // a scalar: up to the next delimiter
				for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
					i++
				}
				return i
			}
			i++
		}
	}
	return i
}

// arrayIter walks the elements of the JSON array in b; next returns nil once b is exhausted or broken.
type arrayIter struct {
	b       []byte
	i       int
	started bool
	dead    bool
}

func (it *arrayIter) next() []byte {
	if it.dead || it.b == nil {
		return nil
	}
	b := it.b
	if !it.started {
		it.started = true
		it.i = skipWS(b, 0)
		if it.i >= len(b) || b[it.i] != '[' {
			it.dead = true
			return nil
		}
		it.i++
	} else {
		it.i = skipWS(b, it.i)
		if it.i >= len(b) || b[it.i] != ',' {
			it.dead = true
			return nil
		}
		it.i++
	}
	start := skipWS(b, it.i)
	if start >= len(b) || b[start] == ']' {
		it.dead = true
		return nil
	}
	end := skipValue(b, start)
	it.i = end
	return b[start:end]
}
