package intel

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
	"github.com/socbot/socbot/warninglist"
)

func newTestEngine(t *testing.T, clk *fakeClock) (*Engine, *MemContainment) {
	wl := warninglist.New()
	if _, err := wl.Add(warninglist.File{Name: "RFC 1918", Type: "cidr", List: []string{"10.0.0.0/8"}, MatchingAttributes: []string{"ip-dst"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := wl.Add(warninglist.File{Name: "top sites", Type: "hostname", List: []string{"google.com"}, MatchingAttributes: []string{"domain", "url"}}); err != nil {
		t.Fatal(err)
	}
	cont := &MemContainment{}
	e := NewEngine(EngineConfig{Store: NewMemStore(), Warninglists: wl, Clock: clk, Containment: cont,
		ContainmentThreshold: func(tenant string) int {
			if tenant == "acme" {
				return 80
			}
			return 0
		}})
	return e, cont
}

func TestIngestDedupeAndConfidence(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	e, _ := newTestEngine(t, clk)
	a := SourceInfo{Name: "feed-a", Reliability: 80, DefaultConfidence: 60}
	b := SourceInfo{Name: "feed-b", Reliability: 50}
	st, err := e.Ingest(ctx, "acme", a, []Item{
		{Type: ioc.IPv4, Value: "203.0.113.7", Tags: []string{"c2"}},
		{Type: ioc.IPv4, Value: "203.0.113.7"}, // duplicate in the batch
		{Type: ioc.Domain, Value: "Evil[.]Example.com"},
		{Type: ioc.IPv4, Value: "10.1.2.3"},
		{Type: ioc.Domain, Value: "mail.google.com"},
		{Type: ioc.Domain, Value: "not a domain"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.New != 4 || st.Invalid != 1 || st.Filtered != 2 {
		t.Fatalf("stats %+v", st)
	}
	in, err := e.Get(ctx, "acme", ioc.IPv4, "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	if in.Confidence != 48 { // 0.6*0.8
		t.Errorf("one source: confidence %d", in.Confidence)
	}
	if _, err := e.Ingest(ctx, "acme", b, []Item{{Type: ioc.IPv4, Value: "203.0.113.7", Confidence: 80, Tags: []string{"botnet"}}}); err != nil {
		t.Fatal(err)
	}
	in, _ = e.Get(ctx, "acme", ioc.IPv4, "203.0.113.7")
	// 1 - (1-0.48)(1-0.4) = 0.688
	if in.Confidence != 69 || len(in.Sources) != 2 || strings.Join(in.Tags, ",") != "botnet,c2" || in.ID != IndicatorID(ioc.IPv4, "203.0.113.7") {
		t.Errorf("two sources: %+v", in)
	}
	// filtered ones are stored (searchable), say which list, and never match
	f, _ := e.Get(ctx, "acme", ioc.IPv4, "10.1.2.3")
	if f.FilteredBy != "RFC 1918" {
		t.Errorf("filtered by %q", f.FilteredBy)
	}
	if m := e.Match("acme", socbot.ObsIP, "10.1.2.3"); len(m) != 0 {
		t.Errorf("filtered indicator matches: %+v", m)
	}
	g, _ := e.Get(ctx, "acme", ioc.Domain, "mail.google.com")
	if g.FilteredBy != "top sites" {
		t.Errorf("filtered by %q", g.FilteredBy)
	}
	// matches through the live index, other tenants do not see acme's indicators
	if m := e.Match("acme", socbot.ObsDomain, "www.evil.example.com"); len(m) != 1 || m[0].Why != "subdomain" {
		t.Errorf("match %+v", m)
	}
	if m := e.Match("globex", socbot.ObsDomain, "evil.example.com"); len(m) != 0 {
		t.Errorf("tenant leak: %+v", m)
	}
	// revocation by the only source revokes; by one of two sources only removes that source
	if _, err := e.Ingest(ctx, "acme", a, []Item{{Type: ioc.IPv4, Value: "203.0.113.7", Revoked: true}, {Type: ioc.Domain, Value: "evil.example.com", Revoked: true}}); err != nil {
		t.Fatal(err)
	}
	in, _ = e.Get(ctx, "acme", ioc.IPv4, "203.0.113.7")
	d, _ := e.Get(ctx, "acme", ioc.Domain, "evil.example.com")
	if in.Revoked || len(in.Sources) != 1 || !d.Revoked {
		t.Errorf("revocation: %+v / %+v", in, d)
	}
	if m := e.Match("acme", socbot.ObsDomain, "evil.example.com"); len(m) != 0 {
		t.Errorf("revoked still matches: %+v", m)
	}
}

func TestDecaySightingsAndSearch(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	e, _ := newTestEngine(t, clk)
	src := SourceInfo{Name: "feed", Reliability: 100, DefaultConfidence: 90}
	if _, err := e.Ingest(ctx, "acme", src, []Item{{Type: ioc.IPv4, Value: "198.51.100.9"}}); err != nil {
		t.Fatal(err)
	}
	clk.t = t0.Add(55 * day)
	if m := e.Match("acme", socbot.ObsIP, "198.51.100.9"); len(m) != 0 {
		t.Fatalf("expired indicator matches: %+v", m)
	}
	// still searchable
	found, err := e.Store().SearchIndicators(ctx, Filter{TenantID: "acme", ValuePrefix: "198.51."})
	if err != nil || len(found) != 1 {
		t.Fatalf("search: %v %+v", err, found)
	}
	// a sighting restores it; a duplicate sighting is ignored
	s := Sighting{TenantID: "acme", IndicatorID: IndicatorID(ioc.IPv4, "198.51.100.9"), Type: ioc.IPv4, Value: "198.51.100.9", Source: "triage", Ref: "alert-1", At: clk.t}
	if err := e.RecordSightings(ctx, []Sighting{s, s}); err != nil {
		t.Fatal(err)
	}
	m := e.Match("acme", socbot.ObsIP, "198.51.100.9")
	if len(m) != 1 || m[0].Score != 90 {
		t.Fatalf("after sighting: %+v", m)
	}
	in, _ := e.Get(ctx, "acme", ioc.IPv4, "198.51.100.9")
	if in.Sightings != 1 {
		t.Errorf("sightings %d", in.Sightings)
	}
	// a false-positive report halves the base score
	fp := s
	fp.Kind, fp.Ref = SightingFalsePositive, "analyst-1"
	if err := e.RecordSightings(ctx, []Sighting{fp}); err != nil {
		t.Fatal(err)
	}
	if m := e.Match("acme", socbot.ObsIP, "198.51.100.9"); len(m) != 1 || m[0].Score != 45 {
		t.Fatalf("after false positive: %+v", m)
	}
}

func TestEnricherRecordsSightings(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	e, _ := newTestEngine(t, clk)
	if _, err := e.Ingest(ctx, "", SourceInfo{Name: "mssp-feed", Reliability: 100, DefaultConfidence: 90}, []Item{{Type: ioc.Domain, Value: "evil.example.net"}}); err != nil {
		t.Fatal(err)
	}
	a := &socbot.Alert{UID: "a-1", TenantID: "acme", Observables: []socbot.Observable{{Type: socbot.ObsDomain, Value: "cdn.evil.example.net"}, {Type: socbot.ObsIP, Value: "192.0.2.1"}}}
	en, err := e.Enricher().Enrich(ctx, "acme", a)
	if err != nil {
		t.Fatal(err)
	}
	if len(en) != 1 || en[0].Verdict != socbot.VerdictMalicious || en[0].Observable != "domain:cdn.evil.example.net" || en[0].Ref != IndicatorID(ioc.Domain, "evil.example.net") {
		t.Fatalf("enrichment %+v", en)
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ss, _ := e.Store().Sightings(ctx, "", IndicatorID(ioc.Domain, "evil.example.net"), "acme", 10)
	if len(ss) != 1 || ss[0].SeenBy != "acme" || ss[0].Observed != "cdn.evil.example.net" {
		t.Fatalf("sightings %+v", ss)
	}
}

func TestContainmentHook(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	e, cont := newTestEngine(t, clk)
	hi := SourceInfo{Name: "good-feed", Reliability: 100, DefaultConfidence: 90}
	lo := SourceInfo{Name: "weak-feed", Reliability: 40, DefaultConfidence: 50}
	e.Ingest(ctx, "acme", lo, []Item{{Type: ioc.URL, Value: "http://bad.example.net/x"}})
	if len(cont.Events) != 0 {
		t.Fatalf("below threshold handed off: %+v", cont.Events)
	}
	e.Ingest(ctx, "acme", hi, []Item{{Type: ioc.URL, Value: "http://bad.example.net/x"}, {Type: ioc.SHA256, Value: strings.Repeat("a", 64)}})
	if len(cont.Events) != 1 {
		t.Fatalf("events %+v", cont.Events)
	}
	ev := cont.Events[0]
	if ev.Action != socbot.ActBlockURL || ev.Subject() != "socbot.intel.containment.acme" || ev.Score < 80 || ev.ValidUntil.IsZero() {
		t.Fatalf("event %+v", ev)
	}
	// the same indicator again does not re-fire; other tenants have no threshold
	e.Ingest(ctx, "acme", hi, []Item{{Type: ioc.URL, Value: "http://bad.example.net/x", LastSeen: t0.Add(time.Minute)}})
	e.Ingest(ctx, "globex", hi, []Item{{Type: ioc.URL, Value: "http://bad.example.net/x"}})
	if len(cont.Events) != 1 {
		t.Fatalf("re-fired: %+v", cont.Events)
	}
}

func TestEDL(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	e, _ := newTestEngine(t, clk)
	src := SourceInfo{Name: "f", Reliability: 100, DefaultConfidence: 90}
	e.Ingest(ctx, "acme", src, []Item{
		{Type: ioc.IPv4, Value: "203.0.113.9"}, {Type: ioc.CIDR, Value: "198.51.100.0/24"}, {Type: ioc.IPv6, Value: "2001:db8::1"},
		{Type: ioc.IPv4, Value: "203.0.113.10", TLP: "red"},
		{Type: ioc.Domain, Value: "evil.example.net"}, {Type: ioc.URL, Value: "https://evil.example.net/a?b=1"},
		{Type: ioc.IPv4, Value: "203.0.113.11", Confidence: 30},
	})
	e.Ingest(ctx, "", src, []Item{{Type: ioc.IPv4, Value: "192.0.2.200"}})
	e.Ingest(ctx, "globex", src, []Item{{Type: ioc.IPv4, Value: "192.0.2.77"}})
	render := func(spec EDLSpec) string {
		var b strings.Builder
		if _, err := e.RenderEDL(ctx, "acme", spec, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if g := render(EDLSpec{Kind: EDLIP, MinScore: 50, MaxTLP: TLPAmber}); g != "192.0.2.200\n198.51.100.0/24\n2001:db8::1\n203.0.113.9\n" {
		t.Errorf("ip list:\n%s", g)
	}
	if g := render(EDLSpec{Kind: EDLIP, MinScore: 50, MaxTLP: TLPAmber, Limit: 2}); strings.Count(g, "\n") != 2 {
		t.Errorf("cap: %q", g)
	}
	if g := render(EDLSpec{Kind: EDLDomain, MaxTLP: TLPClear, Subdomains: true}); g != "*.evil.example.net\nevil.example.net\n" {
		t.Errorf("domain list %q", g)
	}
	if g := render(EDLSpec{Kind: EDLURL, MaxTLP: TLPClear}); g != "evil.example.net/a?b=1\n" {
		t.Errorf("url list %q", g)
	}
	// the handler: tenant from the principal, unknown list 404, no principal 401
	h := e.EDLHandler(nil, time.Minute)
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/edl/{list}", h)
	req := httptest.NewRequest("GET", "/api/v1/edl/ip", nil)
	req = req.WithContext(socbot.WithPrincipal(req.Context(), socbot.Principal{Role: socbot.RoleViewer, TenantID: "globex"}))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "192.0.2.200\n192.0.2.77\n" {
		t.Errorf("handler: %d %q", rec.Code, rec.Body.String())
	}
	req = httptest.NewRequest("GET", "/api/v1/edl/ip?tenant=acme", nil)
	req = req.WithContext(socbot.WithPrincipal(req.Context(), socbot.Principal{Role: socbot.RoleViewer, TenantID: "globex"}))
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != 404 {
		t.Errorf("cross-tenant: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/edl/ip", nil))
	if rec.Code != 401 {
		t.Errorf("anonymous: %d", rec.Code)
	}
}

// plainParse is a minimal parser for scheduler tests: one value per line.
func plainParse(ctx context.Context, format string, f Feed, body io.Reader, emit func(Item) error) error {
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		t, v, ok := ioc.Classify(l)
		if !ok {
			t, v = ioc.Domain, l
		}
		if err := emit(Item{Type: t, Value: v}); err != nil {
			return err
		}
	}
	return sc.Err()
}

func TestScheduler(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	e, _ := newTestEngine(t, clk)
	var mode atomic.Value
	mode.Store("ok")
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch mode.Load().(string) {
		case "ok":
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(304)
				return
			}
			if u, p, _ := r.BasicAuth(); u != "user" || p != "pw" {
				w.WriteHeader(401)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			io.WriteString(w, "# feed\n203.0.113.50\nevil-feed.example.net\n")
		case "500":
			w.WriteHeader(500)
		case "garbage":
			io.WriteString(w, "<html><body>this is not a feed at all</body>\nnope\n</html>\n")
		case "stall":
			io.WriteString(w, "198.51.100.77\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	store := e.Store()
	feed := Feed{Name: "test-feed", TenantID: "acme", URL: srv.URL, Format: "plain", Enabled: true, Reliability: 90,
		DefaultConfidence: 90, Auth: FeedAuth{Username: "user", Password: "pw"}}
	if err := store.PutFeed(ctx, feed); socbot.ErrorField(err) != "auth" {
		t.Fatalf("a feed with a plaintext password was stored: %v", err)
	}
	keys := &xorSealer{}
	if err := SealFeedAuth(keys, &feed); err != nil || feed.Auth.Password != "" || len(feed.SealedAuth) == 0 {
		t.Fatalf("sealing: %v %+v", err, feed)
	}
	if err := store.PutFeed(ctx, feed); err != nil {
		t.Fatal(err)
	}
	s := NewScheduler(SchedulerConfig{Engine: e, Parse: plainParse, Clock: clk, Retries: 1, RetryWait: time.Millisecond, IdleTimeout: 200 * time.Millisecond, Secrets: keys})
	st, err := s.RunFeed(ctx, feed)
	if err != nil || !st.Healthy || st.ETag != `"v1"` || st.LastStats.New != 2 {
		t.Fatalf("first run: %v %+v", err, st)
	}
	st, err = s.RunFeed(ctx, feed)
	if err != nil || !st.NotModified {
		t.Fatalf("conditional GET: %v %+v", err, st)
	}
	count := func() int { return store.(*MemStore).Count() }
	before := count()
	for _, m := range []string{"500", "garbage", "stall"} {
		mode.Store(m)
		st.ETag = ""
		store.PutFeedStatus(ctx, FeedStatus{TenantID: "acme", Name: "test-feed"})
		hits.Store(0)
		st, err = s.RunFeed(ctx, feed)
		if err == nil || st.Healthy || st.Failures != 1 || st.LastError == "" {
			t.Fatalf("%s: %v %+v", m, err, st)
		}
		if count() != before {
			t.Fatalf("%s changed the store (%d -> %d)", m, before, count())
		}
		if m == "500" && hits.Load() != 2 {
			t.Errorf("500 retried %d times", hits.Load())
		}
	}
	// a removed feed leaves its indicators attributed and ageing
	if err := store.DeleteFeed(ctx, "acme", "test-feed"); err != nil {
		t.Fatal(err)
	}
	in, err := e.Get(ctx, "acme", ioc.IPv4, "203.0.113.50")
	if err != nil || in.Sources[0].Name != "test-feed" {
		t.Fatalf("after delete: %v %+v", err, in)
	}
	if err := s.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	clk.t = t0.Add(59 * day)
	if m := e.Match("acme", socbot.ObsIP, "203.0.113.50"); len(m) != 0 {
		t.Fatalf("aged indicator still matches: %+v", m)
	}
}

// xorSealer is a test Sealer bound to the tenant (not encryption: the keyring's own tests cover age).
type xorSealer struct{}

func (xorSealer) Seal(tenant string, p []byte) ([]byte, error) {
	out := []byte(tenant + "\x00")
	for _, b := range p {
		out = append(out, b^0x5a)
	}
	return out, nil
}

func (xorSealer) Open(tenant string, s []byte) ([]byte, error) {
	pre := []byte(tenant + "\x00")
	if len(s) < len(pre) || string(s[:len(pre)]) != string(pre) {
		return nil, socbot.E("xorSealer", socbot.KindForbidden, "sealed for another tenant")
	}
	out := make([]byte, 0, len(s)-len(pre))
	for _, b := range s[len(pre):] {
		out = append(out, b^0x5a)
	}
	return out, nil
}

func TestTLPHelpers(t *testing.T) {
	ins := []Indicator{{Value: "a", TLP: TLPClear}, {Value: "b", TLP: TLPAmber}, {Value: "c", TLP: TLPRed}}
	if g := Shareable(ins, TLPAmber); len(g) != 2 || g[1].Value != "b" {
		t.Errorf("Shareable %+v", g)
	}
	ms := []socbot.IndicatorMatch{{Value: "a", TLP: "green"}, {Value: "b", TLP: "red"}, {Value: "c", TLP: "bogus"}}
	if g := ShareableMatches(ms, TLPAmberStrict); len(g) != 1 || g[0].Value != "a" {
		t.Errorf("ShareableMatches %+v", g)
	}
	if RecipientTLP(socbot.Principal{Role: socbot.RoleViewer, TenantID: "x"}) != TLPAmberStrict || RecipientTLP(socbot.Bot("triage")) != TLPRed {
		t.Error("RecipientTLP")
	}
	for _, s := range []string{"TLP:WHITE", "clear", "tlp:amber+strict", "Red"} {
		if _, ok := ParseTLP(s); !ok {
			t.Errorf("ParseTLP(%q)", s)
		}
	}
	var tl TLP
	if err := tl.UnmarshalText([]byte("purple")); err == nil {
		t.Error("purple TLP accepted")
	}
}

func TestCombineConfidenceAndDecay(t *testing.T) {
	if c := CombineConfidence([]int{80}, []int{100}); c != 80 {
		t.Errorf("single %d", c)
	}
	if c := CombineConfidence([]int{50, 50}, []int{100, 100}); c != 75 {
		t.Errorf("two halves %d", c)
	}
	if c := CombineConfidence([]int{100, 100, 100}, []int{30, 30, 30}); c >= 100 || c < 60 {
		t.Errorf("unreliable sources %d", c)
	}
	m := DecayModel{Lifetime: 100 * day, Speed: 1, Threshold: 20}
	for _, tc := range []struct {
		age  time.Duration
		want int
	}{{0, 80}, {50 * day, 40}, {100 * day, 0}, {200 * day, 0}} {
		if g := m.ScoreAt(80, tc.age); g != tc.want {
			t.Errorf("age %v: %d want %d", tc.age, g, tc.want)
		}
	}
	if (DecayModel{Lifetime: 0}).ScoreAt(70, 1000*day) != 70 {
		t.Error("no-decay model decayed")
	}
}

// TestChangeEventsAcrossNodes: two engines on one store; the second learns the first's writes through
// the change events (the bus in production).
func TestChangeEventsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	store := NewMemStore()
	var events []ChangeEvent
	a := NewEngine(EngineConfig{Store: store, Clock: clk, OnChange: func(ev ChangeEvent) { events = append(events, ev) }})
	var echoes []ChangeEvent
	b := NewEngine(EngineConfig{Store: store, Clock: clk, OnChange: func(ev ChangeEvent) { echoes = append(echoes, ev) }})
	if _, err := a.Ingest(ctx, "acme", SourceInfo{Name: "f", Reliability: 90, DefaultConfidence: 90}, []Item{{Type: ioc.IPv4, Value: "203.0.113.200"}}); err != nil {
		t.Fatal(err)
	}
	if m := b.Match("acme", socbot.ObsIP, "203.0.113.200"); len(m) != 0 {
		t.Fatal("node b matched before the event")
	}
	for _, ev := range events {
		if err := b.Refresh(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if m := b.Match("acme", socbot.ObsIP, "203.0.113.200"); len(m) != 1 {
		t.Fatalf("node b after the event: %+v", m)
	}
	if len(echoes) != 0 {
		t.Fatalf("node b re-published a change it only applied: %+v", echoes)
	}
}

// TestCatchUp: a node that missed the change events (or a command-line import) catches up from the
// store, and does not apply its own writes twice.
func TestCatchUp(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	store := NewMemStore()
	a := NewEngine(EngineConfig{Store: store, Clock: clk})
	b := NewEngine(EngineConfig{Store: store, Clock: clk})
	tenants := func(context.Context) ([]string, error) { return []string{"acme"}, nil }
	cb := b.NewCatchUp(tenants, clk.t, time.Second)
	ca := a.NewCatchUp(tenants, clk.t, time.Second)
	src := SourceInfo{Name: "f", Reliability: 90, DefaultConfidence: 90}
	clk.t = t0.Add(time.Minute)
	if _, err := a.Ingest(ctx, "acme", src, []Item{{Type: ioc.IPv4, Value: "203.0.113.201"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Ingest(ctx, "", src, []Item{{Type: ioc.Domain, Value: "shared-evil.net"}}); err != nil {
		t.Fatal(err)
	}
	if n, err := ca.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("node a re-applied its own writes: %d %v", n, err)
	}
	n, err := cb.Poll(ctx)
	if err != nil || n != 2 {
		t.Fatalf("node b caught up with %d (%v)", n, err)
	}
	if len(b.Match("acme", socbot.ObsIP, "203.0.113.201")) != 1 || len(b.Match("acme", socbot.ObsDomain, "www.shared-evil.net")) != 1 {
		t.Fatal("node b does not match what it caught up with")
	}
	if n, _ := cb.Poll(ctx); n != 0 {
		t.Fatalf("second poll applied %d again", n)
	}
	// a revocation travels the same way
	clk.t = t0.Add(2 * time.Minute)
	if _, err := a.Ingest(ctx, "acme", src, []Item{{Type: ioc.IPv4, Value: "203.0.113.201", Revoked: true}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := cb.Poll(ctx); n != 1 || len(b.Match("acme", socbot.ObsIP, "203.0.113.201")) != 0 {
		t.Fatalf("revocation not caught up (%d)", n)
	}
}

func TestMISPDecayModels(t *testing.T) {
	dir := corpusDirIntel(t)
	f, err := os.Open(filepath.Join(dir, "misp", "decaying-models", "nids-simple-model.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ReadMISPDecayModel(f)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultDecay()
	set := d.Apply(m)
	if len(set) < 4 || d.Model(ioc.URL).Lifetime != 120*day || d.Model(ioc.URL).Speed != 2 || d.Model(ioc.URL).Threshold != 30 {
		t.Fatalf("applied %v: %+v", set, d.Model(ioc.URL))
	}
	// MISP's formula: 80 * (1 - (30/120)^(1/2)) = 40
	if s := d.Model(ioc.Domain).ScoreAt(80, 30*day); s != 40 {
		t.Errorf("score %d", s)
	}
	if _, err := ReadMISPDecayModel(strings.NewReader(`{"formula":"Exponential","parameters":{"lifetime":1,"decay_speed":1}}`)); err == nil {
		t.Error("unsupported formula accepted")
	}
}

func corpusDirIntel(t testing.TB) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("module root not found")
		}
		dir = filepath.Dir(dir)
	}
	c := filepath.Join(dir, "..", "shared", "corpus", "threatintel")
	if _, err := os.Stat(c); err != nil {
		t.Skip("threat-intel corpus not present at ../shared/corpus/threatintel")
	}
	return c
}

// TestEnricherRedactsRestrictedHits: an alert's reasons (which the tenant's own viewers read) carry a
// hit's value and sources only when its marking is within what the tenant may see.
func TestEnricherRedactsRestrictedHits(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	e, _ := newTestEngine(t, clk)
	src := SourceInfo{Name: "secret-isac", Reliability: 100, DefaultConfidence: 90}
	if _, err := e.Ingest(ctx, "acme", src, []Item{{Type: ioc.Domain, Value: "red-c2.net", TLP: "red"}, {Type: ioc.Domain, Value: "green-c2.net", TLP: "green"}}); err != nil {
		t.Fatal(err)
	}
	en := e.Enricher()
	en.Shown = func(string) TLP { return TLPAmber }
	a := &socbot.Alert{UID: "a-2", TenantID: "acme", Observables: []socbot.Observable{{Type: socbot.ObsDomain, Value: "x.red-c2.net"}, {Type: socbot.ObsDomain, Value: "x.green-c2.net"}}}
	out, err := en.Enrich(ctx, "acme", a)
	if err != nil || len(out) != 2 {
		t.Fatalf("%v %+v", err, out)
	}
	for _, x := range out {
		red := strings.Contains(x.Observable, "red-c2")
		if red && (strings.Contains(x.Detail, "secret-isac") || !strings.Contains(x.Detail, "TLP:RED") || x.Ref == "") {
			t.Errorf("restricted hit not redacted: %+v", x)
		}
		if !red && !strings.Contains(x.Detail, "green-c2.net (subdomain") {
			t.Errorf("shareable hit redacted: %+v", x)
		}
	}
}
