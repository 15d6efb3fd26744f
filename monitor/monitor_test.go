package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	socbot "github.com/socbot/socbot"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// memSink is an in-memory socbot.AlertSink.
type memSink struct {
	mu     sync.Mutex
	alerts []socbot.Alert
	fail   error
	block  chan struct{}
}

func (s *memSink) Submit(ctx context.Context, tenant string, alerts []socbot.Alert) error {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, a := range alerts {
		if a.TenantID != tenant {
			return fmt.Errorf("alert of tenant %q submitted for %q", a.TenantID, tenant)
		}
		s.alerts = append(s.alerts, a)
	}
	return nil
}

func (s *memSink) titles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.alerts {
		out = append(out, a.Format+":"+a.Title)
	}
	sort.Strings(out)
	return out
}

var _ socbot.AlertSink = (*memSink)(nil)

// memIntel is an in-memory socbot.IndicatorMatcher over exact values.
type memIntel map[string]socbot.IndicatorMatch

func (m memIntel) Match(tenant string, typ socbot.ObservableType, value string) []socbot.IndicatorMatch {
	if x, ok := m[string(typ)+":"+value]; ok {
		x.Matched = value
		return []socbot.IndicatorMatch{x}
	}
	return nil
}

var _ socbot.IndicatorMatcher = memIntel(nil)

func testRules(t *testing.T) *Rules {
	t.Helper()
	r, err := LoadRules("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name, head string
		want       Format
	}{
		{"x.evtx", "ElfFile\x00rest", FormatEVTX},
		{"conn.log", "#separator \\x09\n#fields\tts", FormatZeekTSV},
		{"eve.json", `{"timestamp":"2017-01-30T16:12:26.985026+0100","event_type":"dns","src_ip":"1.2.3.4"}`, FormatEve},
		{"dns.log", `{"_path":"dns","ts":1.0}`, FormatZeekJSON},
		{"conn.json", `{"ts":1.0,"uid":"C1","id.orig_h":"1.2.3.4"}`, FormatZeekJSON},
		{"events.json", "[\n {\"Event\":{}}]", FormatJSON},
		{"a.jsonl", `{"a":1}` + "\n" + `{"a":2}`, FormatJSON},
		{"auth.log", "Mar  9 08:01:02 web01 sshd[1]: x", FormatSyslog},
		{"syslog", "<13>1 2024-01-01T00:00:00Z h a - - - x", FormatSyslog},
		{"README.md", "# Title\n", FormatUnknown},
		{"empty", "", FormatUnknown},
	}
	for _, tc := range tests {
		if got := DetectFormat(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

func TestRulesLoadReportsBroken(t *testing.T) {
	r := testRules(t)
	if r.Engine.RuleCount() != 3 || r.Loaded() != 4 {
		t.Errorf("loaded %d detection rules, %d with correlations; want 3 and 4", r.Engine.RuleCount(), r.Loaded())
	}
	if len(r.Failed) != 1 || !strings.Contains(r.Failed[0].Reason, "nosuchmodifier") {
		t.Errorf("failed = %+v, want the broken rule with its reason", r.Failed)
	}
}

func TestScanFixtures(t *testing.T) {
	rules := testRules(t)
	var got []string
	var whoami []socbot.Alert
	p := NewProcessor(rules, nil, func(f *Finding) error {
		// a finding is valid during Emit only: convert it here
		if f.Rule != nil && f.Rule.Title == "Whoami Execution (socbot test rule)" {
			whoami = append(whoami, FindingToAlert(f, "t1", testNow))
		}
		title := f.Kind
		if f.Rule != nil {
			title += ":" + f.Rule.Title
		}
		if f.Suricata != nil {
			title += ":" + f.Suricata.Signature
		}
		got = append(got, filepath.Base(f.Source)+" "+title)
		return nil
	})
	files, _, err := ListFiles([]string{"testdata/logs"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ScanFiles(context.Background(), p, files, ScanOptions{Clock: fixedClock{testNow}})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{
		"auth.log correlation:SSH Brute Force (socbot test correlation)",
		"auth.log sigma:SSH Failed Password (socbot test rule)",
		"auth.log sigma:SSH Failed Password (socbot test rule)",
		"auth.log sigma:SSH Failed Password (socbot test rule)",
		"dns.log sigma:DNS Query For Test Domain (socbot test rule)",
		"eve.json suricata:GPL ATTACK_RESPONSE id check returned root",
		"sysmon.json sigma:Whoami Execution (socbot test rule)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	formats := map[string]Format{}
	for _, r := range res {
		formats[filepath.Base(r.Path)] = r.Format
		if r.Err != "" {
			t.Errorf("%s: %s", r.Path, r.Err)
		}
	}
	if formats["auth.log"] != FormatSyslog || formats["dns.log"] != FormatZeekTSV || formats["eve.json"] != FormatEve || formats["sysmon.json"] != FormatJSON {
		t.Errorf("formats %v", formats)
	}
	if p.Stats.Malformed != 3 { // "this is not json", eve: no event_type, eve: array
		t.Errorf("malformed %d, want 3", p.Stats.Malformed)
	}
	if len(whoami) != 1 {
		t.Fatalf("whoami alerts: %d", len(whoami))
	}
	checkWhoamiAlert(t, whoami[0])
}

func checkWhoamiAlert(t *testing.T, a socbot.Alert) {
	t.Helper()
	if a.Format != "sigma" || a.RuleID != "5c1e0a4e-0d7f-4c55-9d6a-000000000001" || a.Severity != socbot.SeverityMedium || a.SeverityScore != 50 {
		t.Errorf("alert identity: %+v", a)
	}
	if !strings.Contains(a.Description, "by socbot tests") || !strings.Contains(a.Description, "Detection Rule License") {
		t.Errorf("author/licence missing from description: %q", a.Description)
	}
	if fmt.Sprint(a.Tactics) != "[TA0007]" || fmt.Sprint(a.Techniques) != "[T1033]" {
		t.Errorf("ATT&CK: %v %v", a.Tactics, a.Techniques)
	}
	if !a.DetectedAt.Equal(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("detected at %v", a.DetectedAt)
	}
	want := map[string]bool{
		"host:ws01.corp.example/target": true, `user:CORP\alice/actor`: true, `process:C:\Windows\System32\whoami.exe/actor`: true,
		`process:C:\Windows\System32\cmd.exe/related`: true, "sha256:aaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccdddd/actor": true,
	}
	for _, o := range a.Observables {
		delete(want, o.Key()+"/"+string(o.Role))
	}
	if len(want) > 0 {
		t.Errorf("observables missing %v; have %+v", want, a.Observables)
	}
	if !bytes.Contains(a.Raw, []byte(`whoami /all`)) {
		t.Errorf("raw event missing: %s", a.Raw)
	}
}

func newTestBot(t *testing.T, cfg Config, sink *memSink, intel socbot.IndicatorMatcher) *Bot {
	t.Helper()
	cfg.RuleSet = testRules(t)
	b, err := New(cfg, sink, intel, nil, fixedClock{testNow})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHTTPHandler(t *testing.T) {
	sink := &memSink{}
	b := newTestBot(t, Config{}, sink, nil)
	srv := httptest.NewServer(b.HTTPHandler())
	defer srv.Close()
	body, _ := os.ReadFile("testdata/logs/sysmon.json")
	req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
	req.Header.Set("X-Socbot-Tenant", "acme")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(out.String(), `"accepted":3`) || !strings.Contains(out.String(), `"malformed":1`) || !strings.Contains(out.String(), `"alerts":1`) {
		t.Fatalf("status %d body %s", resp.StatusCode, out.String())
	}
	if len(sink.alerts) != 1 || sink.alerts[0].TenantID != "acme" {
		t.Fatalf("alerts %+v", sink.alerts)
	}
	checkWhoamiAlert(t, sink.alerts[0])

	// no tenant
	resp, _ = http.Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
	if resp.StatusCode != 400 {
		t.Errorf("no tenant: status %d", resp.StatusCode)
	}
	resp.Body.Close()
	// GET
	resp, _ = http.Get(srv.URL)
	if resp.StatusCode != 405 {
		t.Errorf("GET: status %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestHTTPHandlerLimits(t *testing.T) {
	sink := &memSink{}
	b := newTestBot(t, Config{Workers: 1, HTTPMaxBody: 1024, HTTPWait: socbot.Duration(50 * time.Millisecond)}, sink, nil)
	h := b.HTTPHandler()
	big := strings.Repeat(`{"message":"`+strings.Repeat("x", 100)+`"}`+"\n", 50)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", strings.NewReader(big))
	req.Header.Set("X-Socbot-Tenant", "acme")
	h.ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Errorf("big body: status %d %s", rec.Code, rec.Body.String())
	}
	// hold the only processor: the next batch must get 503, not queue without bound
	w, err := b.acquire(context.Background(), "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`))
	req.Header.Set("X-Socbot-Tenant", "acme")
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("busy: status %d", rec.Code)
	}
	b.release(w)
	// sink failure: 502 so that the sender retries
	sink.fail = fmt.Errorf("bus down")
	body, _ := os.ReadFile("testdata/logs/sysmon.json")
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("POST", "/", bytes.NewReader(body[:len(body)-20]))
	req.Header.Set("X-Socbot-Tenant", "acme")
	h.ServeHTTP(rec, req)
	if rec.Code != 502 {
		t.Errorf("sink failure: status %d %s", rec.Code, rec.Body.String())
	}
}

func TestIntelMatching(t *testing.T) {
	sink := &memSink{}
	intel := memIntel{
		"domain:evil.example.com":              {IndicatorID: "indicator--1", Type: "domain", Value: "evil.example.com", Why: "exact", Score: 80, Sources: []string{"feed-a"}},
		"domain:c2.example.net":                {IndicatorID: "indicator--2", Type: "domain", Value: "c2.example.net", Why: "exact", Score: 60},
		"ja3:e7d705a3286e19ea42f587b344ee6865": {IndicatorID: "indicator--4", Type: "ja3", Value: "e7d705a3286e19ea42f587b344ee6865", Why: "exact", Score: 60},
		"ip:198.51.100.66":                     {IndicatorID: "indicator--3", Type: "ipv4", Value: "198.51.100.66", Why: "exact", Score: 40},
	}
	b := newTestBot(t, Config{}, sink, intel)
	for _, f := range []string{"testdata/logs/eve.json", "testdata/logs/eve.json", "testdata/logs/dns.log"} {
		if _, err := b.Scan(context.Background(), "acme", []string{f}, ScanOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var intelAlerts []socbot.Alert
	for _, a := range sink.alerts {
		if a.Format == "monitor-intel" {
			intelAlerts = append(intelAlerts, a)
		}
	}
	// eve: dns evil.example.com, tls SNI c2.example.net (its JA3 is not looked up: the index has no
	// such type); dns.log: answer 198.51.100.66. The second eve pass is deduplicated.
	if len(intelAlerts) != 3 {
		t.Fatalf("intel alerts %d, want 3: %v", len(intelAlerts), sink.titles())
	}
	if intelAlerts[0].Severity != socbot.SeverityCritical || !strings.Contains(intelAlerts[0].Title, "evil.example.com") {
		t.Errorf("first intel alert %+v", intelAlerts[0])
	}
	if !strings.Contains(intelAlerts[1].Title, "c2.example.net") || strings.Contains(intelAlerts[1].Description, "ja3") {
		t.Errorf("SNI intel alert %+v", intelAlerts[1])
	}
	st := b.Stats()
	if st.IntelHits != 3 || st.Suricata != 2 || st.AlertsSubmitted != int64(len(sink.alerts)) {
		t.Errorf("stats %+v", st)
	}
}

func TestRunSyslogAndTail(t *testing.T) {
	dir := t.TempDir()
	tailPath := filepath.Join(dir, "app.jsonl")
	os.WriteFile(tailPath, []byte(`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"C:\\x\\whoami.exe","User":"old"}}}`+"\n"), 0o644)
	sink := &memSink{}
	b := newTestBot(t, Config{
		Syslog:       []SyslogInput{{Network: "udp", Addr: "127.0.0.1:0", Tenant: "acme"}, {Network: "tcp", Addr: "127.0.0.1:0", Tenant: "globex"}},
		Tail:         []TailInput{{Path: filepath.Join(dir, "*.jsonl"), Tenant: "initech"}},
		TailInterval: socbot.Duration(20 * time.Millisecond),
	}, sink, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	addrs := b.ListenAddrs(ctx)
	if len(addrs) != 2 {
		t.Fatalf("addrs %v", addrs)
	}
	uc, _ := net.Dial("udp", addrs[0].String())
	uc.Write([]byte("<38>Nov  1 10:00:01 bastion sshd[100]: Failed password for root from 203.0.113.5 port 22 ssh2"))
	uc.Close()
	tc, err := net.Dial("tcp", addrs[1].String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tc, "<38>Nov  1 10:00:02 db sshd[7]: Failed password for admin from 203.0.113.9 port 22 ssh2\n")
	tc.Close()
	time.Sleep(60 * time.Millisecond)
	f, _ := os.OpenFile(tailPath, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"new"},"EventData":{"Image":"C:\\x\\whoami.exe","User":"new"}}}` + "\n")
	f.WriteString(`{"partial":`)
	f.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(sink.titles()) >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var got []string
	for _, a := range sink.alerts {
		got = append(got, a.TenantID+" "+a.Title)
	}
	sort.Strings(got)
	want := []string{"acme SSH Failed Password (socbot test rule)", "globex SSH Failed Password (socbot test rule)", "initech Whoami Execution (socbot test rule)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("alerts %q\nwant %q", got, want)
	}
	for _, a := range sink.alerts {
		if a.TenantID == "initech" && !bytes.Contains(a.Raw, []byte(`"new"`)) {
			t.Errorf("tail read the old line (not from the end): %s", a.Raw)
		}
	}
}

func TestAttackTags(t *testing.T) {
	ta, te := attackFromTags([]string{"attack.execution", "attack.t1059.001", "attack.command-and-control", "attack.s0111", "car.2013-08-001", "attack.T1105", "attack.ta0003"})
	if fmt.Sprint(ta) != "[TA0002 TA0011 TA0003]" || fmt.Sprint(te) != "[T1059.001 T1105]" {
		t.Errorf("tactics %v techniques %v", ta, te)
	}
}

func TestSplitJSONStream(t *testing.T) {
	in := "[{\"a\":\"}\"},\n{\"b\":[1,{\"c\":2}]}]\n garbage\n{\"d\":\"\\\"{\"}\n{\"unterminated\":"
	var got []string
	bad := 0
	SplitJSONStream(strings.NewReader(in), 1<<20, func(b []byte) error { got = append(got, string(b)); return nil }, func() { bad++ })
	want := []string{`{"a":"}"}`, `{"b":[1,{"c":2}]}`, `{"d":"\"{"}`}
	if strings.Join(got, "|") != strings.Join(want, "|") || bad != 2 {
		t.Errorf("got %q bad %d", got, bad)
	}
}

func FuzzSplitJSONStream(f *testing.F) {
	d, _ := os.ReadFile("testdata/logs/sysmon.json")
	f.Add(d)
	f.Add([]byte(`[{"a":1},{"b":"\"}"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		SplitJSONStream(bytes.NewReader(b), 256, func(obj []byte) error {
			if len(obj) > 256 || obj[0] != '{' {
				t.Fatalf("bad object %q", obj)
			}
			return nil
		}, func() {})
	})
}

func TestIngestLogs(t *testing.T) {
	sink := &memSink{}
	b := newTestBot(t, Config{Workers: 1, HTTPWait: socbot.Duration(50 * time.Millisecond)}, sink, nil)
	ctx := context.Background()
	body, _ := os.ReadFile("testdata/logs/sysmon.json")
	res, err := b.IngestLogs(ctx, "acme", socbot.LogBatch{Body: bytes.NewReader(body), Source: "http:edr"})
	if err != nil || res != (socbot.LogBatchResult{Accepted: 3, Malformed: 1, Alerts: 1}) {
		t.Fatalf("json batch: %+v %v", res, err)
	}
	checkWhoamiAlert(t, sink.alerts[0])
	// the alert of the first event must not share memory with the next event (alerts wait in the
	// worker until the batch ends)
	first, _, _ := bytes.Cut(body, []byte("\n"))
	// (a shorter next event is parsed into the same buffer)
	next := `{"Event":{"System":{"EventID":3,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"` + strings.Repeat("z", len(first)-120) + `"}}}`
	res, err = b.IngestLogs(ctx, "acme", socbot.LogBatch{Body: strings.NewReader(string(first) + "\n" + next + "\n")})
	if err != nil || res.Alerts != 1 || len(sink.alerts) != 2 {
		t.Fatalf("two-event batch: %+v %v", res, err)
	}
	checkWhoamiAlert(t, sink.alerts[1])
	// syslog lines, with a rule on the linux syslog source
	res, err = b.IngestLogs(ctx, "acme", socbot.LogBatch{Format: "syslog", Body: strings.NewReader(
		"<38>Mar  9 08:01:02 web01 sshd[4321]: Failed password for root from 203.0.113.5 port 22 ssh2\nnot syslog at all\n")})
	if err != nil || res.Accepted != 2 || res.Alerts != 1 {
		t.Fatalf("syslog batch: %+v %v", res, err)
	}
	for _, tc := range []struct {
		name  string
		batch socbot.LogBatch
		kind  socbot.Kind
		field string
	}{
		{"bad format", socbot.LogBatch{Format: "evtx", Body: strings.NewReader("{}")}, socbot.KindInvalid, "format"},
		{"bad logsource", socbot.LogBatch{Logsource: "/x", Body: strings.NewReader("{}")}, socbot.KindInvalid, "logsource"},
		{"no body", socbot.LogBatch{}, socbot.KindInvalid, "body"},
		{"read error", socbot.LogBatch{Body: io.MultiReader(strings.NewReader(`{"a":`), iotest.ErrReader(errors.New("reset")))}, socbot.KindInvalid, ""},
	} {
		if _, err := b.IngestLogs(ctx, "acme", tc.batch); socbot.ErrorKind(err) != tc.kind || socbot.ErrorField(err) != tc.field {
			t.Errorf("%s: %v (kind %v field %q)", tc.name, err, socbot.ErrorKind(err), socbot.ErrorField(err))
		}
	}
	// all processors busy: unavailable, not an unbounded queue
	w, _ := b.acquire(ctx, "acme", 0)
	if _, err := b.IngestLogs(ctx, "acme", socbot.LogBatch{Body: strings.NewReader("{}")}); socbot.ErrorKind(err) != socbot.KindUnavailable {
		t.Errorf("busy: %v", err)
	}
	b.release(w)
	// the sink fails: unavailable, retry the batch
	sink.fail = errors.New("bus down")
	if _, err := b.IngestLogs(ctx, "acme", socbot.LogBatch{Body: bytes.NewReader(body)}); socbot.ErrorKind(err) != socbot.KindUnavailable {
		t.Errorf("sink failure: %v", err)
	}
}

func TestNewWithoutRules(t *testing.T) {
	sink := &memSink{}
	// nothing configured: the bot runs (Suricata alerts, intel matches)
	b, err := New(Config{}, sink, nil, nil, fixedClock{testNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Scan(context.Background(), "acme", []string{"testdata/logs/eve.json"}, ScanOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Suricata != 1 || st.Detections != 0 {
		t.Errorf("stats without rules: %+v", st)
	}
	// rules configured, none loads: refused
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.yml"), []byte("title: x\ndetection: {sel: {a|nosuchmodifier: b}, condition: sel}\nlogsource: {product: windows}\n"), 0o644)
	if _, err := New(Config{Rules: []string{dir}}, sink, nil, nil, nil); socbot.ErrorKind(err) != socbot.KindInvalid {
		t.Errorf("only broken rules: %v", err)
	}
}
