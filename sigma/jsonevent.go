package sigma

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	socbot "github.com/socbot/socbot"
)

// JSONDecoder flattens JSON log events into a Matcher. It recognises the shapes whose field names
// differ from Sigma's and renames them; everything else is flattened with dotted names ("a.b.c"):
//
//   - evtx_dump / Velocidex style Windows events ({"Event":{"System":{...},"EventData":{...}}}):
//     EventData and UserData fields by their own names, System fields by name, attributes as
//     Element_Attribute (Provider_Name, TimeCreated_SystemTime, Security_UserID, ...);
//   - Winlogbeat/ECS ({"winlog":{"channel":...,"event_id":...,"event_data":{...}}}): event_data by
//     name, channel, event_id, provider_name and computer_name as Channel, EventID, Provider_Name,
//     Computer, plus the ECS fields dotted;
//   - Suricata eve.json (event_type with src_ip or flow_id): product suricata, channel event_type;
//   - Zeek JSON (_path): product zeek, channel _path.
//
// It parses with its own tokenizer into a flat tape (one entry per value, each container knowing
// where its subtree ends) and walks the tape: no tree of values, no allocation once its buffers
// have grown, strings without escapes used in place. Scalars are added as text: strings unescaped,
// numbers as written, true and false; a container where a scalar is expected is added as its
// compact JSON text.
//
// A JSONDecoder is not safe for concurrent use; values stay valid until the next Feed and as long
// as the data handed to Feed is unchanged.
type JSONDecoder struct {
	tape  []jtok
	arena []byte
	src   []byte // the event being decoded
	path  []byte
}

type jkind uint8

const (
	jObj jkind = iota + 1
	jArr
	jStr
	jNum
	jTrue
	jFalse
	jNull
)

// jtok is one value on the tape. Its texts are spans of the source, or of the arena when the
// high bit of the offset is set (unescaped strings); the tape holds no pointers.
type jtok struct {
	key  span  // member name, unescaped (empty in arrays and for the root)
	val  span  // scalars: the string unescaped, the number as written, true, false (empty for null)
	raw  span  // strings: the text between the quotes as written
	end  int32 // index just past this value's subtree
	kind jkind
}

type span struct{ off, n uint32 }

const inArena = 1 << 31

// text returns the string a span stands for.
func (d *JSONDecoder) text(sp span) string {
	if sp.n == 0 {
		return ""
	}
	if sp.off&inArena != 0 {
		return unsafe.String(&d.arena[sp.off&^inArena], sp.n)
	}
	return unsafe.String(&d.src[sp.off], sp.n)
}

func (d *JSONDecoder) key(i int) string { return d.text(d.tape[i].key) }
func (d *JSONDecoder) val(i int) string { return d.text(d.tape[i].val) }

// literal words, as spans of this string (appended to the arena once per event)
const jWords = "truefalse"

// maxJSONDepth bounds nesting (deeper documents are malformed).
const maxJSONDepth = 300

type jsonError string

func (e jsonError) Error() string { return string(e) }

// Feed parses one JSON object and adds its fields to m (after m.Reset). When the caller already
// set a source with SetSource it is kept; otherwise the shape decides it.
func (d *JSONDecoder) Feed(m *Matcher, data []byte) error {
	if err := d.parse(data); err != nil {
		return socbot.E("sigma.JSONDecoder", socbot.KindInvalid, err)
	}
	if d.tape[0].kind != jObj {
		return socbot.FieldError("sigma.JSONDecoder", "", "event is not a JSON object")
	}
	prod, _, _ := m.Source()
	if ev := d.get(0, "Event"); ev >= 0 && d.tape[ev].kind == jObj && d.get(ev, "System") >= 0 {
		d.feedEVTX(m, ev, prod == "")
		return nil
	}
	if wl := d.get(0, "winlog"); wl >= 0 && d.tape[wl].kind == jObj {
		d.feedWinlog(m, wl, prod == "")
		return nil
	}
	if prod == "" {
		if et := d.get(0, "event_type"); et >= 0 && (d.get(0, "src_ip") >= 0 || d.get(0, "flow_id") >= 0) {
			m.SetSource("suricata", d.str(et), "")
		} else if p := d.get(0, "_path"); p >= 0 {
			m.SetSource("zeek", d.str(p), "")
		}
	}
	d.path = d.path[:0]
	d.flatten(m, 0, 0)
	for _, k := range []string{"@timestamp", "timestamp", "ts", "time", "eventTime", "EventTime", "TimeCreated"} {
		if tv := d.get(0, k); tv >= 0 {
			if t, ok := d.timeOf(tv); ok {
				m.SetTime(t)
				break
			}
		}
	}
	return nil
}

// get returns the tape index of the first member key of object o, or -1.
func (d *JSONDecoder) get(o int, key string) int {
	t := d.tape
	if o < 0 || t[o].kind != jObj {
		return -1
	}
	for i := o + 1; i < int(t[o].end); i = int(t[i].end) {
		if d.text(t[i].key) == key {
			return i
		}
	}
	return -1
}

// str returns a value as text: strings unescaped, other scalars as written, null as "",
// containers as compact JSON.
func (d *JSONDecoder) str(i int) string {
	t := &d.tape[i]
	switch t.kind {
	case jStr, jNum, jTrue, jFalse:
		return d.text(t.val)
	case jNull:
		return ""
	}
	start := len(d.arena)
	d.arena = d.marshal(d.arena, i)
	b := d.arena[start:]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// marshal appends the compact JSON of the value at i (strings and keys as written).
func (d *JSONDecoder) marshal(dst []byte, i int) []byte {
	t := &d.tape[i]
	switch t.kind {
	case jObj, jArr:
		open, close := byte('{'), byte('}')
		if t.kind == jArr {
			open, close = '[', ']'
		}
		dst = append(dst, open)
		for j := i + 1; j < int(t.end); j = int(d.tape[j].end) {
			if j > i+1 {
				dst = append(dst, ',')
			}
			if t.kind == jObj {
				dst = strconv.AppendQuote(dst, d.key(j))
				dst = append(dst, ':')
			}
			dst = d.marshal(dst, j)
		}
		return append(dst, close)
	case jStr:
		dst = append(dst, '"')
		dst = append(dst, d.text(t.raw)...)
		return append(dst, '"')
	case jNull:
		return append(dst, "null"...)
	}
	return append(dst, d.str(i)...)
}

// flatten adds every scalar under i with its dotted path.
func (d *JSONDecoder) flatten(m *Matcher, i, depth int) {
	if depth > 32 {
		return
	}
	t := d.tape
	switch t[i].kind {
	case jObj:
		base := len(d.path)
		for j := i + 1; j < int(t[i].end); j = int(t[j].end) {
			d.path = d.path[:base]
			if base > 0 {
				d.path = append(d.path, '.')
			}
			d.path = append(d.path, d.key(j)...)
			d.flatten(m, j, depth+1)
		}
		d.path = d.path[:base]
	case jArr:
		for j := i + 1; j < int(t[i].end); j = int(t[j].end) {
			d.flatten(m, j, depth+1)
		}
	case jNull:
	default:
		m.AddBytesName(d.path, d.val(i))
	}
}

// leaves adds every scalar under i by its own (innermost) name; Data elements named by a Name
// attribute take that name.
func (d *JSONDecoder) leaves(m *Matcher, name string, i, depth int) {
	if depth > 32 {
		return
	}
	t := d.tape
	switch t[i].kind {
	case jObj:
		if attrs := d.get(i, "#attributes"); attrs >= 0 {
			if n := d.get(attrs, "Name"); n >= 0 && t[n].kind == jStr {
				if tx := d.get(i, "#text"); tx >= 0 {
					d.leaves(m, d.val(n), tx, depth+1)
					return
				}
				if d.members(i) == 1 {
					return // <Data Name="x"/> with no content
				}
			}
		}
		for j := i + 1; j < int(t[i].end); j = int(t[j].end) {
			switch k := d.key(j); k {
			case "#attributes":
			case "#text":
				d.leaves(m, name, j, depth+1)
			default:
				d.leaves(m, k, j, depth+1)
			}
		}
	case jArr:
		for j := i + 1; j < int(t[i].end); j = int(t[j].end) {
			d.leaves(m, name, j, depth+1)
		}
	case jNull:
	default:
		d.addEventData(m, name, d.val(i))
	}
}

func (d *JSONDecoder) members(o int) int {
	n := 0
	for j := o + 1; j < int(d.tape[o].end); j = int(d.tape[j].end) {
		n++
	}
	return n
}

// addEventData adds an event-data field; names with spaces (Windows Defender's "Source Name") are
// also added without them, the form Sigma rules use.
func (d *JSONDecoder) addEventData(m *Matcher, name, v string) {
	m.Add(name, v)
	if strings.IndexByte(name, ' ') >= 0 {
		b := d.path[:0]
		for i := 0; i < len(name); i++ {
			if name[i] != ' ' {
				b = append(b, name[i])
			}
		}
		d.path = b
		m.AddBytesName(b, v)
	}
}

func (d *JSONDecoder) feedEVTX(m *Matcher, ev int, setSource bool) {
	t := d.tape
	sys := d.get(ev, "System")
	channel, eventID := "", ""
	if t[sys].kind == jObj {
		for j := sys + 1; j < int(t[sys].end); j = int(t[j].end) {
			k := d.key(j)
			switch t[j].kind {
			case jObj:
				if attrs := d.get(j, "#attributes"); attrs >= 0 && t[attrs].kind == jObj {
					for a := attrs + 1; a < int(t[attrs].end); a = int(t[a].end) {
						d.path = append(append(append(d.path[:0], k...), '_'), d.key(a)...)
						m.AddBytesName(d.path, d.str(a))
					}
				}
				if tx := d.get(j, "#text"); tx >= 0 {
					v := d.str(tx)
					m.Add(k, v)
					if k == "EventID" {
						eventID = v
					}
				} else if vv := d.get(j, "Value"); vv >= 0 && k == "EventID" {
					eventID = d.str(vv)
					m.Add(k, eventID)
				}
			case jNull:
			default:
				s := d.str(j)
				m.Add(k, s)
				switch k {
				case "Channel":
					channel = s
				case "EventID":
					eventID = s
				}
			}
		}
	}
	if tc := d.get(d.get(d.get(sys, "TimeCreated"), "#attributes"), "SystemTime"); tc >= 0 {
		if tm, ok := d.timeOf(tc); ok {
			m.SetTime(tm)
		}
	}
	if setSource {
		m.SetSource("windows", channel, eventID)
	}
	if ed := d.get(ev, "EventData"); ed >= 0 {
		d.leaves(m, "Data", ed, 0)
	}
	if ud := d.get(ev, "UserData"); ud >= 0 {
		d.leaves(m, "UserData", ud, 0)
	}
}

func (d *JSONDecoder) feedWinlog(m *Matcher, wl int, setSource bool) {
	channel, eventID := "", ""
	if c := d.get(wl, "channel"); c >= 0 {
		channel = d.str(c)
		m.Add("Channel", channel)
	}
	if c := d.get(wl, "event_id"); c >= 0 {
		eventID = d.str(c)
		m.Add("EventID", eventID)
	}
	if c := d.get(wl, "provider_name"); c >= 0 {
		m.Add("Provider_Name", d.str(c))
	}
	if c := d.get(wl, "computer_name"); c >= 0 {
		m.Add("Computer", d.str(c))
	}
	if setSource {
		m.SetSource("windows", channel, eventID)
	}
	if ed := d.get(wl, "event_data"); ed >= 0 {
		d.leaves(m, "event_data", ed, 0)
	}
	if ud := d.get(wl, "user_data"); ud >= 0 {
		d.leaves(m, "user_data", ud, 0)
	}
	t := d.tape
	for j := 1; j < int(t[0].end); j = int(t[j].end) {
		d.path = append(d.path[:0], d.key(j)...)
		d.flatten(m, j, 1)
	}
	if tv := d.get(0, "@timestamp"); tv >= 0 {
		if tm, ok := d.timeOf(tv); ok {
			m.SetTime(tm)
		}
	}
}

// timeOf reads a time value: RFC 3339 and the other ParseTime forms, or epoch seconds (or
// milliseconds) as a number.
func (d *JSONDecoder) timeOf(i int) (time.Time, bool) {
	t := &d.tape[i]
	switch t.kind {
	case jNum:
		txt := d.text(t.val)
		f, err := strconv.ParseFloat(txt, 64)
		if err != nil || txt[0] == '+' || !(f > 0 && f < maxEpoch*1000) {
			return time.Time{}, false
		}
		if f > 1e12 { // milliseconds
			f /= 1000
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	case jStr:
		return ParseTime(d.text(t.val))
	}
	return time.Time{}, false
}

// parse tokenizes data onto the tape.
func (d *JSONDecoder) parse(data []byte) error {
	d.tape = d.tape[:0]
	d.arena = append(d.arena[:0], jWords...)
	d.src = data
	if len(data) >= inArena/4 { // offsets into the event and the arena must fit in 31 bits
		return jsonError("event too large")
	}
	i := skipSpace(data, 0)
	if i >= len(data) {
		return jsonError("empty input")
	}
	i, err := d.value(data, i, span{}, 0)
	if err != nil {
		return err
	}
	if skipSpace(data, i) != len(data) {
		return jsonError("unexpected data after the value")
	}
	return nil
}

// value reads the value starting at data[i] (not space) as member key and returns the index past it.
func (d *JSONDecoder) value(data []byte, i int, key span, depth int) (int, error) {
	if depth >= maxJSONDepth {
		return i, jsonError("nested too deep")
	}
	c := data[i]
	switch c {
	case '"':
		val, raw, j, err := d.str2(data, i)
		if err != nil {
			return j, err
		}
		d.tape = append(d.tape, jtok{key: key, val: val, raw: raw, kind: jStr, end: int32(len(d.tape) + 1)})
		return j, nil
	case '{', '[':
	case 't':
		return d.literal(data, i, key, "true", jTrue, span{inArena, 4})
	case 'f':
		return d.literal(data, i, key, "false", jFalse, span{inArena | 4, 5})
	case 'n':
		if !(len(data)-i >= 4 && string(data[i:i+4]) == "null") && len(data)-i >= 3 && bytes.EqualFold(data[i:i+3], []byte("nan")) {
			d.tape = append(d.tape, jtok{key: key, val: span{uint32(i), 3}, kind: jNum, end: int32(len(d.tape) + 1)})
			return i + 3, nil
		}
		return d.literal(data, i, key, "null", jNull, span{})
	default:
		return d.number(data, i, key)
	}
	idx := len(d.tape)
	kind, close := jObj, byte('}')
	if c == '[' {
		kind, close = jArr, ']'
	}
	d.tape = append(d.tape, jtok{key: key, kind: kind})
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == close {
		d.tape[idx].end = int32(len(d.tape))
		return i + 1, nil
	}
	for {
		if i >= len(data) {
			return i, jsonError("unexpected end of input")
		}
		var k span
		if kind == jObj {
			if data[i] != '"' {
				return i, jsonError("object key is not a string")
			}
			var err error
			if k, _, i, err = d.str2(data, i); err != nil {
				return i, err
			}
			if i < len(data) && data[i] == ':' {
				i++
			} else {
				i = skipSpace(data, i)
				if i >= len(data) || data[i] != ':' {
					return i, jsonError("missing ':' after an object key")
				}
				i++
			}
			if i < len(data) && data[i] > ' ' {
			} else if i = skipSpace(data, i); i >= len(data) {
				return i, jsonError("unexpected end of input")
			}
		}
		if data[i] == '"' {
			// the common case, without a call: a string value
			val, raw, j, err := d.str2(data, i)
			if err != nil {
				return j, err
			}
			d.tape = append(d.tape, jtok{key: k, val: val, raw: raw, kind: jStr, end: int32(len(d.tape) + 1)})
			i = j
		} else {
			var err error
			if i, err = d.value(data, i, k, depth+1); err != nil {
				return i, err
			}
		}
		if i < len(data) && data[i] > ' ' {
		} else if i = skipSpace(data, i); i >= len(data) {
			return i, jsonError("unexpected end of input")
		}
		if data[i] == ',' {
			i++
			if i < len(data) && data[i] > ' ' {
			} else {
				i = skipSpace(data, i)
			}
			continue
		}
		if data[i] == close {
			d.tape[idx].end = int32(len(d.tape))
			return i + 1, nil
		}
		return i, jsonError("missing ',' between values")
	}
}

// number reads a number: digits and . - + e E (as fastjson reads them), or inf / nan.
func (d *JSONDecoder) number(data []byte, i int, key span) (int, error) {
	j := i
	for j < len(data) {
		c := data[j]
		if c >= '0' && c <= '9' || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+' {
			j++
			continue
		}
		break
	}
	if j == i || j == i+1 && (data[i] == '-' || data[i] == '+') {
		if len(data)-j >= 3 && (bytes.EqualFold(data[j:j+3], []byte("inf")) || bytes.EqualFold(data[j:j+3], []byte("nan"))) {
			j += 3
		} else {
			return i, jsonError("unexpected character")
		}
	}
	d.tape = append(d.tape, jtok{key: key, val: span{uint32(i), uint32(j - i)}, kind: jNum, end: int32(len(d.tape) + 1)})
	return j, nil
}

func (d *JSONDecoder) literal(data []byte, i int, key span, word string, kind jkind, val span) (int, error) {
	if len(data)-i < len(word) || string(data[i:i+len(word)]) != word {
		return i, jsonError("unexpected character")
	}
	d.tape = append(d.tape, jtok{key: key, kind: kind, val: val, end: int32(len(d.tape) + 1)})
	return i + len(word), nil
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// strStop marks the bytes that end the fast scan of a string.
var strStop = [256]bool{'"': true, '\\': true}

// str2 reads the string starting at data[i] == '"': its value (unescaped; in place when it has no
// escapes), its text as written, and the index past the closing quote. Escapes are decoded best
// effort: an unknown or broken one is kept as written.
func (d *JSONDecoder) str2(data []byte, i int) (span, span, int, error) {
	start := i + 1
	j := start
	// eight bytes at a time: the first '"' or '\\' in a word is found with bit tricks
	for ; j+8 <= len(data); j += 8 {
		w := binary.LittleEndian.Uint64(data[j:])
		q, b := w^(0x22*lsb8), w^(0x5C*lsb8)
		if m := ((q - lsb8) &^ q & msb8) | ((b - lsb8) &^ b & msb8); m != 0 {
			j += bits.TrailingZeros64(m) >> 3
			goto found
		}
	}
	for ; j < len(data) && !strStop[data[j]]; j++ {
	}
	if j >= len(data) {
		return span{}, span{}, len(data), jsonError("missing closing '\"'")
	}
found:
	if data[j] == '"' {
		sp := span{uint32(start), uint32(j - start)}
		return sp, sp, j + 1, nil
	}
	// an escape: find the real closing quote, then decode into the arena
	for {
		if j >= len(data) {
			return span{}, span{}, len(data), jsonError("missing closing '\"'")
		}
		c := data[j]
		if c == '\\' {
			j += 2
			continue
		}
		if c == '"' {
			break
		}
		j++
	}
	raw := span{uint32(start), uint32(j - start)}
	from := len(d.arena)
	d.arena = unescapeJSON(d.arena, unsafe.String(&data[start], j-start))
	return span{uint32(from) | inArena, uint32(len(d.arena) - from)}, raw, j + 1, nil
}

// unescapeJSON appends s with its JSON escapes decoded (best effort, as fastjson does: a broken
// escape is kept as written).
func unescapeJSON(b []byte, s string) []byte {
	for {
		n := strings.IndexByte(s, '\\')
		if n < 0 {
			return append(b, s...)
		}
		b = append(b, s[:n]...)
		s = s[n+1:]
		if len(s) == 0 {
			return append(b, '\\')
		}
		ch := s[0]
		s = s[1:]
		switch ch {
		case '"', '\\', '/':
			b = append(b, ch)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			x, ok := hex4(s)
			if !ok {
				b = append(b, "\\u"...)
				break
			}
			xs := s[:4]
			s = s[4:]
			if !utf16.IsSurrogate(rune(x)) {
				b = utf8.AppendRune(b, rune(x))
				break
			}
			if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
				b = append(append(b, "\\u"...), xs...)
				break
			}
			x1, ok := hex4(s[2:])
			if !ok {
				b = append(append(b, "\\u"...), xs...)
				break
			}
			b = utf8.AppendRune(b, utf16.DecodeRune(rune(x), rune(x1)))
			s = s[6:]
		default:
			b = append(b, '\\', ch)
		}
	}
}

// hex4 reads 4 hex digits.
func hex4(s string) (uint32, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var x uint32
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		x = x<<4 | uint32(c)
	}
	return x, true
}

// maxEpoch bounds epoch times (seconds; the year 9999): larger numbers, infinities and NaN are not
// times.
const maxEpoch = 253402300800

// ParseTime reads the timestamp formats found in logs: RFC 3339 (with or without zone), the
// space-separated Sysmon form and epoch seconds.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, f := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC(), true
		}
	}
	if f, ok := parseNum(s); ok && f > 0 && f < maxEpoch {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	return time.Time{}, false
}

// SplitJSON calls fn for every top-level JSON value in data: JSON Lines, a JSON array of objects,
// or pretty-printed objects simply concatenated. It stops at the first error fn returns; bytes that
// are not JSON between values are skipped and reported through bad.
func SplitJSON(data []byte, fn func([]byte) error, bad func(offset int, junk []byte)) error {
	i := 0
	// a top-level array is unwrapped
	j := skipSpace(data, 0)
	if j < len(data) && data[j] == '[' {
		i = j + 1
	}
	for i < len(data) {
		i = skipSpace(data, i)
		if i >= len(data) {
			break
		}
		c := data[i]
		if c == ',' || c == ']' {
			i++
			continue
		}
		if c != '{' {
			end := i
			for end < len(data) && data[end] != '\n' {
				end++
			}
			if bad != nil {
				bad(i, data[i:end])
			}
			i = end
			continue
		}
		end, ok := objectEnd(data, i)
		if !ok {
			if bad != nil {
				bad(i, data[i:])
			}
			return nil
		}
		if err := fn(data[i:end]); err != nil {
			return err
		}
		i = end
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// objectEnd returns the index just past the JSON object starting at b[i] == '{'.
func objectEnd(b []byte, i int) (int, bool) {
	depth := 0
	inStr := false
	for ; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}
