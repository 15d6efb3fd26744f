package sigma

import (
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

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
//   - Zeek JSON (_path, or ts with id.orig_h): product zeek, channel _path.
//
// A JSONDecoder is not safe for concurrent use; values stay valid until the next Feed.
type JSONDecoder struct {
	p     fastjson.Parser
	path  []byte
	arena []byte
}

// Feed parses one JSON object and adds its fields to m (after m.Reset). When the caller already
// set a source with SetSource it is kept; otherwise the shape decides it.
func (d *JSONDecoder) Feed(m *Matcher, data []byte) error {
	v, err := d.p.ParseBytes(data)
	if err != nil {
		return socbot.E("sigma.JSONDecoder", socbot.KindInvalid, err)
	}
	o, err := v.Object()
	if err != nil {
		return socbot.FieldError("sigma.JSONDecoder", "", "event is not a JSON object")
	}
	d.arena = d.arena[:0]
	prod, _, _ := m.Source()
	if ev := o.Get("Event"); ev != nil && ev.Type() == fastjson.TypeObject && ev.Get("System") != nil {
		d.feedEVTX(m, ev, prod == "")
		return nil
	}
	if wl := o.Get("winlog"); wl != nil && wl.Type() == fastjson.TypeObject {
		d.feedWinlog(m, o, wl, prod == "")
		return nil
	}
	if prod == "" {
		switch {
		case o.Get("event_type") != nil && (o.Get("src_ip") != nil || o.Get("flow_id") != nil):
			m.SetSource("suricata", d.str(o.Get("event_type")), "")
		case o.Get("_path") != nil:
			m.SetSource("zeek", d.str(o.Get("_path")), "")
		}
	}
	d.path = d.path[:0]
	d.flatten(m, v, 0)
	for _, k := range []string{"@timestamp", "timestamp", "ts", "time", "eventTime", "EventTime", "TimeCreated"} {
		if tv := o.Get(k); tv != nil {
			if t, ok := parseTimeValue(tv); ok {
				m.SetTime(t)
				break
			}
		}
	}
	return nil
}

// str returns a value as text without allocating: strings unescaped in the parser's buffer, other
// scalars as their JSON text in the decoder's arena.
func (d *JSONDecoder) str(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		b := v.GetStringBytes()
		return unsafe.String(unsafe.SliceData(b), len(b))
	case fastjson.TypeNull:
		return ""
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	}
	start := len(d.arena)
	d.arena = v.MarshalTo(d.arena)
	b := d.arena[start:]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (d *JSONDecoder) flatten(m *Matcher, v *fastjson.Value, depth int) {
	if depth > 32 {
		return
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		base := len(d.path)
		o.Visit(func(k []byte, c *fastjson.Value) {
			d.path = d.path[:base]
			if base > 0 {
				d.path = append(d.path, '.')
			}
			d.path = append(d.path, k...)
			d.flatten(m, c, depth+1)
		})
		d.path = d.path[:base]
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, c := range a {
			d.flatten(m, c, depth+1)
		}
	case fastjson.TypeNull:
	default:
		m.AddBytesName(d.path, d.str(v))
	}
}

// leaves adds every scalar under v by its own (innermost) name; Data elements named by a Name
// attribute take that name.
func (d *JSONDecoder) leaves(m *Matcher, name []byte, v *fastjson.Value, depth int) {
	if depth > 32 {
		return
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		if attrs := o.Get("#attributes"); attrs != nil {
			if n := attrs.GetStringBytes("Name"); n != nil {
				if t := o.Get("#text"); t != nil {
					d.leaves(m, n, t, depth+1)
					return
				}
				if o.Len() == 1 {
					return // <Data Name="x"/> with no content
				}
			}
		}
		o.Visit(func(k []byte, c *fastjson.Value) {
			if string(k) == "#attributes" {
				return
			}
			if string(k) == "#text" {
				d.leaves(m, name, c, depth+1)
				return
			}
			d.leaves(m, k, c, depth+1)
		})
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, c := range a {
			d.leaves(m, name, c, depth+1)
		}
	case fastjson.TypeNull:
	default:
		addEventData(m, name, d.str(v), &d.path)
	}
}

// addEventData adds an event-data field; names with spaces (Windows Defender's "Source Name") are
// also added without them, the form Sigma rules use.
func addEventData(m *Matcher, name []byte, v string, scratch *[]byte) {
	m.AddBytesName(name, v)
	if bytesHasSpace(name) {
		b := (*scratch)[:0]
		for _, c := range name {
			if c != ' ' {
				b = append(b, c)
			}
		}
		*scratch = b
		m.AddBytesName(b, v)
	}
}

func bytesHasSpace(b []byte) bool {
	for _, c := range b {
		if c == ' ' {
			return true
		}
	}
	return false
}

func (d *JSONDecoder) feedEVTX(m *Matcher, ev *fastjson.Value, setSource bool) {
	sys := ev.Get("System")
	so, _ := sys.Object()
	channel, eventID := "", ""
	so.Visit(func(k []byte, c *fastjson.Value) {
		switch c.Type() {
		case fastjson.TypeObject:
			co, _ := c.Object()
			if attrs := co.Get("#attributes"); attrs != nil {
				ao, _ := attrs.Object()
				ao.Visit(func(ak []byte, av *fastjson.Value) {
					d.path = append(append(append(d.path[:0], k...), '_'), ak...)
					m.AddBytesName(d.path, d.str(av))
				})
			}
			if t := co.Get("#text"); t != nil {
				m.AddBytesName(k, d.str(t))
				if string(k) == "EventID" {
					eventID = d.str(t)
				}
			} else if t := co.Get("Value"); t != nil && string(k) == "EventID" {
				eventID = d.str(t)
				m.AddBytesName(k, eventID)
			}
		case fastjson.TypeNull:
		default:
			s := d.str(c)
			m.AddBytesName(k, s)
			switch string(k) {
			case "Channel":
				channel = s
			case "EventID":
				eventID = s
			}
		}
	})
	if tc := sys.Get("TimeCreated", "#attributes", "SystemTime"); tc != nil {
		if t, ok := parseTimeValue(tc); ok {
			m.SetTime(t)
		}
	}
	if setSource {
		m.SetSource("windows", channel, eventID)
	}
	if ed := ev.Get("EventData"); ed != nil {
		d.leaves(m, []byte("Data"), ed, 0)
	}
	if ud := ev.Get("UserData"); ud != nil {
		d.leaves(m, []byte("UserData"), ud, 0)
	}
}

func (d *JSONDecoder) feedWinlog(m *Matcher, o *fastjson.Object, wl *fastjson.Value, setSource bool) {
	channel, eventID := "", ""
	if c := wl.Get("channel"); c != nil {
		channel = d.str(c)
		m.Add("Channel", channel)
	}
	if c := wl.Get("event_id"); c != nil {
		eventID = d.str(c)
		m.Add("EventID", eventID)
	}
	if c := wl.Get("provider_name"); c != nil {
		m.Add("Provider_Name", d.str(c))
	}
	if c := wl.Get("computer_name"); c != nil {
		m.Add("Computer", d.str(c))
	}
	if setSource {
		m.SetSource("windows", channel, eventID)
	}
	if ed := wl.Get("event_data"); ed != nil {
		d.leaves(m, []byte("event_data"), ed, 0)
	}
	if ud := wl.Get("user_data"); ud != nil {
		d.leaves(m, []byte("user_data"), ud, 0)
	}
	o.Visit(func(k []byte, c *fastjson.Value) {
		d.path = append(d.path[:0], k...)
		d.flatten(m, c, 1)
	})
	if tv := o.Get("@timestamp"); tv != nil {
		if t, ok := parseTimeValue(tv); ok {
			m.SetTime(t)
		}
	}
}

// parseTimeValue reads RFC 3339 strings, "2006-01-02 15:04:05.000" and epoch seconds.
func parseTimeValue(v *fastjson.Value) (time.Time, bool) {
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil || f <= 0 {
			return time.Time{}, false
		}
		if f > 1e12 { // milliseconds
			f /= 1000
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	case fastjson.TypeString:
		return ParseTime(string(v.GetStringBytes()))
	}
	return time.Time{}, false
}

// ParseTime reads the timestamp formats found in logs: RFC 3339 (with or without zone), the
// space-separated Sysmon form and epoch seconds.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, f := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC(), true
		}
	}
	if f, ok := parseNum(s); ok && f > 0 {
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
