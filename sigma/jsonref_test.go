package sigma

// The JSON event decoder as it was before its own tokenizer: fastjson's parser and the same
// flattening rules. TestJSONDecoderMatchesReference and FuzzJSONDecoderMatchesReference hold the
// tokenizer to it.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/evtx"
)

// refDecoder flattens JSON log events into a Matcher. It recognises the shapes whose field names
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
// A refDecoder is not safe for concurrent use; values stay valid until the next Feed.
type refDecoder struct {
	record func(name, value string)
	p      fastjson.Parser
	path   []byte
	arena  []byte
}

// Feed parses one JSON object and adds its fields to m (after m.Reset). When the caller already
// set a source with SetSource it is kept; otherwise the shape decides it.
func (d *refDecoder) Feed(m *Matcher, data []byte) error {
	v, err := d.p.ParseBytes(data)
	if err != nil {
		return socbot.E("sigma.refDecoder", socbot.KindInvalid, err)
	}
	o, err := v.Object()
	if err != nil {
		return socbot.FieldError("sigma.refDecoder", "", "event is not a JSON object")
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
			if t, ok := refParseTimeValue(tv); ok {
				m.SetTime(t)
				break
			}
		}
	}
	return nil
}

// str returns a value as text without allocating: strings unescaped in the parser's buffer, other
// scalars as their JSON text in the decoder's arena.
func (d *refDecoder) str(v *fastjson.Value) string {
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

func (d *refDecoder) flatten(m *Matcher, v *fastjson.Value, depth int) {
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
		d.addB(m, d.path, d.str(v))
	}
}

// leaves adds every scalar under v by its own (innermost) name; Data elements named by a Name
// attribute take that name.
func (d *refDecoder) leaves(m *Matcher, name []byte, v *fastjson.Value, depth int) {
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
		d.refAddEventData(m, name, d.str(v), &d.path)
	}
}

// addEventData adds an event-data field; names with spaces (Windows Defender's "Source Name") are
// also added without them, the form Sigma rules use.
func (d *refDecoder) refAddEventData(m *Matcher, name []byte, v string, scratch *[]byte) {
	d.addB(m, name, v)
	if refBytesHasSpace(name) {
		b := (*scratch)[:0]
		for _, c := range name {
			if c != ' ' {
				b = append(b, c)
			}
		}
		*scratch = b
		d.addB(m, b, v)
	}
}

func refBytesHasSpace(b []byte) bool {
	for _, c := range b {
		if c == ' ' {
			return true
		}
	}
	return false
}

func (d *refDecoder) feedEVTX(m *Matcher, ev *fastjson.Value, setSource bool) {
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
					d.addB(m, d.path, d.str(av))
				})
			}
			if t := co.Get("#text"); t != nil {
				d.addB(m, k, d.str(t))
				if string(k) == "EventID" {
					eventID = d.str(t)
				}
			} else if t := co.Get("Value"); t != nil && string(k) == "EventID" {
				eventID = d.str(t)
				d.addB(m, k, eventID)
			}
		case fastjson.TypeNull:
		default:
			s := d.str(c)
			d.addB(m, k, s)
			switch string(k) {
			case "Channel":
				channel = s
			case "EventID":
				eventID = s
			}
		}
	})
	if tc := sys.Get("TimeCreated", "#attributes", "SystemTime"); tc != nil {
		if t, ok := refParseTimeValue(tc); ok {
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

func (d *refDecoder) feedWinlog(m *Matcher, o *fastjson.Object, wl *fastjson.Value, setSource bool) {
	channel, eventID := "", ""
	if c := wl.Get("channel"); c != nil {
		channel = d.str(c)
		d.add(m, "Channel", channel)
	}
	if c := wl.Get("event_id"); c != nil {
		eventID = d.str(c)
		d.add(m, "EventID", eventID)
	}
	if c := wl.Get("provider_name"); c != nil {
		d.add(m, "Provider_Name", d.str(c))
	}
	if c := wl.Get("computer_name"); c != nil {
		d.add(m, "Computer", d.str(c))
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
		if t, ok := refParseTimeValue(tv); ok {
			m.SetTime(t)
		}
	}
}

// refParseTimeValue reads RFC 3339 strings, "2006-01-02 15:04:05.000" and epoch seconds.
func refParseTimeValue(v *fastjson.Value) (time.Time, bool) {
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

func (d *refDecoder) add(m *Matcher, name, value string) {
	d.record(name, value)
	m.Add(name, value)
}

func (d *refDecoder) addB(m *Matcher, name []byte, value string) { d.add(m, string(name), value) }

type decoded struct {
	err                 bool
	product, ch, id     string
	time                time.Time
	names, values, skip []string
}

// decodeBoth runs the reference and the tokenizer over one event and returns what each added.
func decodeBoth(data []byte) (ref, got decoded) {
	var rd refDecoder
	rd.record = func(n, v string) {
		ref.names = append(ref.names, n)
		ref.values = append(ref.values, strings.Clone(v))
	}
	// an engine that keeps every name the reference adds; other names are kept as keyword values
	e := &Engine{fields: map[string]int32{}, hasKeywords: true}
	rm := e.NewMatcher()
	rm.Reset()
	ref.err = rd.Feed(rm, data) != nil
	for _, n := range ref.names {
		e.fid(n)
	}
	m := e.NewMatcher()
	m.Reset()
	var d JSONDecoder
	got.err = d.Feed(m, data) != nil
	for i, v := range m.vals {
		n := "<unknown name>"
		if f := m.fids[i]; f >= 0 {
			n = e.fieldNames[f]
		}
		got.names = append(got.names, n)
		got.values = append(got.values, v)
	}
	ref.product, ref.ch, ref.id = rm.Source()
	got.product, got.ch, got.id = m.Source()
	ref.time, got.time = rm.Time(), m.Time()
	return ref, got
}

// compareDecoded reports the first difference. A container where a scalar is expected is rendered
// as JSON text by both, not necessarily byte for byte the same: such values are not compared.
func compareDecoded(ref, got decoded) string {
	if ref.err != got.err {
		return fmt.Sprintf("error: reference %v, tokenizer %v", ref.err, got.err)
	}
	if ref.err {
		return ""
	}
	if len(ref.names) != len(got.names) {
		return fmt.Sprintf("%d fields, reference %d:\n%q\n%q", len(got.names), len(ref.names), got.names, ref.names)
	}
	for i := range ref.names {
		container := strings.HasPrefix(ref.values[i], "{") || strings.HasPrefix(ref.values[i], "[")
		if ref.names[i] != got.names[i] || (!container && ref.values[i] != got.values[i]) {
			return fmt.Sprintf("field %d: %q=%q, reference %q=%q", i, got.names[i], got.values[i], ref.names[i], ref.values[i])
		}
	}
	// the reference took NaN, infinities and huge numbers for epoch times; the tokenizer does not
	if ref.time.Year() > 9999 && got.time.IsZero() {
		ref.time = got.time
	}
	if ref.product != got.product || ref.ch != got.ch || ref.id != got.id || !ref.time.Equal(got.time) {
		return fmt.Sprintf("source/time %s/%s/%s %v, reference %s/%s/%s %v", got.product, got.ch, got.id, got.time, ref.product, ref.ch, ref.id, ref.time)
	}
	return ""
}

var jsonDecoderSeeds = []string{
	`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"C:\\x.exe","Data":[{"#attributes":{"Name":"A"},"#text":"b"}]}}}`,
	`{"Event":{"System":{"Provider":{"#attributes":{"Name":"X","Guid":"{1}"}},"EventID":{"#attributes":{"Qualifiers":"0"},"#text":"4688"},"TimeCreated":{"#attributes":{"SystemTime":"2024-01-01T00:00:00.5Z"}},"Channel":"Security","Security":null},"EventData":{"Data":[{"#attributes":{"Name":"Source Name"},"#text":"a\u00e9\ud83d\ude00"},{"#attributes":{"Name":"Empty"}}]},"UserData":{"LogFileCleared":{"SubjectUserName":"bob","#attributes":{"xmlns":"x"}}}}}`,
	`{"winlog":{"channel":"Security","event_id":4688,"provider_name":"p","computer_name":"c","event_data":{"NewProcessName":"x","Arr":[1,true,null,"s"]},"user_data":{"k":"v"}},"@timestamp":"2024-01-01T00:00:00Z","host":{"name":"h"}}`,
	`{"timestamp":"2017-01-30T16:12:26.985026+0100","flow_id":1,"event_type":"dns","src_ip":"1.2.3.4","dns":{"rrname":"evil.example","answers":[{"rdata":"1.1.1.1"},{"rdata":"2.2.2.2"}]}}`,
	`{"_path":"conn","ts":1700000000.25,"id.orig_h":"10.0.0.1","id":{"resp_h":"10.0.0.2"},"n":-1.5e3,"esc":"a\"b\\c\/d\n\t\u0041\u12","bad":"\x","big":1e400}`,
	`{"a":{"b":{"c":[[1,2],[3,{"d":"e"}]]}},"time":1700000000123,"nan":NaN,"inf":-Inf}`,
	`{"eventTime":"2024-03-09 08:01:02.5","message":"m","E":{"System":{}}}`,
	`{"Event":{"System":{"EventID":{"Value":7},"Channel":["a","b"],"Weird":{"x":1}},"EventData":"scalar"}}`,
	`[1,2]`, `{"a":1} x`, `{"a":}`, `{"a":1,}`, `{`, `"s"`, `{"a":nul}`, `{"a":[1,]}`, ` {"a" : 1 } `, `{"k\"ey":"v","k\u0041":1}`,
}

// TestJSONDecoderMatchesReference holds the tokenizer to the fastjson-based decoder on the corpus
// events (regression samples and every EVTX record rendered by evtx_dump rules) and on odd inputs.
func TestJSONDecoderMatchesReference(t *testing.T) {
	inputs := append([]string(nil), jsonDecoderSeeds...)
	if c := corpusDirOrEmpty(); c != "" {
		for _, ev := range corpusEvents(t, c) {
			inputs = append(inputs, string(ev))
		}
		inputs = append(inputs, corpusEVTXAsJSON(c)...)
	}
	for _, in := range inputs {
		ref, got := decodeBoth([]byte(in))
		if diff := compareDecoded(ref, got); diff != "" {
			t.Errorf("%s\n  in %.300s", diff, in)
		}
	}
	t.Logf("%d events compared", len(inputs))
}

func FuzzJSONDecoderMatchesReference(f *testing.F) {
	for _, s := range jsonDecoderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, got := decodeBoth(data)
		if diff := compareDecoded(ref, got); diff != "" {
			t.Errorf("%s\n  in %q", diff, data)
		}
	})
}

// corpusDirOrEmpty is corpusDir without the skip.
func corpusDirOrEmpty() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus", "detection")
	if _, err := os.Stat(filepath.Join(c, "sigma", "rules")); err != nil {
		return ""
	}
	return c
}

// corpusEVTXAsJSON renders every corpus EVTX record in the evtx_dump shape.
func corpusEVTXAsJSON(c string) []string {
	var out []string
	rd := &evtx.Reader{}
	filepath.WalkDir(c, func(p string, de os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".evtx") {
			return nil
		}
		b, _ := os.ReadFile(p)
		if rd.ResetBytes(b) != nil {
			return nil
		}
		rd.Records(func(r *evtx.Record) error {
			var sys, data []string
			for _, f := range r.Fields {
				kv := strconv.Quote(f.Name) + ":" + strconv.Quote(f.Value)
				if f.Section == evtx.SectionSystem {
					sys = append(sys, kv)
				} else {
					data = append(data, kv)
				}
			}
			out = append(out, `{"Event":{"System":{`+strings.Join(sys, ",")+`},"EventData":{`+strings.Join(data, ",")+`}}}`)
			return nil
		})
		return nil
	})
	return out
}
