package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds"
	"github.com/socbot/socbot/intel"
	intelsvc "github.com/socbot/socbot/intel/service"
	"github.com/socbot/socbot/secrets"
	"github.com/socbot/socbot/taxii"
)

// withIntel gives the API an intel service over the test store (feed credentials sealed with a
// keyring in a temporary directory) and mounts the TAXII server; it returns the service.
func withIntel(t *testing.T, e *env) *intelsvc.Service {
	t.Helper()
	if svc, ok := e.api.Intel.(*intelsvc.Service); ok {
		return svc
	}
	keys, err := secrets.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	eng := intel.NewEngine(intel.EngineConfig{Store: e.store, Logger: quiet})
	tenants := func(ctx context.Context) ([]string, error) {
		return []string{e.tenant["acme"].ID, e.tenant["globex"].ID}, nil
	}
	sched := intel.NewScheduler(intel.SchedulerConfig{Engine: eng, Parse: feeds.Parse, Secrets: keys, Retries: -1, SpoolDir: t.TempDir()})
	svc := intelsvc.New(intelsvc.Config{Engine: eng, Scheduler: sched, Sealer: keys, Tenants: tenants, Log: quiet})
	e.api.Intel = svc
	e.api.MountTAXII(&taxii.Server{Backend: &taxii.IntelBackend{Engine: eng, Tenants: tenants, MaxTLP: svc.Ceiling}})
	return svc
}

const intelFeedKey = "GLOBEX-INTEL-FEED-KEY-0001"

var admin = socbot.Principal{Role: socbot.RoleAdmin, Name: "test:admin"}

// intelVictim gives tenant B an indicator, a feed with credentials, and a sighting (in B's data) of
// an MSSP-wide indicator, each carrying the matrix marker.
func intelVictim(t *testing.T, e *env) map[string]string {
	t.Helper()
	svc := withIntel(t, e)
	ctx := context.Background()
	b := e.tenant["globex"].ID
	bAnalyst := socbot.Principal{Role: socbot.RoleAnalyst, TenantID: b, Name: "test:globex-analyst"}
	if _, err := svc.AddIndicators(ctx, bAnalyst, b, socbot.IntelAdd{Reason: marker, Indicators: []socbot.IntelNewIndicator{
		{Type: "domain", Value: marker + "-c2.net", Confidence: 90, TLP: "green", Description: marker, Tags: []string{marker}}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.PutFeed(ctx, bAnalyst, b, socbot.IntelFeed{Name: "b-feed", URL: "https://" + marker + ".example/list.txt", Format: "plain",
		Tags: []string{marker}, Auth: &socbot.IntelFeedAuth{Header: "Auth-Key", HeaderValue: intelFeedKey}}, marker); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddIndicators(ctx, admin, "", socbot.IntelAdd{Indicators: []socbot.IntelNewIndicator{{Type: "domain", Value: "shared-c2.net", Confidence: 90, TLP: "green"}}}); err != nil {
		t.Fatal(err)
	}
	shared := intel.IndicatorID("domain", "shared-c2.net")
	if _, err := svc.RecordSighting(ctx, bAnalyst, b, shared, socbot.IntelSightingInput{Observed: marker + "-host.shared-c2.net", Ref: marker}); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"intel": intel.IndicatorID("domain", marker+"-c2.net"), "feeds": "b-feed"}
}

func init() { victimSeeders = append(victimSeeders, intelVictim) }

func isIntelRoute(path string) bool {
	return strings.HasPrefix(path, "/intel/") || strings.HasPrefix(path, "/feeds") || strings.HasPrefix(path, "/edl/")
}

// bodyForIntel gives the intel routes valid bodies, so that a refusal is about the tenant.
func bodyForIntel(method, path string) []byte {
	switch {
	case method == "POST" && path == "/intel/indicators":
		return []byte(`{"indicators":[{"type":"domain","value":"pwned-intel.net"}],"reason":"pwned"}`)
	case path == "/intel/indicators/{id}/sightings":
		return []byte(`{"kind":"false_positive","reason":"pwned"}`)
	case path == "/intel/import":
		return []byte("203.0.113.99\npwned-import.net\n")
	case path == "/intel/match":
		return []byte(`{"values":["` + marker + `-c2.net","www.` + marker + `-c2.net"]}`)
	case method == "POST" && path == "/feeds":
		return []byte(`{"name":"pwned-feed","url":"https://pwned.example/x.txt","format":"plain","enabled":true,"auth":{"header":"X","header_value":"pwned"}}`)
	case method == "PUT" && path == "/feeds/{id}":
		return []byte(`{"url":"https://pwned.example/x.txt","format":"plain","enabled":true}`)
	}
	return nil
}

// intelState is everything of tenant B's intel that a route could change or leak.
func intelState(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	b := e.tenant["globex"].ID
	var parts []any
	ins, err := e.store.SearchIndicators(ctx, intel.Filter{TenantID: b, IncludeDead: true})
	parts = append(parts, ins, err)
	fs, err := e.store.Feeds(ctx, b)
	parts = append(parts, fs, err)
	for _, f := range fs {
		st, _ := e.store.FeedStatus(ctx, b, f.Name)
		parts = append(parts, st)
	}
	ss, err := e.store.Sightings(ctx, "", intel.IndicatorID("domain", "shared-c2.net"), b, 0)
	parts = append(parts, ss, err)
	out, _ := json.Marshal(parts)
	return string(out)
}

// TestIntelIsolation: tenant A's roles cannot reach tenant B's indicators, feeds (and their
// credentials), sightings, firewall lists or TAXII collections, naming B or using B's ids in A's own
// scope, and nothing of B's changes. B's own analyst does see them, so the test can fail.
func TestIntelIsolation(t *testing.T) {
	e := newEnv(t)
	ids := seedVictim(t, e)
	before := intelState(t, e)
	victim := e.tenant["globex"]
	n := 0
	for _, rt := range e.api.Routes() {
		if !isIntelRoute(rt.Path) {
			continue
		}
		paths := []string{rt.Path}
		if strings.Contains(rt.Path, "{id}") {
			paths[0] = strings.Replace(rt.Path, "{id}", ids[strings.Split(strings.TrimPrefix(rt.Path, "/"), "/")[0]], 1)
		}
		if strings.Contains(rt.Path, "{list}") {
			paths = []string{strings.Replace(rt.Path, "{list}", "domain", 1), strings.Replace(rt.Path, "{list}", "url", 1)}
		}
		for _, path := range paths {
			for _, role := range []string{"analyst", "viewer", "ingest"} {
				for _, scope := range []string{"?tenant=" + victim.ID, "?tenant=" + victim.Name, ""} {
					r := e.do(rt.Method, "/api/v1"+path+scope, e.tokens["acme/"+role], bodyFor(rt.Method, rt.Path))
					n++
					if bytes.Contains(bytes.ToLower(r.body), []byte(marker)) || bytes.Contains(r.body, []byte(intelFeedKey)) {
						t.Errorf("%s %s%s as acme/%s revealed tenant B's data: %d %s", rt.Method, path, scope, role, r.code, r.body)
					}
					if scope != "" && r.code < 400 {
						t.Errorf("%s %s%s as acme/%s: status %d, want a refusal", rt.Method, path, scope, role, r.code)
					}
					if scope == "" && strings.Contains(rt.Path, "{id}") && r.code < 400 {
						t.Errorf("%s %s as acme/%s reached B's object: %d %s", rt.Method, path, role, r.code, r.body)
					}
				}
			}
		}
	}
	// the shared indicator: A sees it, not the sighting B made of it
	shared := intel.IndicatorID("domain", "shared-c2.net")
	r := e.do("GET", "/api/v1/intel/indicators/"+shared, e.tokens["acme/analyst"], nil)
	if r.code != 200 || bytes.Contains(bytes.ToLower(r.body), []byte(marker)) {
		t.Errorf("acme reading the shared indicator: %d %s", r.code, r.body)
	}
	// TAXII: A's tokens see the shared root and their own, never B's
	for _, role := range []string{"analyst", "viewer"} {
		tok := e.tokens["acme/"+role]
		r := taxiiDo(t, e, "GET", "/taxii2/", tok, nil)
		if r.code != 200 || bytes.Contains(r.body, []byte(victim.ID)) {
			t.Errorf("TAXII discovery as acme/%s: %d %s", role, r.code, r.body)
		}
		for _, p := range []string{"/collections/", "/collections/indicators/objects/", "/collections/indicators/manifest/"} {
			if r := taxiiDo(t, e, "GET", "/taxii2/"+victim.ID+p, tok, nil); r.code != 404 || bytes.Contains(bytes.ToLower(r.body), []byte(marker)) {
				t.Errorf("TAXII %s of B as acme/%s: %d %s", p, role, r.code, r.body)
			}
		}
		if r := taxiiDo(t, e, "GET", "/taxii2/shared/collections/indicators/objects/", tok, nil); r.code != 200 || bytes.Contains(bytes.ToLower(r.body), []byte(marker)) {
			t.Errorf("TAXII shared objects as acme/%s: %d %s", role, r.code, r.body)
		}
		n += 5
	}
	if after := intelState(t, e); after != before {
		t.Errorf("tenant B's intel changed under tenant A's requests:\nbefore %s\nafter  %s", before, after)
	}
	t.Logf("%d requests", n)
	// B's own analyst does see B's indicator, sighting, feed and list
	bTok := e.tokens["globex/analyst"]
	for _, p := range []string{"/api/v1/intel/indicators/" + ids["intel"], "/api/v1/intel/indicators/" + shared, "/api/v1/feeds/b-feed", "/api/v1/edl/domain"} {
		if r := e.do("GET", p, bTok, nil); r.code != 200 || !bytes.Contains(bytes.ToLower(r.body), []byte(marker)) || bytes.Contains(r.body, []byte(intelFeedKey)) {
			t.Fatalf("tenant B's analyst: GET %s: %d %s", p, r.code, r.body)
		}
	}
	if r := taxiiDo(t, e, "GET", "/taxii2/"+victim.ID+"/collections/indicators/objects/", bTok, nil); r.code != 200 || !bytes.Contains(r.body, []byte(marker)) {
		t.Fatalf("tenant B's analyst over TAXII: %d %s", r.code, r.body)
	}
}

// taxiiDo sends a TAXII request with the token as HTTP Basic password, as TAXII clients do.
func taxiiDo(t *testing.T, e *env, method, path, token string, body []byte, hdr ...string) result {
	t.Helper()
	h := []string{"Accept", taxii.MediaType}
	if token != "" {
		h = append(h, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("client:"+token)))
	}
	return e.do(method, path, "", body, append(h, hdr...)...)
}

func TestIntelUnavailableWithoutService(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/api/v1/intel/indicators", e.tokens["acme/analyst"], nil); r.code != 503 {
		t.Fatalf("without the intel bot: %d %s", r.code, r.body)
	}
}

// TestIntelTLP: every way out caps what a caller receives at its ceiling: a tenant's viewers get at
// most AMBER (their client's), its analysts AMBER+STRICT, MSSP staff RED.
func TestIntelTLP(t *testing.T) {
	e := newEnv(t)
	svc := withIntel(t, e)
	ctx := context.Background()
	acme := e.tenant["acme"].ID
	var add []socbot.IntelNewIndicator
	for _, tlp := range []string{"clear", "green", "amber", "amber+strict", "red"} {
		v := "tlp-" + strings.ReplaceAll(tlp, "+", "-") + ".net"
		add = append(add, socbot.IntelNewIndicator{Type: "domain", Value: v, Confidence: 95, TLP: tlp})
	}
	if _, err := svc.AddIndicators(ctx, admin, acme, socbot.IntelAdd{Indicators: add, Reliability: 100}); err != nil {
		t.Fatal(err)
	}
	seen := func(body []byte) string {
		var out []string
		for _, tlp := range []string{"clear", "green", "amber", "amber-strict", "red"} {
			if bytes.Contains(body, []byte("tlp-"+tlp+".net")) {
				out = append(out, tlp)
			}
		}
		return strings.Join(out, ",")
	}
	tokens := map[string]string{"viewer": e.tokens["acme/viewer"], "analyst": e.tokens["acme/analyst"], "admin": e.tokens["admin"]}
	want := map[string]string{"viewer": "clear,green,amber", "analyst": "clear,green,amber,amber-strict", "admin": "clear,green,amber,amber-strict,red"}
	for who, tok := range tokens {
		q := ""
		if who == "admin" {
			q = "?tenant=acme"
		}
		amp := "?"
		if q != "" {
			amp = "&"
		}
		checks := map[string][]byte{
			"search": e.do("GET", "/api/v1/intel/indicators"+q, tok, nil).body,
			"match":  e.do("POST", "/api/v1/intel/match"+q, tok, []byte(`{"values":["a.tlp-clear.net","a.tlp-green.net","a.tlp-amber.net","a.tlp-amber-strict.net","a.tlp-red.net"]}`)).body,
			"stix":   e.do("GET", "/api/v1/intel/export/stix"+q+amp+"tlp=red", tok, nil).body,
			"misp":   e.do("GET", "/api/v1/intel/export/misp"+q+amp+"tlp=red", tok, nil).body,
		}
		for what, body := range checks {
			if got := seen(body); got != want[who] {
				t.Errorf("%s as %s sees %q, want %q: %s", what, who, got, want[who], body)
			}
		}
		r := e.do("GET", "/api/v1/intel/indicators/"+intel.IndicatorID("domain", "tlp-red.net")+q, tok, nil)
		if (who == "admin") != (r.code == 200) {
			t.Errorf("the RED indicator by id as %s: %d", who, r.code)
		}
	}
	// the firewall list is configured at most GREEN; a viewer narrowing it to CLEAR gets CLEAR only
	if r := e.do("GET", "/api/v1/edl/domain", tokens["viewer"], nil); seen(r.body) != "clear,green" || r.code != 200 {
		t.Errorf("edl: %d %q", r.code, r.body)
	}
	if r := e.do("GET", "/api/v1/edl/domain?tlp=clear&max_age=1d", tokens["viewer"], nil); seen(r.body) != "clear" {
		t.Errorf("edl narrowed: %q", r.body)
	}
	// TAXII: a viewer's collection stops at AMBER too
	r := taxiiDo(t, e, "GET", "/taxii2/"+acme+"/collections/indicators/objects/", tokens["viewer"], nil)
	if r.code != 200 || seen(r.body) != "clear,green,amber" {
		t.Errorf("TAXII objects as viewer: %d %q", r.code, seen(r.body))
	}
}

// TestIntelIndicatorsAndSightings: search filters, detail, an analyst's addition, import and
// verdicts through the API, all audited.
func TestIntelIndicatorsAndSightings(t *testing.T) {
	e := newEnv(t)
	withIntel(t, e)
	tok := e.tokens["acme/analyst"]
	r := e.do("POST", "/api/v1/intel/indicators", tok, []byte(`{"indicators":[{"type":"ipv4","value":"203.0.113[.]5","confidence":80,"tags":["c2"]},
		{"type":"domain","value":"phish-login.net","tlp":"green"},{"type":"domain","value":"not a domain"}],"reason":"case 42"}`))
	if r.code != 200 || !strings.Contains(string(r.body), `"new":2`) || !strings.Contains(string(r.body), `"invalid":1`) {
		t.Fatalf("add: %d %s", r.code, r.body)
	}
	r = e.do("POST", "/api/v1/intel/import?source=partner&format=csv&option=value=v&option=type_column=t&confidence=90&reliability=90&tlp=green",
		tok, []byte("v,t\nhttp://dropper.example.org/a.exe,url\n203.0.113.5,ipv4\n"))
	if r.code != 200 || !strings.Contains(string(r.body), `"new":1`) || !strings.Contains(string(r.body), `"updated":1`) {
		t.Fatalf("import: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/api/v1/intel/import?format=nonsense", tok, []byte("x")); r.code != 400 {
		t.Fatalf("import in an unknown format: %d %s", r.code, r.body)
	}
	var page struct{ Indicators []socbot.IntelIndicator }
	e.do("GET", "/api/v1/intel/indicators?type=ipv4&tag=c2", tok, nil).json(t, &page)
	if len(page.Indicators) != 1 || len(page.Indicators[0].Sources) != 2 || !page.Indicators[0].Active {
		t.Fatalf("search by type and tag: %+v", page.Indicators)
	}
	id := page.Indicators[0].ID
	e.do("GET", "/api/v1/intel/indicators?value=hxxp://dropper.example[.]org/a.exe", tok, nil).json(t, &page)
	if len(page.Indicators) != 1 || page.Indicators[0].Type != "url" {
		t.Fatalf("search by exact value: %+v", page.Indicators)
	}
	e.do("GET", "/api/v1/intel/indicators?source=partner&min_score=10&active=true", tok, nil).json(t, &page)
	if len(page.Indicators) != 2 {
		t.Fatalf("search by source: %+v", page.Indicators)
	}
	if r := e.do("GET", "/api/v1/intel/indicators?type=bogus", tok, nil); r.code != 400 {
		t.Fatalf("unknown type: %d", r.code)
	}
	// a sighting, then a false-positive verdict
	r = e.do("POST", "/api/v1/intel/indicators/"+id+"/sightings", tok, []byte(`{"observed":"203.0.113.5","ref":"INC-7"}`))
	var in socbot.IntelIndicator
	r.json(t, &in)
	if r.code != 200 || in.SightingCount != 1 || len(in.Sightings) != 1 || in.Sightings[0].Ref != "INC-7" {
		t.Fatalf("sighting: %d %s", r.code, r.body)
	}
	score := in.Score
	e.do("POST", "/api/v1/intel/indicators/"+id+"/sightings", tok, []byte(`{"kind":"false_positive","ref":"INC-7","reason":"our proxy"}`)).json(t, &in)
	if in.FalsePositives != 1 || in.Score >= score {
		t.Fatalf("false positive: %+v", in)
	}
	// an analyst cannot judge an MSSP-wide indicator, only report seeing it
	svc := e.api.Intel.(*intelsvc.Service)
	if _, err := svc.AddIndicators(context.Background(), admin, "", socbot.IntelAdd{Indicators: []socbot.IntelNewIndicator{{Type: "domain", Value: "mssp-wide.net"}}}); err != nil {
		t.Fatal(err)
	}
	mssp := intel.IndicatorID("domain", "mssp-wide.net")
	if r := e.do("POST", "/api/v1/intel/indicators/"+mssp+"/sightings", tok, []byte(`{"kind":"expiration"}`)); r.code != 403 {
		t.Fatalf("tenant verdict on a shared indicator: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/api/v1/intel/indicators/"+mssp+"/sightings", tok, []byte(`{"observed":"x.mssp-wide.net"}`)); r.code != 200 {
		t.Fatalf("tenant sighting of a shared indicator: %d %s", r.code, r.body)
	}
	// a viewer may read and match, not write
	if r := e.do("POST", "/api/v1/intel/indicators", e.tokens["acme/viewer"], bodyForIntel("POST", "/intel/indicators")); r.code != 403 {
		t.Fatalf("viewer adding: %d", r.code)
	}
	r = e.do("POST", "/api/v1/intel/match", e.tokens["acme/viewer"], []byte(`{"values":["https://www.phish-login.net/login"]}`))
	if r.code != 200 || !strings.Contains(string(r.body), `"why":"url_host"`) {
		t.Fatalf("match: %d %s", r.code, r.body)
	}
	// audited with the person and the reason
	entries, err := e.store.AuditEntries(context.Background(), e.tenant["acme"].ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, x := range entries {
		if strings.HasPrefix(x.Action, "intel.") {
			acts = append(acts, x.Action+"/"+x.Reason)
		}
	}
	if got := strings.Join(acts, " "); !strings.Contains(got, "intel.indicators.put/case 42") || !strings.Contains(got, "intel.sightings.add/our proxy") {
		t.Fatalf("audit: %s", got)
	}
}

// TestIntelFeeds: credentials go in sealed and never come out; a run with them collects; health is
// in the listing; a deleted feed leaves its indicators attributed.
func TestIntelFeeds(t *testing.T) {
	e := newEnv(t)
	withIntel(t, e)
	tok := e.tokens["acme/analyst"]
	var calls atomic.Int32
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Auth-Key") != "s3cret-feed-key" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, "# list\n198.51.100.23\nfeed-c2.net\n")
	}))
	defer feed.Close()
	body := `{"name":"tf","url":"` + feed.URL + `/list","format":"plain","interval":"1h","enabled":true,"reliability":90,"default_confidence":90,
		"tlp":"green","auth":{"header":"Auth-Key","header_value":"s3cret-feed-key"},"reason":"new partner feed"}`
	r := e.do("POST", "/api/v1/feeds", tok, []byte(body))
	if r.code != 201 || strings.Contains(string(r.body), "s3cret") || !strings.Contains(string(r.body), `"credentials_set":true`) {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	var raw []byte
	if err := e.store.DB().QueryRow(`SELECT config || CAST(auth_sealed AS TEXT) FROM intel_feeds WHERE name = 'tf'`).Scan(&raw); err != nil || bytes.Contains(raw, []byte("s3cret")) {
		t.Fatalf("stored feed holds the plaintext credential: %v %q", err, raw)
	}
	r = e.do("POST", "/api/v1/feeds/tf/run", tok, nil)
	if r.code != 200 || !strings.Contains(string(r.body), `"healthy":true`) || !strings.Contains(string(r.body), `"new":2`) || strings.Contains(string(r.body), "s3cret") {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	// replacing without auth keeps the credentials
	r = e.do("PUT", "/api/v1/feeds/tf", tok, []byte(`{"url":"`+feed.URL+`/list","format":"plain","interval":"2h","enabled":true,"reliability":90}`))
	if r.code != 200 || !strings.Contains(string(r.body), `"credentials_set":true`) {
		t.Fatalf("replace: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/api/v1/feeds/tf/run", tok, nil); !strings.Contains(string(r.body), `"healthy":true`) {
		t.Fatalf("run after replace: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/feeds", tok, nil); r.code != 200 || !strings.Contains(string(r.body), `"interval":"2h0m0s"`) || !strings.Contains(string(r.body), `"consecutive_failures":0`) {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	for _, bad := range []string{`{"name":"x y","url":"https://a.example/"}`, `{"name":"ok","url":"ftp://a.example/"}`, `{"name":"ok","url":"https://a.example/","format":"nope"}`, `{"name":"ok","url":"https://a.example/","interval":"5s"}`} {
		if r := e.do("POST", "/api/v1/feeds", tok, []byte(bad)); r.code != 400 {
			t.Errorf("bad feed %s: %d %s", bad, r.code, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/feeds", e.tokens["acme/viewer"], nil); r.code != 403 {
		t.Fatalf("viewer listing feeds: %d", r.code)
	}
	if r := e.do("DELETE", "/api/v1/feeds/tf?reason=retired", tok, nil); r.code != 204 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/api/v1/feeds/tf", tok, nil); r.code != 404 {
		t.Fatalf("deleted feed: %d", r.code)
	}
	var page struct{ Indicators []socbot.IntelIndicator }
	e.do("GET", "/api/v1/intel/indicators?source=tf", tok, nil).json(t, &page)
	if len(page.Indicators) != 2 || !page.Indicators[0].Active {
		t.Fatalf("indicators of the deleted feed: %+v", page.Indicators)
	}
}

// TestTAXIIMounted: the TAXII server answers at /taxii2/ with the API's tokens (Basic or Bearer), in
// the TAXII media types, and refuses wrong ones.
func TestTAXIIMounted(t *testing.T) {
	e := newEnv(t)
	svc := withIntel(t, e)
	acme := e.tenant["acme"].ID
	var add []socbot.IntelNewIndicator
	for _, v := range []string{"one-c2.net", "two-c2.net", "three-c2.net"} {
		add = append(add, socbot.IntelNewIndicator{Type: "domain", Value: v, Confidence: 90, TLP: "green"})
	}
	if _, err := svc.AddIndicators(context.Background(), admin, acme, socbot.IntelAdd{Indicators: add}); err != nil {
		t.Fatal(err)
	}
	tok := e.tokens["acme/analyst"]
	if r := taxiiDo(t, e, "GET", "/taxii2/", "", nil); r.code != 401 {
		t.Fatalf("no credentials: %d", r.code)
	}
	if r := e.do("GET", "/taxii2/", tok, nil, "Accept", taxii.MediaType); r.code != 200 {
		t.Fatalf("bearer token: %d %s", r.code, r.body)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/taxii2/"+acme+"/collections/indicators/objects/?limit=2", nil)
	req.SetBasicAuth("client", tok)
	req.Header.Set("Accept", taxii.MediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env taxii.Envelope
	json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != taxii.MediaType || len(env.Objects) != 2 || !env.More || env.Next == "" ||
		resp.Header.Get(taxii.HeaderDateAddedLast) == "" {
		t.Fatalf("objects page: %d %q %+v", resp.StatusCode, resp.Header.Get("Content-Type"), env)
	}
	r := taxiiDo(t, e, "GET", "/taxii2/"+acme+"/collections/indicators/objects/?limit=2&next="+env.Next, tok, nil)
	var env2 taxii.Envelope
	r.json(t, &env2)
	if len(env2.Objects) != 1 || env2.More {
		t.Fatalf("second page: %s", r.body)
	}
	if r := e.do("GET", "/taxii2/", tok, nil, "Accept", "application/json"); r.code != 406 {
		t.Fatalf("wrong Accept: %d", r.code)
	}
	obj := `{"objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--0d3c5e6a-6b8a-4a3c-9c1d-1b2c3d4e5f60","created":"2026-01-01T00:00:00.000Z",
		"modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.44']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`
	if r := taxiiDo(t, e, "POST", "/taxii2/"+acme+"/collections/indicators/objects/", tok, []byte(obj), "Content-Type", "application/json"); r.code != 415 {
		t.Fatalf("wrong Content-Type: %d", r.code)
	}
	r = taxiiDo(t, e, "POST", "/taxii2/"+acme+"/collections/indicators/objects/", tok, []byte(obj), "Content-Type", taxii.MediaType)
	if r.code != 202 || !strings.Contains(string(r.body), `"success_count":1`) {
		t.Fatalf("post: %d %s", r.code, r.body)
	}
	if r := taxiiDo(t, e, "POST", "/taxii2/"+acme+"/collections/indicators/objects/", e.tokens["acme/viewer"], []byte(obj), "Content-Type", taxii.MediaType); r.code != 403 {
		t.Fatalf("viewer post: %d %s", r.code, r.body)
	}
}
