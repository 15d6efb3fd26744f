package sigma

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// ruleWith builds a generic-bucket rule from a detection block.
func ruleWith(detection string) string {
	return "title: t\nid: test-rule\nauthor: tester\nlevel: high\nlogsource:\n    product: testproduct\ndetection:\n" + detection
}

func matches(t *testing.T, detection string, event map[string][]string) bool {
	t.Helper()
	r, err := ParseRule([]byte(ruleWith(detection)))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	e, errs := NewEngine([]*Rule{r}, Options{})
	if len(errs) > 0 {
		t.Fatalf("compile: %v", errs[0].Err)
	}
	m := e.NewMatcher()
	m.Reset()
	for k, vs := range event {
		for _, v := range vs {
			m.Add(k, v)
		}
	}
	return len(m.Match()) == 1
}

func ev(kv ...string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = append(out[kv[i]], kv[i+1])
	}
	return out
}

func TestModifiers(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	utf16le := func(s string) string {
		var b []byte
		for _, c := range s {
			b = append(b, byte(c), 0)
		}
		return string(b)
	}
	tests := []struct {
		name, det string
		event     map[string][]string
		want      bool
	}{
		{"exact case-insensitive", "  s:\n    F: 'Hello'\n  condition: s", ev("F", "hELLO"), true},
		{"exact needs whole value", "  s:\n    F: 'Hello'\n  condition: s", ev("F", "Hello world"), false},
		{"contains", "  s:\n    F|contains: 'lo Wo'\n  condition: s", ev("F", "hello world"), true},
		{"startswith", "  s:\n    F|startswith: 'hel'\n  condition: s", ev("F", "Hello"), true},
		{"startswith no", "  s:\n    F|startswith: 'ell'\n  condition: s", ev("F", "Hello"), false},
		{"endswith", "  s:\n    F|endswith: '\\cmd.exe'\n  condition: s", ev("F", `C:\Windows\CMD.EXE`), true},
		{"endswith no", "  s:\n    F|endswith: '\\cmd.exe'\n  condition: s", ev("F", `C:\Windows\cmd.exe2`), false},
		{"list is OR", "  s:\n    F:\n      - a\n      - b\n  condition: s", ev("F", "b"), true},
		{"all", "  s:\n    F|contains|all:\n      - a\n      - b\n  condition: s", ev("F", "xaxb"), true},
		{"all missing one", "  s:\n    F|contains|all:\n      - a\n      - b\n  condition: s", ev("F", "xax"), false},
		{"map is AND", "  s:\n    F: a\n    G: b\n  condition: s", ev("F", "a", "G", "c"), false},
		{"list of maps is OR", "  s:\n    - F: a\n    - G: b\n  condition: s", ev("G", "b"), true},
		{"wildcard star", "  s:\n    F: 'a*c'\n  condition: s", ev("F", "abbbc"), true},
		{"wildcard question", "  s:\n    F: 'a?c'\n  condition: s", ev("F", "abc"), true},
		{"wildcard question one char", "  s:\n    F: 'a?c'\n  condition: s", ev("F", "abbc"), false},
		{"escaped star is literal", "  s:\n    F: 'a\\*c'\n  condition: s", ev("F", "abc"), false},
		{"escaped star matches star", "  s:\n    F: 'a\\*c'\n  condition: s", ev("F", "a*c"), true},
		{"contains with inner wildcard", "  s:\n    F|contains: 'a*c'\n  condition: s", ev("F", "xxabbcxx"), true},
		{"cased", "  s:\n    F|cased: 'Hello'\n  condition: s", ev("F", "hello"), false},
		{"cased ok", "  s:\n    F|contains|cased: 'ell'\n  condition: s", ev("F", "Hello"), true},
		{"re", "  s:\n    F|re: '^a[0-9]+z$'\n  condition: s", ev("F", "a123z"), true},
		{"re is case-sensitive", "  s:\n    F|re: '^abc$'\n  condition: s", ev("F", "ABC"), false},
		{"re i", "  s:\n    F|re|i: '^abc$'\n  condition: s", ev("F", "ABC"), true},
		{"re m", "  s:\n    F|re|m: '^b$'\n  condition: s", ev("F", "a\nb"), true},
		{"re s", "  s:\n    F|re|s: 'a.b'\n  condition: s", ev("F", "a\nb"), true},
		{"re run only", "  s:\n    F|re: '[0-9a-f]{8,}'\n  condition: s", ev("F", "x deadbeef1 y"), true},
		{"re run only short", "  s:\n    F|re: '[0-9a-f]{8,}'\n  condition: s", ev("F", "x deadbee y"), false},
		{"re run only case", "  s:\n    F|re: '[0-9a-f]{8,}'\n  condition: s", ev("F", "DEADBEEF1"), false},
		{"re any run", "  s:\n    F|re: '.{5,}'\n  condition: s", ev("F", "ab\ncd"), false},
		{"re any run yes", "  s:\n    F|re: '.{5,}'\n  condition: s", ev("F", "ab\ncdefg"), true},
		{"re any run runes", "  s:\n    F|re: '.{5,}'\n  condition: s", ev("F", "ééééx"), true},
		{"re any run runes short", "  s:\n    F|re: '.{5,}'\n  condition: s", ev("F", "éééé"), false},
		{"re repeated literal", "  s:\n    F|re: '\\+.*\\+.*\\+'\n  condition: s", ev("F", "a+b+c+"), true},
		{"re repeated literal short", "  s:\n    F|re: '\\+.*\\+.*\\+'\n  condition: s", ev("F", "a+b+c"), false},
		{"windash slash", "  s:\n    F|contains|windash: ' -enc '\n  condition: s", ev("F", "powershell /enc x"), true},
		{"windash en dash", "  s:\n    F|contains|windash: ' -enc '\n  condition: s", ev("F", "powershell \u2013enc x"), true},
		{"cidr v4", "  s:\n    F|cidr: 10.0.0.0/8\n  condition: s", ev("F", "10.1.2.3"), true},
		{"cidr v4 no", "  s:\n    F|cidr: 10.0.0.0/8\n  condition: s", ev("F", "11.1.2.3"), false},
		{"cidr v6", "  s:\n    F|cidr: 'fe80::/10'\n  condition: s", ev("F", "fe80::1"), true},
		{"base64", "  s:\n    F|base64: 'secret'\n  condition: s", ev("F", b64("secret")), true},
		{"base64 contains", "  s:\n    F|base64|contains: 'secret'\n  condition: s", ev("F", "xx"+b64("secret")+"yy"), true},
		{"base64offset 0", "  s:\n    F|base64offset|contains: 'Invoke'\n  condition: s", ev("F", b64("Invoke-Mimikatz")), true},
		{"base64offset 1", "  s:\n    F|base64offset|contains: 'Invoke'\n  condition: s", ev("F", b64("xInvoke-Mimikatz")), true},
		{"base64offset 2", "  s:\n    F|base64offset|contains: 'Invoke'\n  condition: s", ev("F", b64("xyInvoke-Mimikatz")), true},
		{"wide base64offset", "  s:\n    F|wide|base64offset|contains: 'ping'\n  condition: s", ev("F", b64(utf16le("a ping b"))), true},
		{"utf16le", "  s:\n    F|utf16le|base64: 'ab'\n  condition: s", ev("F", b64(utf16le("ab"))), true},
		{"utf16be", "  s:\n    F|utf16be|base64: 'ab'\n  condition: s", ev("F", b64("\x00a\x00b")), true},
		{"utf16 bom", "  s:\n    F|utf16|base64: 'ab'\n  condition: s", ev("F", b64("\xff\xfea\x00b\x00")), true},
		{"exists true", "  s:\n    F|exists: true\n  condition: s", ev("F", ""), true},
		{"exists false", "  s:\n    F|exists: false\n  condition: s", ev("G", "x"), true},
		{"exists false present", "  s:\n    F|exists: false\n  condition: s", ev("F", "x"), false},
		{"null missing", "  s:\n    F: null\n  condition: s", ev("G", "x"), true},
		{"null empty", "  s:\n    F: null\n  condition: s", ev("F", ""), true},
		{"null present", "  s:\n    F: null\n  condition: s", ev("F", "x"), false},
		{"empty string", "  s:\n    F: ''\n  condition: s", ev("F", ""), true},
		{"empty string not x", "  s:\n    F: ''\n  condition: s", ev("F", "x"), false},
		{"number", "  s:\n    EventID: 4688\n  condition: s", ev("EventID", "4688"), true},
		{"bool", "  s:\n    F: true\n  condition: s", ev("F", "True"), true},
		{"lt", "  s:\n    F|lt: 10\n  condition: s", ev("F", "9"), true},
		{"lte", "  s:\n    F|lte: 10\n  condition: s", ev("F", "10"), true},
		{"gt no", "  s:\n    F|gt: 10\n  condition: s", ev("F", "10"), false},
		{"gte hex", "  s:\n    F|gte: 16\n  condition: s", ev("F", "0x10"), true},
		{"neq", "  s:\n    F|neq: a\n  condition: s", ev("F", "b"), true},
		{"neq same", "  s:\n    F|neq: a\n  condition: s", ev("F", "A"), false},
		{"fieldref", "  s:\n    F|fieldref: G\n  condition: s", ev("F", "Same", "G", "same"), true},
		{"fieldref differs", "  s:\n    F|fieldref: G\n  condition: s", ev("F", "x", "G", "y"), false},
		{"expand unknown is wildcard", "  s:\n    F|expand: '%unknown%\\x'\n  condition: s", ev("F", `abc\x`), true},
		{"keywords", "  k:\n    - 'evil'\n  condition: k", ev("A", "x", "B", "very EVIL thing"), true},
		{"keywords all", "  k:\n    '|all':\n      - 'a1'\n      - 'b2'\n  condition: k", ev("A", "a1", "B", "b2"), true},
		{"keywords all missing", "  k:\n    '|all':\n      - 'a1'\n      - 'b2'\n  condition: k", ev("A", "a1"), false},
		{"multi-valued field", "  s:\n    F: b\n  condition: s", ev("F", "a", "F", "b"), true},
		{"unicode fold limits to ascii", "  s:\n    F: 'ÄBC'\n  condition: s", ev("F", "Äbc"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := matches(t, tc.det, tc.event); got != tc.want {
				t.Errorf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestModifierErrors(t *testing.T) {
	for _, det := range []string{
		"  s:\n    F|nosuch: a\n  condition: s",
		"  s:\n    F|re: '(?<=x)a'\n  condition: s",
		"  s:\n    F|cidr: 'not-a-net'\n  condition: s",
		"  s:\n    F|lt: abc\n  condition: s",
		"  s:\n    F|exists: maybe\n  condition: s",
		"  s:\n    F|contains|startswith: a\n  condition: s",
		"  s:\n    F: a\n  condition: s and missing",
		"  s:\n    F: a\n  condition: 1 of nothing*",
		"  s:\n    F: a\n  condition: s | count() > 5",
	} {
		r, err := ParseRule([]byte(ruleWith(det)))
		if err != nil {
			continue
		}
		if _, errs := NewEngine([]*Rule{r}, Options{}); len(errs) != 1 {
			t.Errorf("no compile error for %q", det)
		}
	}
}

func TestConditions(t *testing.T) {
	det := "  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  filter_c:\n    C: 1\n  _private:\n    D: 1\n"
	tests := []struct {
		cond  string
		event map[string][]string
		want  bool
	}{
		{"sel_a", ev("A", "1"), true},
		{"sel_a and sel_b", ev("A", "1"), false},
		{"sel_a or sel_b", ev("B", "1"), true},
		{"not sel_a", ev("B", "1"), true},
		{"sel_a and not filter_c", ev("A", "1", "C", "1"), false},
		{"1 of sel_*", ev("B", "1"), true},
		{"all of sel_*", ev("B", "1"), false},
		{"all of sel_*", ev("A", "1", "B", "1"), true},
		{"1 of sel_* and not 1 of filter_*", ev("A", "1", "C", "1"), false},
		{"(sel_a or sel_b) and not filter_c", ev("B", "1"), true},
		{"sel_a and (sel_b or (filter_c and not sel_b))", ev("A", "1", "C", "1"), true},
		{"1 of them", ev("C", "1"), true},
		{"1 of them", ev("D", "1"), false}, // identifiers starting with _ are not in 'them'
		{"all of them", ev("A", "1", "B", "1", "C", "1"), true},
		{"2 of sel_*", ev("A", "1"), false},
		{"2 of sel_*", ev("A", "1", "B", "1"), true},
		{"any of sel_*", ev("A", "1"), true},
		{"not not sel_a", ev("A", "1"), true},
		{"sel_a AND NOT filter_c", ev("A", "1"), true},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			if got := matches(t, det+"  condition: "+tc.cond+"\n", tc.event); got != tc.want {
				t.Errorf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestParseCondition(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a and b or c", "((a and b) or c)"},
		{"a or b and c", "(a or (b and c))"},
		{"not a and b", "(not a and b)"},
		{"a and not (b or c)", "(a and not (b or c))"},
		{"1 of sel* and all of them", "(1 of sel* and all of them)"},
	}
	for _, tc := range tests {
		c, err := ParseCondition(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := CondString(c); got != tc.want {
			t.Errorf("%q: got %s want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "a and", "(a", "a)", "of x", "1 of", "a b", "a & b", "all", strings.Repeat("(", 500) + "a" + strings.Repeat(")", 500)} {
		if _, err := ParseCondition(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestLogsourceBuckets(t *testing.T) {
	rules := `title: sysmon proc
id: r1
logsource: {product: windows, category: process_creation}
detection:
  s: {Image|endswith: '\x.exe'}
  condition: s
---
title: security service
id: r2
logsource: {product: windows, service: security}
detection:
  s: {EventID: 4688}
  condition: s
---
title: unknown windows service
id: r3
logsource: {product: windows, service: nosuchservice}
detection:
  s: {Image|endswith: '\x.exe'}
  condition: s
`
	rs, errs := ParseRules([]byte(rules), "mem")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	e, cerrs := NewEngine(rs, Options{})
	if len(cerrs) > 0 {
		t.Fatal(cerrs)
	}
	m := e.NewMatcher()
	run := func(channel, id string, kv ...string) string {
		m.Reset()
		m.SetSource("windows", channel, id)
		for i := 0; i+1 < len(kv); i += 2 {
			m.Add(kv[i], kv[i+1])
		}
		var ids []string
		for _, d := range m.Match() {
			ids = append(ids, d.Rule.ID)
		}
		return strings.Join(ids, ",")
	}
	if got := run("Microsoft-Windows-Sysmon/Operational", "1", "Image", `C:\x.exe`); got != "r1,r3" {
		t.Errorf("sysmon 1: %s", got)
	}
	if got := run("Microsoft-Windows-Sysmon/Operational", "11", "Image", `C:\x.exe`); got != "r3" {
		t.Errorf("sysmon 11: %s", got)
	}
	// 4688 gets process_creation with the field mapping NewProcessName -> Image
	if got := run("Security", "4688", "EventID", "4688", "NewProcessName", `C:\x.exe`); got != "r1,r2" { // r3 tests Image, which 4688 calls NewProcessName
		t.Errorf("security 4688: %s", got)
	}
	if got := run("Security", "4624", "EventID", "4624"); got != "" {
		t.Errorf("security 4624: %s", got)
	}
	// an event of another product does not see windows rules
	m.Reset()
	m.SetSource("linux", "syslog", "")
	m.Add("Image", `C:\x.exe`)
	if len(m.Match()) != 0 {
		t.Error("linux event matched windows rules")
	}
}

func TestCorrelation(t *testing.T) {
	rules := `title: failed logon
name: failed_logon
id: base-1
logsource: {product: windows, service: security}
detection:
  s: {EventID: 4625}
  condition: s
---
title: success logon
name: ok_logon
id: base-2
logsource: {product: windows, service: security}
detection:
  s: {EventID: 4624}
  condition: s
---
title: brute force
id: corr-1
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {gte: 3}
---
title: many users
id: corr-2
correlation:
  type: value_count
  rules: [failed_logon]
  group-by: [IpAddress]
  timespan: 10m
  condition: {field: TargetUserName, gte: 2}
---
title: fail then success
id: corr-3
correlation:
  type: temporal_ordered
  rules: [failed_logon, ok_logon]
  group-by: [TargetUserName]
  timespan: 5m
---
title: bad ref
id: corr-4
correlation:
  type: temporal
  rules: [nosuchrule]
  timespan: 5m
`
	rs, errs := ParseRules([]byte(rules), "mem")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tmp, _ := NewEngine(rs, Options{})
	c0, _ := NewCorrelator(rs, tmp, CorrelatorOptions{})
	e, _ := NewEngine(rs, Options{ExtraFields: c0.Fields()})
	c, cerrs := NewCorrelator(rs, e, CorrelatorOptions{})
	if len(cerrs) != 1 || !strings.Contains(cerrs[0].Reason, "nosuchrule") {
		t.Errorf("want one error for the bad reference, got %v", cerrs)
	}
	m := e.NewMatcher()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var fired []string
	// the values point into one buffer that every event overwrites, as a decoder's do: what the
	// correlator keeps must be its own copy
	buf := make([]byte, 64)
	feed := func(sec int, id, user, ip string) {
		m.Reset()
		m.SetSource("windows", "Security", id)
		m.SetTime(t0.Add(time.Duration(sec) * time.Second))
		m.Add("EventID", id)
		clear(buf)
		at := sec / 10 % 2 * 32
		n := copy(buf[at:], user)
		copy(buf[at+n:], ip)
		m.Add("TargetUserName", unsafe.String(&buf[at], n))
		m.Add("IpAddress", unsafe.String(&buf[at+n], len(ip)))
		for _, d := range m.Match() {
			for _, cm := range c.Observe(d, m) {
				fired = append(fired, fmt.Sprintf("%s@%d:%d", cm.Rule.ID, sec, cm.Count))
			}
		}
	}
	feed(0, "4625", "bob", "1.1.1.1")
	feed(10, "4625", "bob", "1.1.1.1")
	feed(20, "4625", "alice", "1.1.1.1") // value_count: 2 users from 1.1.1.1
	feed(30, "4625", "bob", "2.2.2.2")   // event_count: bob x3
	feed(40, "4624", "bob", "2.2.2.2")   // fail then success for bob
	feed(2000, "4625", "carol", "3.3.3.3")
	feed(2400, "4624", "carol", "3.3.3.3") // too late for temporal_ordered (5m)
	feed(3000, "4625", "erin", "5.5.5.5")
	feed(3010, "4625", "erin", "5.5.5.5") // one user only: no value_count
	want := "corr-2@20:2,corr-1@30:3,corr-3@40:2"
	if got := strings.Join(fired, ","); got != want {
		t.Errorf("fired %s want %s", got, want)
	}
}

func TestPipelinesParse(t *testing.T) {
	p := DefaultPipeline()
	for _, prod := range []string{"windows", "linux", "zeek", "suricata"} {
		if p.Products[prod] == nil {
			t.Errorf("no pipeline for %s", prod)
		}
	}
	if err := p.Add([]byte("services: {}\n")); err == nil {
		t.Error("pipeline without product accepted")
	}
}

// FuzzParseRule feeds arbitrary YAML through the rule parser and the compiler.
func FuzzParseRule(f *testing.F) {
	f.Add([]byte(ruleWith("  s:\n    F|contains|all:\n      - a\n      - b\n  condition: s")))
	f.Add([]byte(ruleWith("  k:\n    - x\n  f:\n    G|re: 'a+'\n  condition: k and not f")))
	f.Add([]byte("title: c\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: 2}\n"))
	for _, dir := range []string{"rules/windows/process_creation", "rules/linux", "rules/network/zeek"} {
		if c := corpusSeedDir(dir); c != "" {
			files, _ := filepath.Glob(filepath.Join(c, "*.yml"))
			for i, p := range files {
				if i == 20 {
					break
				}
				if d, err := os.ReadFile(p); err == nil {
					f.Add(d)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, _ := ParseRules(data, "fuzz")
		e, _ := NewEngine(rules, Options{})
		m := e.NewMatcher()
		m.Reset()
		m.Add("F", "a b")
		m.Add("Image", `C:\x.exe`)
		m.Match()
		NewCorrelator(rules, e, CorrelatorOptions{})
	})
}

func corpusSeedDir(rel string) string {
	dir, _ := os.Getwd()
	for i := 0; i < 6; i++ {
		p := filepath.Join(dir, "..", "shared", "corpus", "detection", "sigma", rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// FuzzParseCondition checks that the condition parser never panics and round-trips what it accepts.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"a and not b", "1 of sel_* and not 1 of filter_*", "all of them", "(a or (b and c))", "not not a", "2 of x*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCondition(s)
		if err != nil {
			return
		}
		again, err := ParseCondition(CondString(c))
		if err != nil || CondString(again) != CondString(c) {
			t.Fatalf("round trip of %q: %q then %v", s, CondString(c), err)
		}
	})
}

// FuzzJSONEvent feeds arbitrary JSON through the event decoder and a matcher.
func FuzzJSONEvent(f *testing.F) {
	f.Add([]byte(`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"C:\\x.exe","Data":[{"#attributes":{"Name":"A"},"#text":"b"}]}}}`))
	f.Add([]byte(`{"winlog":{"channel":"Security","event_id":4688,"event_data":{"NewProcessName":"x"}},"@timestamp":"2024-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"a":{"b":[1,2,{"c":null}]},"ts":1700000000.5}`))
	r, _ := ParseRule([]byte(ruleWith("  k:\n    - x\n  condition: k")))
	e, _ := NewEngine([]*Rule{r}, Options{})
	m := e.NewMatcher()
	var d JSONDecoder
	f.Fuzz(func(t *testing.T, data []byte) {
		m.Reset()
		if d.Feed(m, data) == nil {
			m.Match()
		}
	})
}

func TestRegexMinLen(t *testing.T) {
	for _, tc := range []struct {
		re   string
		want int
	}{
		{`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`, 82}, {`abc`, 3}, {`a|bc`, 1}, {`x*`, 0}, {`(?i)ab+`, 2}, {`.{1000,}`, 1000}, {`^C:\\Users$`, 8}, {`é`, 2},
	} {
		p, _ := syntax.Parse(tc.re, syntax.Perl)
		if got := regexMinLen(p.Simplify()); got != tc.want {
			t.Errorf("%s: %d want %d", tc.re, got, tc.want)
		}
		// the bound must never reject a real match
		re := regexp.MustCompile(tc.re)
		for _, s := range []string{"abc", "a", "bc", " " + strings.Repeat("a", 64) + " " + strings.Repeat("b", 16), `C:\Users`, "é"} {
			if re.MatchString(s) && len(s) < regexMinLen(p.Simplify()) {
				t.Errorf("%s matches %q shorter than its bound", tc.re, s)
			}
		}
	}
}

func TestRegexRun(t *testing.T) {
	for _, tc := range []struct {
		re      string
		n       int
		yes, no string
	}{
		{`\s[a-fA-F0-9]{64}\s`, 64, strings.Repeat("a1", 32), strings.Repeat("a1", 31) + "z"},
		{` [0-7]{7,13}`, 7, "0123456", "012345"},
		{`(?i)x[a-z]{4}`, 4, "ABCD", "AB1CD"},
		{`[é-ü]{5}`, 5, "ééééé", "abc"},
	} {
		p, _ := syntax.Parse(tc.re, syntax.Perl)
		run := regexRun(p)
		if run == nil || run.n != tc.n || !run.has(tc.yes) || run.has(tc.no) {
			t.Errorf("%s: %+v", tc.re, run)
		}
	}
	p, _ := syntax.Parse(`a{2}b`, syntax.Perl)
	if regexRun(p) != nil {
		t.Error("short repeat used as a run")
	}
}
