package taxii

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
	"github.com/socbot/socbot/stix"
)

// authMiddleware stands in for the API's token middleware: basic or bearer credentials to principals.
func authMiddleware(next http.Handler) http.Handler {
	users := map[string]socbot.Principal{
		"admin:pw":  {Role: socbot.RoleAdmin, Name: "admin"},
		"acme:pw":   {Role: socbot.RoleAnalyst, TenantID: "acme", Name: "acme-analyst"},
		"viewer:pw": {Role: socbot.RoleViewer, TenantID: "acme", Name: "acme-viewer"},
		"globex:pw": {Role: socbot.RoleAnalyst, TenantID: "globex", Name: "globex-analyst"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var key string
		if u, p, ok := r.BasicAuth(); ok {
			key = u + ":" + p
		} else if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key = t
		}
		if p, ok := users[key]; ok {
			r = r.WithContext(socbot.WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

func serve(t *testing.T, b Backend) (*httptest.Server, string) {
	mux := http.NewServeMux()
	mux.Handle("/taxii2/", authMiddleware(&Server{Backend: b, Title: "test", DefaultRoot: "api1", MaxPage: 100}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, srv.URL + "/taxii2/"
}

func memFixture(t *testing.T) *MemBackend {
	m := NewMemBackend()
	m.AddRoot("api1", "", APIRoot{Title: "shared"})
	m.AddRoot("acme-root", "acme", APIRoot{Title: "acme only"})
	m.AddCollection("api1", Collection{ID: "c1", Title: "feed", CanRead: true, CanWrite: true})
	m.AddCollection("api1", Collection{ID: "c2", Title: "write only", CanRead: false, CanWrite: true})
	m.AddCollection("acme-root", Collection{ID: "c3", Title: "acme", CanRead: true})
	b, err := os.ReadFile("testdata/objects.json")
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	json.Unmarshal(b, &raws)
	base := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	for i, raw := range raws {
		o, err := ObjectFromRaw(raw, base.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		m.Put("api1", "c1", o)
	}
	return m
}

func TestServerAndClient(t *testing.T) {
	ctx := context.Background()
	srv, base := serve(t, memFixture(t))
	c := &Client{HTTP: srv.Client(), Username: "acme", Password: "pw"}
	d, err := c.Discovery(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.APIRoots) != 2 || d.Default != base+"api1/" {
		t.Fatalf("discovery %+v", d)
	}
	other := &Client{HTTP: srv.Client(), Token: "globex:pw"}
	if d2, _ := other.Discovery(ctx, base); len(d2.APIRoots) != 1 {
		t.Fatalf("globex sees %v", d2.APIRoots)
	}
	if _, err := other.Collections(ctx, base+"acme-root/"); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Fatalf("cross-tenant root: %v", err)
	}
	root := base + "api1/"
	info, err := c.APIRoot(ctx, root)
	if err != nil || info.Title != "shared" || info.Versions[0] != MediaType {
		t.Fatalf("api root %+v %v", info, err)
	}
	cs, err := c.Collections(ctx, root)
	if err != nil || len(cs) != 2 {
		t.Fatalf("collections %+v %v", cs, err)
	}
	// versions: default last -> 5 objects; all -> 6
	env, h, err := c.Objects(ctx, root, "c1", Query{})
	if err != nil || len(env.Objects) != 5 || env.More {
		t.Fatalf("objects: %d more=%v %v", len(env.Objects), env.More, err)
	}
	if h.Get(HeaderDateAddedFirst) == "" || h.Get(HeaderDateAddedLast) == "" {
		t.Error("date-added headers missing")
	}
	all, _, _ := c.Objects(ctx, root, "c1", Query{Versions: []string{"all"}})
	first, _, _ := c.Objects(ctx, root, "c1", Query{Versions: []string{"first"}, Types: []string{"indicator"}})
	if len(all.Objects) != 6 || len(first.Objects) != 4 {
		t.Errorf("all %d first %d", len(all.Objects), len(first.Objects))
	}
	// paging with next
	var seen []string
	q := Query{Limit: 2}
	for i := 0; i < 10; i++ {
		env, _, err := c.Objects(ctx, root, "c1", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range env.Objects {
			_, id, _, _ := stix.DecodeObject(o)
			seen = append(seen, id)
		}
		if !env.More {
			break
		}
		q.Next = env.Next
	}
	if len(seen) != 5 {
		t.Errorf("paged %d objects: %v", len(seen), seen)
	}
	// manifest, versions, one object, added_after
	m, err := c.Manifest(ctx, root, "c1", Query{})
	if err != nil || len(m.Objects) != 5 || m.Objects[0].DateAdded == "" {
		t.Errorf("manifest %+v %v", m, err)
	}
	var v Versions
	if _, err := c.getJSON(ctx, root+"collections/c1/objects/indicator--a1a1a1a1-0000-4000-8000-000000000002/versions/", &v); err != nil || len(v.Versions) != 2 {
		t.Errorf("versions %+v %v", v, err)
	}
	after, _, _ := c.Objects(ctx, root, "c1", Query{AddedAfter: time.Date(2026, 1, 3, 0, 3, 30, 0, time.UTC)})
	if len(after.Objects) != 2 {
		t.Errorf("added_after gave %d", len(after.Objects))
	}
	// unreadable collection, POST with status, duplicate version failure, viewer cannot write
	if _, _, err := c.Objects(ctx, root, "c2", Query{}); !socbot.IsKind(err, socbot.KindForbidden) {
		t.Errorf("unreadable: %v", err)
	}
	obj := json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--b2b2b2b2-0000-4000-8000-000000000009","created":"2026-01-05T00:00:00.000Z","modified":"2026-01-05T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.99']","pattern_type":"stix","valid_from":"2026-01-05T00:00:00Z"}`)
	st, err := c.AddObjects(ctx, root, "c1", []json.RawMessage{obj, obj})
	if err != nil || st.SuccessCount != 1 || st.FailureCount != 1 || st.TotalCount != 2 {
		t.Fatalf("post status %+v %v", st, err)
	}
	if st2, err := c.Status(ctx, root, st.ID); err != nil || st2.SuccessCount != 1 {
		t.Errorf("status %+v %v", st2, err)
	}
	viewer := &Client{HTTP: srv.Client(), Username: "viewer", Password: "pw"}
	if _, err := viewer.AddObjects(ctx, root, "c1", []json.RawMessage{obj}); !socbot.IsKind(err, socbot.KindForbidden) {
		t.Errorf("viewer wrote: %v", err)
	}
	// media types and authentication
	for _, tc := range []struct {
		method, accept, ctype string
		auth                  bool
		want                  int
	}{
		{"GET", "application/json", "", true, 406},
		{"GET", "application/taxii+json;version=2.0", "", true, 406},
		{"POST", MediaType, "application/json", true, 415},
		{"GET", MediaType, "", false, 401},
	} {
		req, _ := http.NewRequest(tc.method, root+"collections/c1/objects/", strings.NewReader(`{"objects":[]}`))
		req.Header.Set("Accept", tc.accept)
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		if tc.auth {
			req.SetBasicAuth("acme", "pw")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s accept=%q ctype=%q: %d, want %d", tc.method, tc.accept, tc.ctype, resp.StatusCode, tc.want)
		}
	}
}

// noNext wraps a server and removes "next" from envelopes, to exercise the date-added fallback.
func noNext(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		var env map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &env) == nil {
			delete(env, "next")
			w.WriteHeader(rec.Code)
			json.NewEncoder(w).Encode(env)
			return
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func TestWalkFallbackAndCollector(t *testing.T) {
	ctx := context.Background()
	for _, fallback := range []bool{false, true} {
		var h http.Handler = authMiddleware(&Server{Backend: memFixture(t), MaxPage: 2})
		if fallback {
			h = noNext(h)
		}
		mux := http.NewServeMux()
		mux.Handle("/taxii2/", h)
		srv := httptest.NewServer(mux)
		c := &Client{HTTP: srv.Client(), Username: "admin", Password: "pw"}
		var ids []string
		last, err := c.Walk(ctx, srv.URL+"/taxii2/api1/", "c1", time.Time{}, 2, func(rd *stix.Reader) error {
			for {
				var raw json.RawMessage
				if err := rd.Read(&raw); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				_, id, _, _ := stix.DecodeObject(raw)
				ids = append(ids, id)
			}
		})
		if err != nil || len(ids) != 5 || last.IsZero() {
			t.Fatalf("fallback=%v: %v %d %v", fallback, err, len(ids), last)
		}
		// the collector through the scheduler: items ingested, cursor kept, nothing new next time
		clk := &fakeClock{time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)}
		eng := intel.NewEngine(intel.EngineConfig{Clock: clk})
		sch := intel.NewScheduler(intel.SchedulerConfig{Engine: eng, Clock: clk, Collectors: map[string]intel.Collector{"taxii": &Collector{HTTP: srv.Client(), PageSize: 2}}})
		feed := intel.Feed{Name: "isac", URL: srv.URL + "/taxii2/api1/collections/c1/", Format: "taxii", Enabled: true, Auth: intel.FeedAuth{Username: "admin", Password: "pw"}}
		st, err := sch.RunFeed(ctx, feed)
		if err != nil || !st.Healthy || st.LastStats.New != 5 || st.Cursor == "" {
			t.Fatalf("fallback=%v collector: %v %+v", fallback, err, st)
		}
		if m := eng.Match("acme", socbot.ObsDomain, "www.taxii-two.example.net"); len(m) != 1 {
			t.Errorf("collected indicator does not match: %+v", m)
		}
		st, err = sch.RunFeed(ctx, feed)
		if err != nil || !st.NotModified {
			t.Errorf("second run: %v %+v", err, st)
		}
		srv.Close()
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestIntelBackend(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)}
	eng := intel.NewEngine(intel.EngineConfig{Clock: clk})
	src := intel.SourceInfo{Name: "f", Reliability: 100, DefaultConfidence: 90}
	eng.Ingest(ctx, "acme", src, []intel.Item{{Type: ioc.IPv4, Value: "198.51.100.1", TLP: "green"}, {Type: ioc.IPv4, Value: "198.51.100.2", TLP: "red"}})
	eng.Ingest(ctx, "globex", src, []intel.Item{{Type: ioc.IPv4, Value: "198.51.100.3"}})
	eng.Ingest(ctx, "", src, []intel.Item{{Type: ioc.Domain, Value: "shared.example.net"}})
	b := &IntelBackend{Engine: eng, Tenants: func(context.Context) ([]string, error) { return []string{"acme", "globex"}, nil }}
	srv, base := serve(t, b)
	acme := &Client{HTTP: srv.Client(), Username: "acme", Password: "pw"}
	admin := &Client{HTTP: srv.Client(), Username: "admin", Password: "pw"}
	d, _ := acme.Discovery(ctx, base)
	da, _ := admin.Discovery(ctx, base)
	if len(d.APIRoots) != 2 || len(da.APIRoots) != 3 {
		t.Fatalf("roots: acme %v admin %v", d.APIRoots, da.APIRoots)
	}
	values := func(c *Client, root string) []string {
		env, _, err := c.Objects(ctx, base+root+"/", "indicators", Query{})
		if err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		var out []string
		for _, raw := range env.Objects {
			var o struct{ Pattern string }
			json.Unmarshal(raw, &o)
			out = append(out, o.Pattern)
		}
		sort.Strings(out)
		return out
	}
	if g := values(acme, "acme"); len(g) != 1 || !strings.Contains(g[0], "198.51.100.1") {
		t.Errorf("acme sees %v (the RED one must not be served to a tenant user)", g)
	}
	if g := values(admin, "acme"); len(g) != 2 {
		t.Errorf("admin sees %v", g)
	}
	if g := values(acme, SharedRoot); len(g) != 1 {
		t.Errorf("shared %v", g)
	}
	if _, _, err := acme.Objects(ctx, base+"globex/", "indicators", Query{}); !socbot.IsKind(err, socbot.KindNotFound) {
		t.Errorf("acme read globex: %v", err)
	}
	// post an indicator into acme
	obj := json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--c3c3c3c3-0000-4000-8000-000000000001","created":"2026-01-05T00:00:00.000Z","modified":"2026-01-05T00:00:00.000Z","pattern":"[url:value = 'http://posted.example.net/a']","pattern_type":"stix","valid_from":"2026-01-05T00:00:00Z"}`)
	bad := json.RawMessage(`{"type":"malware","spec_version":"2.1","id":"malware--c3c3c3c3-0000-4000-8000-000000000002","created":"2026-01-05T00:00:00.000Z","modified":"2026-01-05T00:00:00.000Z","name":"x","is_family":true}`)
	st, err := acme.AddObjects(ctx, base+"acme/", "indicators", []json.RawMessage{obj, bad})
	if err != nil || st.SuccessCount != 1 || st.FailureCount != 1 {
		t.Fatalf("post %+v %v", st, err)
	}
	if m := eng.Match("acme", socbot.ObsURL, "http://posted.example.net/a"); len(m) != 1 || m[0].Sources[0] != "taxii:acme-analyst" {
		t.Errorf("posted indicator: %+v", m)
	}
	if _, err := acme.AddObjects(ctx, base+SharedRoot+"/", "indicators", []json.RawMessage{obj}); !socbot.IsKind(err, socbot.KindForbidden) {
		t.Errorf("tenant wrote to shared: %v", err)
	}
}

func corpusDir(t testing.TB) string {
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

// TestMedallionFake runs the client against a server backed by the OASIS reference server's data.
func TestMedallionFake(t *testing.T) {
	ctx := context.Background()
	f, err := os.Open(filepath.Join(corpusDir(t), "taxii21", "medallion-default_data.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, disc, err := LoadMedallion(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if disc.Title != "Some TAXII Server" || len(disc.APIRoots) != 3 {
		t.Fatalf("discovery %+v", disc)
	}
	srv, base := serve(t, m)
	c := &Client{HTTP: srv.Client(), Username: "admin", Password: "pw"}
	d, err := c.Discovery(ctx, base)
	if err != nil || len(d.APIRoots) != 3 {
		t.Fatalf("discovery %+v %v", d, err)
	}
	root := base + "trustgroup1/"
	cs, err := c.Collections(ctx, root)
	if err != nil || len(cs) != 5 {
		t.Fatalf("collections %d %v", len(cs), err)
	}
	const hv = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	env, h, err := c.Objects(ctx, root, hv, Query{})
	if err != nil {
		t.Fatal(err)
	}
	allv, _, _ := c.Objects(ctx, root, hv, Query{Versions: []string{"all"}})
	t.Logf("high value collection: %d objects (last versions), %d versions, added %s .. %s", len(env.Objects), len(allv.Objects), h.Get(HeaderDateAddedFirst), h.Get(HeaderDateAddedLast))
	if len(env.Objects) != 5 || len(allv.Objects) != 8 {
		t.Errorf("objects %d versions %d, want 5 and 8", len(env.Objects), len(allv.Objects))
	}
	ids, _, _ := c.Objects(ctx, root, hv, Query{IDs: []string{"indicator--6770298f-0fd8-471a-ab8c-1c658a46574e"}, Versions: []string{"all"}})
	if len(ids.Objects) != 3 {
		t.Errorf("versions of one indicator: %d", len(ids.Objects))
	}
	st, err := c.Status(ctx, root, "2d086da7-4bdc-4f91-900e-d77486753710")
	if err != nil || st.TotalCount != 4 || st.Status != "pending" {
		t.Errorf("status %+v %v", st, err)
	}
	if _, _, err := c.Objects(ctx, root, "64993447-4d7e-4f70-b94d-d7f33742ee63", Query{}); !socbot.IsKind(err, socbot.KindForbidden) {
		t.Errorf("secret collection: %v", err)
	}
	// the collector imports the collection's indicators
	eng := intel.NewEngine(intel.EngineConfig{Clock: &fakeClock{time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)}})
	sch := intel.NewScheduler(intel.SchedulerConfig{Engine: eng, Collectors: map[string]intel.Collector{"taxii": &Collector{HTTP: srv.Client()}}})
	fst, err := sch.RunFeed(ctx, intel.Feed{Name: "medallion", URL: root, Format: "taxii", Enabled: true, Options: map[string]string{"collection": hv}, Auth: intel.FeedAuth{BearerToken: "admin:pw"}})
	if err != nil || fst.LastStats.Items == 0 {
		t.Fatalf("collector: %v %+v", err, fst)
	}
	t.Logf("collector: %+v", fst.LastStats)
}

func FuzzServerPost(f *testing.F) {
	f.Add([]byte(`{"objects":[{"type":"indicator","id":"indicator--1","modified":"2026-01-01T00:00:00Z","pattern":"[a:b = 'c']"}]}`))
	f.Add([]byte(`{"more": true}`))
	b := memFixture(&testing.T{})
	h := authMiddleware(&Server{Backend: b})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/taxii2/api1/collections/c1/objects/", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", MediaType)
		req.SetBasicAuth("admin", "pw")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 202 && rec.Code != 400 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}
