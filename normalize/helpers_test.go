package normalize

import (
	"testing"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

func TestParseTime(t *testing.T) {
	utc := func(s string) time.Time {
		tt, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tt.UTC()
	}
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2022-05-11T12:29:19.905+0000", utc("2022-05-11T12:29:19.905Z"), true},
		{"2021-01-27T01:28:11.488362+0100", utc("2021-01-27T00:28:11.488362Z"), true},
		{"2024-02-08T11:35:14.334-0300", utc("2024-02-08T14:35:14.334Z"), true},
		{"2021-04-27T12:19:27.7211305Z", utc("2021-04-27T12:19:27.7211305Z"), true},
		{"2024-12-30T15:00:00.000000", utc("2024-12-30T15:00:00Z"), true},
		{"2024-10-11 08:00:00", utc("2024-10-11T08:00:00Z"), true},
		{"2024-10-11T08:00:00+05:30", utc("2024-10-11T02:30:00Z"), true},
		{"2024-10-11T08:00:00+05", utc("2024-10-11T03:00:00Z"), true},
		{"2024-10-11T08:00Z", utc("2024-10-11T08:00:00Z"), true},
		{"2024-10-11T08:00:00 UTC", utc("2024-10-11T08:00:00Z"), true},
		{"2019-06-01", utc("2019-06-01T00:00:00Z"), true},
		{"2024-10-11T08:00:00,25Z", utc("2024-10-11T08:00:00.25Z"), true},
		{"2024-10-11T08:00:00.123456789123Z", utc("2024-10-11T08:00:00.123456789Z"), true},
		{"1686845212400", utc("2023-06-15T16:06:52.4Z"), true},
		{"1559764497.925850", utc("2019-06-05T19:54:57.92585Z"), true},
		{"{timestamp}", time.Time{}, false},
		{"XXXXXXXXXX.XXXXXX", time.Time{}, false},
		{"2024-02-30T00:00:00Z", time.Time{}, false},
		{"2024-13-01T00:00:00Z", time.Time{}, false},
		{"2024-01-01T25:00:00Z", time.Time{}, false},
		{"2024-01-01T10:00:00+2500", time.Time{}, false},
		{"2024-01-01T10:00:00Zjunk", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := parseTime([]byte(tt.in))
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseEpoch(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // unix nanoseconds
		ok   bool
	}{
		{"1735570800", 1735570800e9, true},                 // seconds (Prowler puts seconds in OCSF time)
		{"1717234567890", 1717234567890e6, true},           // milliseconds
		{"1717234567890123", 1717234567890123e3, true},     // microseconds
		{"1717234567890123456", 1717234567890123456, true}, // nanoseconds
		{"1427726759.303199", 1427726759303199000, true},   // float seconds (Zeek)
		{"-5", 0, false},
		{"1e9", 0, false},
		{"abc", 0, false},
		{"99999999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseEpoch([]byte(tt.in))
		if ok != tt.ok || ok && got.UnixNano()/1000 != tt.want/1000 {
			t.Errorf("parseEpoch(%q) = %v (%d), %v; want %d, %v", tt.in, got, got.UnixNano(), ok, tt.want, tt.ok)
		}
	}
}

func TestSetTime(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		ok   bool
		want time.Time
		flag string
	}{
		{"usable", now.Add(-time.Hour), true, now.Add(-time.Hour), ""},
		{"slightly ahead is kept", now.Add(23 * time.Hour), true, now.Add(23 * time.Hour), ""},
		{"far future", now.Add(25 * time.Hour), true, now, socbot.FlagTimeFuture},
		{"missing", time.Time{}, false, now, socbot.FlagTimeMissing},
		{"epoch zero placeholder", time.Unix(0, 0), true, now, socbot.FlagTimeMissing},
		{"non-UTC input", time.Date(2024, 6, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)), true, time.Date(2024, 6, 1, 11, 0, 0, 0, time.UTC), ""},
	}
	for _, tt := range tests {
		var a socbot.Alert
		setTime(&a, tt.t, tt.ok, now)
		if !a.DetectedAt.Equal(tt.want) || a.DetectedAt.Location() != time.UTC {
			t.Errorf("%s: DetectedAt %v, want %v UTC", tt.name, a.DetectedAt, tt.want)
		}
		if tt.flag == "" && len(a.Flags) != 0 || tt.flag != "" && (len(a.Flags) != 1 || a.Flags[0] != tt.flag) {
			t.Errorf("%s: flags %v, want %q", tt.name, a.Flags, tt.flag)
		}
	}
}

func TestMitreIDs(t *testing.T) {
	techniques := map[string]string{
		"T1190": "T1190", "t1190": "T1190", " T1059.001 ": "T1059.001", "T1059.001 - PowerShell": "T1059.001",
		"T1048 - Exfiltration Over Alternative Protocol": "T1048", "T1078/003": "T1078.003",
		"https://attack.mitre.org/techniques/T1078/003/": "T1078.003", "https://attack.mitre.org/techniques/T1490/": "T1490",
		"T1059.": "T1059", "CST0000": "", "T10890": "", "T123": "", "Brute Force": "", "": "", "TA0001": "",
	}
	for in, want := range techniques {
		if got := techniqueID(in); got != want {
			t.Errorf("techniqueID(%q) = %q, want %q", in, got, want)
		}
	}
	tactics := map[string]string{
		"TA0005": "TA0005", "ta0005": "TA0005", "TA0005 - Defense Evasion": "TA0005", "Defense Evasion": "TA0005",
		"DefenseEvasion": "TA0005", "DEFENSE_EVASION": "TA0005", "Command_And_Control": "TA0011", "command and control": "TA0011",
		"INITIAL_ACCESS": "TA0001", "Reconnaissance": "TA0043", "TA0100": "TA0100",
		"Malware": "", "Machine Learning": "", "CSTA0004": "", "TA01": "", "": "", "T1059": "",
	}
	for in, want := range tactics {
		if got := tacticID(in); got != want {
			t.Errorf("tacticID(%q) = %q, want %q", in, got, want)
		}
	}
	var a socbot.Alert
	for _, s := range []string{"T1059.001", "t1059.001", "TA0002", "Execution", "Malware", "T1003"} {
		addMitre(&a, s)
	}
	if len(a.Techniques) != 2 || a.Techniques[0] != "T1059.001" || a.Techniques[1] != "T1003" || len(a.Tactics) != 1 || a.Tactics[0] != "TA0002" {
		t.Errorf("deduplicated ATT&CK: tactics %v techniques %v", a.Tactics, a.Techniques)
	}
}

func TestObservableCanonicalisation(t *testing.T) {
	ips := map[string]string{
		"10.0.0.1": "10.0.0.1", " 10.0.0.1 ": "10.0.0.1", "::ffff:192.0.2.1": "192.0.2.1", "2001:DB8::1": "2001:db8::1",
		"[2001:db8::2]": "2001:db8::2", "fe80::1%eth0": "", "000.111.222.10": "", "0.0.0.0": "", "::": "", "127.0.0.1": "",
		"224.0.0.1": "", "N/A": "", "IP": "", "1.2.3": "", "1.2.3.4:80": "", ":::519f:96a4:e108": "", "192.168.2.2": "192.168.2.2",
	}
	for in, want := range ips {
		if got := canonIP(in); got != want {
			t.Errorf("canonIP(%q) = %q, want %q", in, got, want)
		}
	}
	domains := map[string]string{
		"Update.Example-CDN.NET.": "update.example-cdn.net", "example.com": "example.com", "_http._tcp.example.org": "_http._tcp.example.org",
		"localhost": "", "1.2.3.4": "", "a..b": "", "-": "", "exa mple.com": "", "http://x.com": "", ".example.com": "",
	}
	for in, want := range domains {
		if got := canonDomain(in); got != want {
			t.Errorf("canonDomain(%q) = %q, want %q", in, got, want)
		}
	}
	hashes := map[string]socbot.ObservableType{
		"44d88612fea8a8f36de82e1278abb02f":                                 socbot.ObsMD5,
		"3395856ce81f2b7382dee72602f798b642f14140":                         socbot.ObsSHA1,
		"8D5AEC85593C85ECDC8D5AC601E163A1CC26D877F88C03E9E0E94C9DD4A38FCA": socbot.ObsSHA256,
		"0000000000000000000000000000000000000000":                         "", "ddd": "", "N/A": "", "zz5aec85593c85ecdc8d5ac601e163a1": "",
		"6cadaacded787afb101f14c9b404daed8c8800f19199a31024ce91ea1f26": "", // 60 characters
	}
	for in, want := range hashes {
		if got := hashType(in); got != want {
			t.Errorf("hashType(%q) = %q, want %q", in, got, want)
		}
	}

	var a socbot.Alert
	addHost(&a, "WS-01.Corp.Example.com.", socbot.AsTarget)
	addHost(&a, "<host_name>", socbot.AsTarget)
	addHost(&a, "10.1.1.1", socbot.AsTarget) // an address given as a host name
	addUser(&a, `CORP\Alice`, socbot.AsActor)
	addUser(&a, "null", socbot.AsActor)
	addEmail(&a, "user:Bob@Example.com", socbot.AsTarget)
	addEmail(&a, "not an email", socbot.AsTarget)
	addURL(&a, "https://example.com/a?b=c", socbot.AsRelated)
	addURL(&a, "/cgi-bin/x.sh", socbot.AsRelated)
	addIP(&a, "10.1.1.1", socbot.AsRelated) // already there with a role: not added again as related
	addHashList(&a, "SHA1=1234567890ABCDEF1234567890ABCDEF12345678,IMPHASH=11112222333344445555666677778888", socbot.AsActor)
	addDomainUser(&a, "CORP", "bob", socbot.AsActor)
	addDomainUser(&a, "CORP", "carol@corp.example.com", socbot.AsActor)
	want := []socbot.Observable{
		{Type: socbot.ObsHost, Value: "ws-01.corp.example.com", Role: socbot.AsTarget},
		{Type: socbot.ObsIP, Value: "10.1.1.1", Role: socbot.AsTarget},
		{Type: socbot.ObsUser, Value: `CORP\Alice`, Role: socbot.AsActor},
		{Type: socbot.ObsEmail, Value: "bob@example.com", Role: socbot.AsTarget},
		{Type: socbot.ObsURL, Value: "https://example.com/a?b=c", Role: socbot.AsRelated},
		{Type: socbot.ObsSHA1, Value: "1234567890abcdef1234567890abcdef12345678", Role: socbot.AsActor},
		{Type: socbot.ObsUser, Value: `CORP\bob`, Role: socbot.AsActor},
		{Type: socbot.ObsUser, Value: "carol@corp.example.com", Role: socbot.AsActor},
	}
	if len(a.Observables) != len(want) {
		t.Fatalf("observables %v, want %v", a.Observables, want)
	}
	for i := range want {
		if a.Observables[i] != want[i] {
			t.Errorf("observable %d: %+v, want %+v", i, a.Observables[i], want[i])
		}
	}
	// A related entry is upgraded when the value comes again with a role.
	var b socbot.Alert
	addIP(&b, "192.0.2.1", socbot.AsRelated)
	addIP(&b, "192.0.2.1", socbot.AsSource)
	if len(b.Observables) != 1 || b.Observables[0].Role != socbot.AsSource {
		t.Errorf("related not upgraded: %v", b.Observables)
	}
}

func TestGetDottedAndNested(t *testing.T) {
	var p fastjson.Parser
	v, err := p.Parse(`{"kibana.alert.rule.name":"flat","kibana":{"alert":{"severity":"high","rule":{"id":"nested"}}},
		"kibana.alert.rule.parameters":{"threat":[{"tactic":{"id":"TA0001"}}]},"a":[{"b":1},{"b":2}],"host":{"ip":["10.0.0.1","10.0.0.2"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	// Nested lookups do not see literal dotted keys.
	plain := newReader("test")
	if got := plain.str(v, "kibana.alert.rule.name"); got != "" {
		t.Errorf("nested lookup found a literal dotted key: %q", got)
	}
	if got := plain.str(v, "kibana.alert.rule.id"); got != "nested" {
		t.Errorf("nested lookup: %q", got)
	}
	r := newReader("test")
	r.dotted = true
	cases := map[string]string{
		"kibana.alert.rule.name":                        "flat",
		"kibana.alert.severity":                         "high",
		"kibana.alert.rule.id":                          "nested",
		"kibana.alert.rule.parameters.threat.tactic.id": "TA0001",
		"a.1.b":   "2",
		"a.b":     "1",
		"host.ip": "10.0.0.1",
		"a.7.b":   "",
		"missing": "",
	}
	for path, want := range cases {
		if got := r.str(v, path); got != want {
			t.Errorf("str(%q) = %q, want %q", path, got, want)
		}
	}
	if r.err != nil {
		t.Errorf("unexpected error %v", r.err)
	}
	if r.str(v, "kibana.alert") != "" || r.err == nil || socbot.ErrorField(r.err) != "kibana.alert" {
		t.Errorf("reading an object as a string: err %v", r.err)
	}
}

func TestTextCleaning(t *testing.T) {
	cases := map[string]string{
		"  hello ":           "hello",
		"N/A":                "",
		"null":               "",
		"(empty)":            "",
		"<image_path>":       "",
		"-":                  "",
		"nul\x00byte":        "nulbyte",
		"bad \xff utf8":      "bad \uFFFD utf8",
		"line1\nline2":       "line1\nline2",
		"Nonetheless":        "Nonetheless",
		"<b>":                "",
		"<not a tag":         "<not a tag",
		"Undefined Behavior": "Undefined Behavior",
	}
	for in, want := range cases {
		if got := text([]byte(in)); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCapText(t *testing.T) {
	s := "ééé" // 6 bytes
	if got := capText(s, 5); got != "éé" {
		t.Errorf("capText cut inside a rune: %q", got)
	}
	var a socbot.Alert
	a.Vendor, a.Product = "V", "P"
	finish(&a)
	if a.Title != "V P alert" {
		t.Errorf("fallback title %q", a.Title)
	}
}

func TestSkipValueMatchesScanValue(t *testing.T) {
	for _, s := range []string{
		`"plain"`, `"esc \" quote"`, `"backslash \\"`, `"two \\\\"`, `"\\\" mixed"`, `{"a":"}","b":["]",{"c":"\\"}]}`,
		`[1, -2.5e3, true, false, null, "x"]`, `123`, `-0.5`, `true`, `{"k":{}}, {"next":1}`, `[[],[[]]] trailing`,
	} {
		b := []byte(s)
		want, err := scanValue(b, 0)
		if err != nil {
			t.Fatalf("%s: %s", s, err.msg)
		}
		if got := skipValue(b, 0); got != want {
			t.Errorf("skipValue(%s) = %d, want %d", s, got, want)
		}
	}
	rec := []byte(`{"a\"b":1, "value" : [ {"x":"]\\"} , {"y":[1,2]} ], "z":"value"}`)
	if got := string(memberRaw(rec, "value")); got != `[ {"x":"]\\"} , {"y":[1,2]} ]` {
		t.Errorf("memberRaw = %s", got)
	}
	it := arrayIter{b: memberRaw(rec, "value")}
	if a, b, c := string(it.next()), string(it.next()), it.next(); a != `{"x":"]\\"}` || b != `{"y":[1,2]}` || c != nil {
		t.Errorf("arrayIter gave %s, %s, %s", a, b, c)
	}
}
