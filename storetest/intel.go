package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// The intel bot's store (intel.Store) on both engines. RunIntel is also called by the intel
// package's own tests on intel.MemStore, so the reference store and the SQL store are held to the
// same behaviour.

func init() {
	Add("Intel", func(t *testing.T, in Instance) {
		st, ok := in.Store.(intel.Store)
		if !ok {
			t.Fatalf("%T does not implement intel.Store", in.Store)
		}
		RunIntel(t, IntelInstance{Store: st, Clock: in.Clock, Audit: in.Store})
	})
}

// IntelInstance is one fresh, empty intel store; Audit (optional) reads the audit log it writes to.
type IntelInstance struct {
	Store intel.Store
	Clock *Clock
	Audit interface {
		AuditEntries(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]socbot.AuditEntry, error)
	}
}

// RunIntel runs the intel store tests on one store, as subtests sharing it (each uses its own tenants).
func RunIntel(t *testing.T, in IntelInstance) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, in IntelInstance)
	}{
		{"RoundTrip", testIntelRoundTrip},
		{"Filters", testIntelFilters},
		{"Paging", testIntelPaging},
		{"Sightings", testIntelSightings},
		{"Feeds", testIntelFeeds},
		{"Bulk", testIntelBulk},
		{"Merge", testIntelMerge},
		{"MergeAllOrNothing", testIntelMergeAllOrNothing},
		{"Cursor", testIntelCursor},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, in) })
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mkIndicator(tenant string, typ ioc.Type, value string, mod time.Time) intel.Indicator {
	return intel.Indicator{ID: intel.IndicatorID(typ, value), TenantID: tenant, Type: typ, Value: value,
		Sources:   []intel.Source{{Name: "feed-a", Reliability: 80, Confidence: 70, FirstSeen: mod.Add(-time.Hour), LastSeen: mod}},
		FirstSeen: mod.Add(-time.Hour), LastSeen: mod, Confidence: 56, TLP: intel.TLPGreen, Created: mod, Modified: mod}
}

// ids maps "type:value" keys to indicator ids.
func ids(keys ...string) []string {
	var out []string
	for _, k := range keys {
		t, v, _ := strings.Cut(k, ":")
		out = append(out, intel.IndicatorID(ioc.Type(t), v))
	}
	return out
}

func keysOf(ins []intel.Indicator) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.TenantID+"/"+in.Key())
	}
	return out
}

func testIntelRoundTrip(t *testing.T, in IntelInstance) {
	s := in.Store
	full := intel.Indicator{ID: intel.IndicatorID(ioc.Domain, "evil.example.net"), TenantID: "rt-a", Type: ioc.Domain, Value: "evil.example.net",
		Sources: []intel.Source{
			{Name: "feed-a", Reliability: 80, Confidence: 70, FirstSeen: t0.Add(-48 * time.Hour), LastSeen: t0, Ref: "evt-1", ValidUntil: t0.Add(90 * 24 * time.Hour)},
			{Name: `analyst:token:x ("quoted")`, Reliability: 60, Confidence: 90, FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(-time.Minute), Disabled: true},
		},
		FirstSeen: t0.Add(-48 * time.Hour), LastSeen: t0, Confidence: 77, TLP: intel.TLPAmber, Tags: []string{"c2", `we"ird`},
		KillChain:   []intel.KillChainPhase{{KillChain: "mitre-attack", Phase: "command-and-control"}},
		Description: "line one\nline two <b>", Pattern: "[domain-name:value = 'evil.example.net']", Sightings: 3,
		LastSighting: t0.Add(time.Hour), FalsePos: 1, FilteredBy: "", Created: t0.Add(-48 * time.Hour), Modified: t0.Add(123456 * time.Microsecond)}
	other := mkIndicator("rt-b", ioc.Domain, "evil.example.net", t0)
	mssp := mkIndicator("", ioc.IPv4, "203.0.113.7", t0)
	must(t, s.PutIndicators(ctx(), []intel.Indicator{full, other, mssp}))
	got, err := s.GetIndicators(ctx(), "rt-a", ids("domain:evil.example.net", "ipv4:203.0.113.7", "url:http://nothing/"))
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("GetIndicators of rt-a: %v", keysOf(got))
	}
	if !reflect.DeepEqual(got[0], full) {
		t.Fatalf("round trip changed the indicator:\n got  %+v\n want %+v", got[0], full)
	}
	// replace: the new version wins entirely
	upd := full
	upd.Sources = upd.Sources[:1]
	upd.Tags = nil
	upd.KillChain = nil
	upd.Revoked = true
	upd.Description = ""
	upd.Modified = t0.Add(2 * time.Hour)
	must(t, s.PutIndicators(ctx(), []intel.Indicator{upd}))
	got, err = s.GetIndicators(ctx(), "rt-a", ids("domain:evil.example.net"))
	must(t, err)
	if len(got) != 1 || !reflect.DeepEqual(got[0], upd) {
		t.Fatalf("after replace: %+v\nwant %+v", got, upd)
	}
	// MSSP-wide set is tenant ""
	got, err = s.GetIndicators(ctx(), "", ids("ipv4:203.0.113.7", "domain:evil.example.net"))
	must(t, err)
	if len(got) != 1 || got[0].TenantID != "" || got[0].Value != "203.0.113.7" {
		t.Fatalf("MSSP-wide get: %v", keysOf(got))
	}
	// all or nothing: an invalid indicator refuses the whole call
	bad := mkIndicator("rt-a", ioc.IPv4, "198.51.100.1", t0)
	broken := bad
	broken.ID = ""
	if err := s.PutIndicators(ctx(), []intel.Indicator{bad, broken}); err == nil {
		t.Fatal("a batch with an invalid indicator was accepted")
	}
	got, _ = s.GetIndicators(ctx(), "rt-a", ids("ipv4:198.51.100.1"))
	if len(got) != 0 {
		t.Fatalf("part of a refused batch was stored: %v", keysOf(got))
	}
	if in.Audit == nil {
		return // the reference MemStore keeps text as given
	}
	// text that PostgreSQL cannot store as is (invalid UTF-8, NUL) is cleaned, not refused
	odd := mkIndicator("rt-a", ioc.URL, "http://odd.example/\x00x", t0)
	odd.Description = "bad \xff byte"
	must(t, s.PutIndicators(ctx(), []intel.Indicator{odd}))
	found, err := s.SearchIndicators(ctx(), intel.Filter{TenantID: "rt-a", Types: []ioc.Type{ioc.URL}})
	must(t, err)
	if len(found) != 1 || !utf8.ValidString(found[0].Description) || strings.ContainsRune(found[0].Value, 0) {
		t.Fatalf("odd text: %+v", found)
	}
}

func testIntelFilters(t *testing.T, in IntelInstance) {
	s := in.Store
	var all []intel.Indicator
	add := func(tenant string, typ ioc.Type, v string, mut func(*intel.Indicator)) {
		x := mkIndicator(tenant, typ, v, t0.Add(time.Duration(len(all))*time.Minute))
		if mut != nil {
			mut(&x)
		}
		all = append(all, x)
	}
	add("fl-a", ioc.Domain, "alpha.example.com", func(x *intel.Indicator) { x.Tags = []string{"c2", "apt"} })
	add("fl-a", ioc.Domain, "beta.example.com", func(x *intel.Indicator) { x.Tags = []string{`x"c2`} })
	add("fl-a", ioc.IPv4, "192.0.2.10", func(x *intel.Indicator) {
		x.Sources = append(x.Sources, intel.Source{Name: "feed-b", Confidence: 50, Reliability: 50, FirstSeen: t0, LastSeen: t0})
	})
	add("fl-a", ioc.URL, "http://Alpha.example.com/Path", func(x *intel.Indicator) { x.TLP = intel.TLPRed })
	add("fl-a", ioc.SHA256, strings.Repeat("ab", 32), func(x *intel.Indicator) { x.Revoked = true })
	add("fl-a", ioc.MD5, strings.Repeat("cd", 16), func(x *intel.Indicator) { x.FilteredBy = "list" })
	add("fl-b", ioc.Domain, "alpha.example.com", nil)
	add("", ioc.Domain, "alpha.example.org", func(x *intel.Indicator) { x.Sources[0].Name = "feed-b" })
	must(t, s.PutIndicators(ctx(), all))
	red := intel.TLPAmber
	cases := []struct {
		name string
		f    intel.Filter
		want []string
	}{
		{"tenant", intel.Filter{TenantID: "fl-a"}, []string{"fl-a/domain:alpha.example.com", "fl-a/domain:beta.example.com", "fl-a/ipv4:192.0.2.10", "fl-a/url:http://Alpha.example.com/Path"}},
		{"none", intel.Filter{TenantID: "fl-c"}, nil},
		{"with mssp", intel.Filter{TenantID: "fl-b", WithMSSP: true, Types: []ioc.Type{ioc.Domain}}, []string{"/domain:alpha.example.org", "fl-b/domain:alpha.example.com"}},
		{"dead too", intel.Filter{TenantID: "fl-a", Types: []ioc.Type{ioc.MD5, ioc.SHA256}, IncludeDead: true}, []string{"fl-a/md5:" + strings.Repeat("cd", 16), "fl-a/sha256:" + strings.Repeat("ab", 32)}},
		{"types", intel.Filter{TenantID: "fl-a", Types: []ioc.Type{ioc.IPv4, ioc.URL}}, []string{"fl-a/ipv4:192.0.2.10", "fl-a/url:http://Alpha.example.com/Path"}},
		{"ids", intel.Filter{TenantID: "fl-a", IDs: []string{intel.IndicatorID(ioc.IPv4, "192.0.2.10")}}, []string{"fl-a/ipv4:192.0.2.10"}},
		{"prefix", intel.Filter{TenantID: "fl-a", ValuePrefix: "alpha."}, []string{"fl-a/domain:alpha.example.com"}},
		{"prefix as given", intel.Filter{TenantID: "fl-a", ValuePrefix: "http://Alpha"}, []string{"fl-a/url:http://Alpha.example.com/Path"}},
		{"prefix lowered", intel.Filter{TenantID: "fl-a", ValuePrefix: "ALPHA.EXAMPLE"}, []string{"fl-a/domain:alpha.example.com"}},
		{"source", intel.Filter{TenantID: "*", Source: "feed-b"}, []string{"/domain:alpha.example.org", "fl-a/ipv4:192.0.2.10"}},
		{"source is exact", intel.Filter{TenantID: "*", Source: "feed"}, nil},
		{"tag", intel.Filter{TenantID: "fl-a", Tag: "c2"}, []string{"fl-a/domain:alpha.example.com"}},
		{"tlp", intel.Filter{TenantID: "fl-a", MaxTLP: &red, Types: []ioc.Type{ioc.URL, ioc.IPv4}}, []string{"fl-a/ipv4:192.0.2.10"}},
		{"modified since", intel.Filter{TenantID: "fl-b", WithMSSP: true, ModifiedSince: t0.Add(5 * time.Minute)}, []string{"/domain:alpha.example.org", "fl-b/domain:alpha.example.com"}},
		{"every tenant", intel.Filter{TenantID: "*", ValuePrefix: "alpha.example.com"}, []string{"fl-a/domain:alpha.example.com", "fl-b/domain:alpha.example.com"}},
	}
	for _, c := range cases {
		var got []string
		must(t, s.ScanIndicators(ctx(), c.f, func(x *intel.Indicator) error {
			got = append(got, x.TenantID+"/"+x.Key())
			return nil
		}))
		sort.Strings(got)
		sliceEq(t, c.name, got, c.want)
	}
	// search: newest first, limit and offset
	page, err := s.SearchIndicators(ctx(), intel.Filter{TenantID: "fl-a", IncludeDead: true, Limit: 2, Offset: 1})
	must(t, err)
	sliceEq(t, "search page", keysOf(page), []string{"fl-a/sha256:" + strings.Repeat("ab", 32), "fl-a/url:http://Alpha.example.com/Path"})
	rest, err := s.SearchIndicators(ctx(), intel.Filter{TenantID: "fl-a", IncludeDead: true, Offset: 4})
	must(t, err)
	sliceEq(t, "search offset without limit", keysOf(rest), []string{"fl-a/domain:beta.example.com", "fl-a/domain:alpha.example.com"})
	// a scan callback may write to the store
	n := 0
	must(t, s.ScanIndicators(ctx(), intel.Filter{TenantID: "fl-b"}, func(x *intel.Indicator) error {
		n++
		c := *x
		c.Confidence = 99
		return s.PutIndicators(ctx(), []intel.Indicator{c})
	}))
	got, _ := s.GetIndicators(ctx(), "fl-b", ids("domain:alpha.example.com"))
	if n != 1 || len(got) != 1 || got[0].Confidence != 99 {
		t.Fatalf("write inside a scan: %d %+v", n, got)
	}
}

func testIntelPaging(t *testing.T, in IntelInstance) {
	s := in.Store
	// 2,500 indicators (more than one internal page), many sharing a modified time
	var all []intel.Indicator
	for i := 0; i < 2500; i++ {
		x := mkIndicator("pg-a", ioc.IPv4, fmt.Sprintf("10.%d.%d.%d", i/65536, (i/256)%256, i%256), t0.Add(time.Duration(i/100)*time.Second))
		all = append(all, x)
	}
	must(t, s.PutIndicators(ctx(), all))
	n := 0
	var prev string
	must(t, s.ScanIndicators(ctx(), intel.Filter{TenantID: "pg-a"}, func(x *intel.Indicator) error {
		if x.ID <= prev {
			t.Fatalf("scan out of (tenant, id) order: %s after %s", x.ID, prev)
		}
		prev = x.ID
		n++
		return nil
	}))
	eq(t, "scanned", n, 2500)
	// keyset paging over (modified, id): every indicator exactly once, in order
	seen := map[string]bool{}
	f := intel.Filter{TenantID: "pg-a", Ascending: true, Limit: 333}
	var lastMod time.Time
	var lastID string
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		page, err := s.SearchIndicators(ctx(), f)
		must(t, err)
		for _, x := range page {
			if seen[x.ID] {
				t.Fatalf("%s twice", x.Value)
			}
			seen[x.ID] = true
			if x.Modified.Before(lastMod) || x.Modified.Equal(lastMod) && x.ID <= lastID {
				t.Fatalf("page out of order: %v %s after %v %s", x.Modified, x.ID, lastMod, lastID)
			}
			lastMod, lastID = x.Modified, x.ID
		}
		if len(page) < f.Limit {
			break
		}
		f.AfterModified, f.AfterID = lastMod, lastID
	}
	eq(t, "paged", len(seen), 2500)
}

func testIntelSightings(t *testing.T, in IntelInstance) {
	s := in.Store
	id := intel.IndicatorID(ioc.Domain, "shared.example.net")
	sg := func(seenBy, ref string, kind int, at time.Duration) intel.Sighting {
		return intel.Sighting{TenantID: "", SeenBy: seenBy, IndicatorID: id, Type: ioc.Domain, Value: "shared.example.net",
			Observed: "www.shared.example.net", Source: "triage", Ref: ref, Kind: kind, At: t0.Add(at * time.Second)}
	}
	fresh, err := s.AddSightings(ctx(), []intel.Sighting{sg("sg-a", "alert-1", 0, 1), sg("sg-a", "alert-1", 0, 2), sg("sg-b", "alert-1", 0, 3),
		sg("sg-a", "", 0, 4), sg("sg-a", "", 0, 5), sg("sg-a", "alert-1", intel.SightingFalsePositive, 6)})
	must(t, err)
	eq(t, "fresh sightings", len(fresh), 5)
	fresh, err = s.AddSightings(ctx(), []intel.Sighting{sg("sg-a", "alert-1", 0, 7), sg("sg-b", "alert-2", 0, 8)})
	must(t, err)
	if len(fresh) != 1 || fresh[0].Ref != "alert-2" {
		t.Fatalf("redelivery: %+v", fresh)
	}
	a, err := s.Sightings(ctx(), "", id, "sg-a", 0)
	must(t, err)
	eq(t, "sg-a's sightings", len(a), 4)
	for i, x := range a {
		if x.SeenBy != "sg-a" {
			t.Fatalf("tenant sg-a sees a sighting of %s", x.SeenBy)
		}
		if i > 0 && x.At.After(a[i-1].At) {
			t.Fatal("sightings not newest first")
		}
	}
	if a[0].Kind != intel.SightingFalsePositive || a[0].Observed != "www.shared.example.net" || !a[0].At.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("newest: %+v", a[0])
	}
	b, err := s.Sightings(ctx(), "", id, "sg-b", 1)
	must(t, err)
	if len(b) != 1 || b[0].Ref != "alert-2" {
		t.Fatalf("sg-b limit 1: %+v", b)
	}
	everyone, err := s.Sightings(ctx(), "", id, "*", 0)
	must(t, err)
	eq(t, "all sightings", len(everyone), 6)
	none, err := s.Sightings(ctx(), "sg-a", id, "*", 0)
	must(t, err)
	eq(t, "another owner's indicator", len(none), 0)
	if _, err := s.AddSightings(ctx(), []intel.Sighting{{Source: "x"}}); err == nil {
		t.Fatal("a sighting without an indicator id was accepted")
	}
}

func testIntelFeeds(t *testing.T, in IntelInstance) {
	s := in.Store
	var seq int64
	if in.Audit != nil {
		before, err := in.Audit.AuditEntries(ctx(), "", 0, 10000)
		must(t, err)
		if len(before) > 0 {
			seq = before[len(before)-1].Seq
		}
	}
	f := intel.Feed{Name: "tf", TenantID: "fd-a", URL: "https://threatfox.example/api", Format: "threatfox-json", Enabled: true,
		Interval: socbot.Duration(time.Hour), Reliability: 80, TLP: "green", Tags: []string{"x"},
		Auth: intel.FeedAuth{Header: "Auth-Key", HeaderValue: "s3cret"}, Options: map[string]string{"days": "1"}}
	err := s.PutFeed(ctx(), f)
	wantField(t, err, "auth")
	f.Auth.HeaderValue = ""
	f.SealedAuth = []byte("sealed-bytes")
	actx := intel.WithAudit(ctx(), admin, "new feed")
	must(t, s.PutFeed(actx, f))
	must(t, s.PutFeed(ctx(), intel.Feed{Name: "other", TenantID: "fd-b", URL: "https://b.example/list.txt", Format: "plain"}))
	must(t, s.PutFeed(ctx(), intel.Feed{Name: "mssp", URL: "https://m.example/list.txt", Enabled: true}))
	got, err := s.Feeds(ctx(), "fd-a")
	must(t, err)
	if len(got) != 1 || got[0].Name != "tf" || string(got[0].SealedAuth) != "sealed-bytes" || got[0].Auth.Header != "Auth-Key" ||
		got[0].Auth.HeaderValue != "" || got[0].Options["days"] != "1" || time.Duration(got[0].Interval) != time.Hour || !got[0].Enabled {
		t.Fatalf("feeds of fd-a: %+v", got)
	}
	every, err := s.Feeds(ctx(), "*")
	must(t, err)
	var names []string
	for _, x := range every {
		if strings.HasPrefix(x.TenantID, "fd-") || x.TenantID == "" {
			names = append(names, x.TenantID+"/"+x.Name)
		}
	}
	sliceEq(t, "every feed", names, []string{"/mssp", "fd-a/tf", "fd-b/other"})
	// update keeps one row
	f.Enabled = false
	must(t, s.PutFeed(actx, f))
	got, _ = s.Feeds(ctx(), "fd-a")
	if len(got) != 1 || got[0].Enabled {
		t.Fatalf("after update: %+v", got)
	}
	// status
	_, err = s.FeedStatus(ctx(), "fd-a", "tf")
	wantKind(t, err, socbot.KindNotFound)
	st := intel.FeedStatus{TenantID: "fd-a", Name: "tf", ETag: `"v1"`, LastModified: "Mon, 02 Jan 2026 15:04:05 GMT", Cursor: "c",
		LastAttempt: t0, LastSuccess: t0, Healthy: true, LastStatus: 200, LastStats: intel.IngestStats{Items: 10, New: 9, Invalid: 1}}
	must(t, s.PutFeedStatus(ctx(), st))
	st.Failures, st.Healthy, st.LastError = 2, false, "HTTP 500"
	must(t, s.PutFeedStatus(ctx(), st))
	back, err := s.FeedStatus(ctx(), "fd-a", "tf")
	must(t, err)
	if !reflect.DeepEqual(back, st) {
		t.Fatalf("status round trip:\n got  %+v\n want %+v", back, st)
	}
	// the collection lease lets one node of many run a due feed
	if l, ok := s.(intel.FeedLeaser); ok {
		claim := func(owner string, at time.Duration) bool {
			got, err := l.ClaimFeedRun(ctx(), "fd-a", "tf", owner, t0.Add(at), t0.Add(at+10*time.Minute))
			must(t, err)
			return got
		}
		if !claim("node-1", 0) || claim("node-2", time.Minute) || !claim("node-1", 2*time.Minute) || !claim("node-2", 13*time.Minute) {
			t.Fatal("feed lease: wrong claims")
		}
		back, err := s.FeedStatus(ctx(), "fd-a", "tf")
		must(t, err)
		if !reflect.DeepEqual(back, st) {
			t.Fatalf("claiming the lease changed the status:\n got  %+v\n want %+v", back, st)
		}
		must(t, s.PutFeedStatus(ctx(), st))
		if claim("node-1", 14*time.Minute) {
			t.Fatal("saving the status released node-2's lease")
		}
	}
	// delete: config and status go, NotFound afterwards
	must(t, s.DeleteFeed(actx, "fd-a", "tf"))
	wantKind(t, s.DeleteFeed(ctx(), "fd-a", "tf"), socbot.KindNotFound)
	wantKind(t, s.DeleteFeed(ctx(), "fd-a", "other"), socbot.KindNotFound) // another tenant's feed
	_, err = s.FeedStatus(ctx(), "fd-a", "tf")
	wantKind(t, err, socbot.KindNotFound)
	if got, _ := s.Feeds(ctx(), "fd-b"); len(got) != 1 {
		t.Fatalf("deleting fd-a's feed touched fd-b: %+v", got)
	}
	if in.Audit == nil {
		return
	}
	// every feed change is audited, with the person when one is attached; indicator writes only then
	must(t, s.PutIndicators(ctx(), []intel.Indicator{mkIndicator("fd-a", ioc.IPv4, "192.0.2.200", t0)}))
	must(t, s.PutIndicators(actx, []intel.Indicator{mkIndicator("fd-a", ioc.IPv4, "192.0.2.201", t0)}))
	entries, err := in.Audit.AuditEntries(ctx(), "", seq, 10000)
	must(t, err)
	var acts []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "intel.") {
			acts = append(acts, e.TenantID+" "+e.Action+" "+e.Actor)
			if strings.Contains(e.Details, "s3cret") || strings.Contains(e.Details, "sealed-bytes") {
				t.Fatalf("audit entry leaks credentials: %+v", e)
			}
		}
	}
	sliceEq(t, "audit", acts, []string{"fd-a intel.feed.create test:admin", "fd-b intel.feed.create bot:intel", " intel.feed.create bot:intel",
		"fd-a intel.feed.update test:admin", "fd-a intel.feed.delete test:admin", "fd-a intel.indicators.put test:admin"})
}

func testIntelBulk(t *testing.T, in IntelInstance) {
	s := in.Store
	// one call of 1,234 indicators (statements of many rows and a short last one), then an overlapping
	// call that updates half and adds more
	var batch []intel.Indicator
	for i := 0; i < 1234; i++ {
		batch = append(batch, mkIndicator("bk-a", ioc.Domain, fmt.Sprintf("host-%04d.bulk.example", i), t0))
	}
	must(t, s.PutIndicators(ctx(), batch))
	var keys []string
	for _, x := range batch {
		keys = append(keys, x.ID)
	}
	got, err := s.GetIndicators(ctx(), "bk-a", keys)
	must(t, err)
	eq(t, "bulk get", len(got), 1234)
	var second []intel.Indicator
	for i := 617; i < 1900; i++ {
		x := mkIndicator("bk-a", ioc.Domain, fmt.Sprintf("host-%04d.bulk.example", i), t0.Add(time.Hour))
		x.Confidence = 90
		second = append(second, x)
	}
	must(t, s.PutIndicators(ctx(), second))
	n, updated := 0, 0
	must(t, s.ScanIndicators(ctx(), intel.Filter{TenantID: "bk-a"}, func(x *intel.Indicator) error {
		n++
		if x.Confidence == 90 {
			updated++
		}
		return nil
	}))
	eq(t, "after overlap", n, 1900)
	eq(t, "updated", updated, 1900-617)
	// the index view, when the store offers it, is what the engine would make of each indicator
	sc, ok := s.(intel.IndexScanner)
	if !ok {
		return
	}
	want := map[string]intel.IndexEntry{}
	must(t, s.ScanIndicators(ctx(), intel.Filter{TenantID: "*"}, func(x *intel.Indicator) error {
		want[x.TenantID+"/"+x.Key()] = intel.EntryOf(x)
		return nil
	}))
	seen := 0
	must(t, sc.ScanIndexEntries(ctx(), nil, func(e *intel.IndexEntry) error {
		seen++
		w := want[e.TenantID+"/"+string(e.Type)+":"+e.Value]
		if len(w.Sources) == 0 {
			w.Sources = nil
		}
		if !reflect.DeepEqual(*e, w) {
			t.Fatalf("index entry:\n got  %+v\n want %+v", *e, w)
		}
		return nil
	}))
	eq(t, "index entries", seen, len(want))
	seen = 0
	must(t, sc.ScanIndexEntries(ctx(), []string{"bk-a", "nobody"}, func(e *intel.IndexEntry) error {
		if e.TenantID != "bk-a" {
			t.Fatalf("scan of bk-a returned %q's entry", e.TenantID)
		}
		seen++
		return nil
	}))
	eq(t, "index entries of bk-a", seen, 1900)
}

// mergeFixture is a batch for MergeIndicators: n domains of one tenant, as an import would make them
// (source "feed-m"), with modified time mod.
func mergeFixture(tenant string, from, to int, mod time.Time) []intel.Indicator {
	var out []intel.Indicator
	for i := from; i < to; i++ {
		x := mkIndicator(tenant, ioc.Domain, fmt.Sprintf("m-%05d.merge.example", i), mod)
		x.Sources[0].Name = "feed-m"
		x.Tags = []string{"fresh"}
		out = append(out, x)
	}
	return out
}

// addSource is the merge callback of the tests: the stored indicator gains a source "feed-m"
// (unchanged when it has it), and its old source names are recorded in seen.
func addSource(batch []intel.Indicator, seen map[string][]string) func(int, *intel.Indicator) bool {
	return func(i int, stored *intel.Indicator) bool {
		if stored.ID != batch[i].ID || stored.TenantID != batch[i].TenantID {
			panic(fmt.Sprintf("merge of %s got the stored %s", batch[i].ID, stored.ID))
		}
		seen[stored.Value] = stored.SourceNames()
		for _, x := range stored.Sources {
			if x.Name == "feed-m" {
				return false
			}
		}
		stored.Sources = append(stored.Sources, batch[i].Sources[0])
		stored.Modified = batch[i].Modified
		return true
	}
}

func testIntelMerge(t *testing.T, in IntelInstance) {
	m, ok := in.Store.(intel.IndicatorMerger)
	if !ok {
		t.Skip("the store has no MergeIndicators")
	}
	s := in.Store
	byValue := func(tenant string, from, to int) map[string]intel.Indicator {
		var ids []string
		for _, x := range mergeFixture(tenant, from, to, t0) {
			ids = append(ids, x.ID)
		}
		got, err := s.GetIndicators(ctx(), tenant, ids)
		must(t, err)
		out := map[string]intel.Indicator{}
		for _, x := range got {
			out[x.Value] = x
		}
		return out
	}
	// check merges batch and holds the outcomes and the stored rows to what was stored before
	check := func(name string, batch []intel.Indicator, from, to int) []intel.MergeOutcome {
		t.Helper()
		tenant := batch[0].TenantID
		before := byValue(tenant, from, to)
		seen := map[string][]string{}
		out, err := m.MergeIndicators(ctx(), tenant, batch, addSource(batch, seen))
		must(t, err)
		eq(t, name+": outcomes", len(out), len(batch))
		after := byValue(tenant, from, to)
		for i, o := range out {
			x := &batch[i]
			old, had := before[x.Value]
			var want intel.MergeOutcome
			switch {
			case had && slices.Contains(old.SourceNames(), "feed-m"):
				want = intel.MergeUnchanged
			case had:
				want = intel.MergeUpdated
			case x.Revoked:
				want = intel.MergeSkipped
			default:
				want = intel.MergeInserted
			}
			if o != want {
				t.Fatalf("%s: %s: outcome %d, want %d", name, x.Value, o, want)
			}
			g, ok := after[x.Value]
			switch o {
			case intel.MergeInserted:
				if !ok || !reflect.DeepEqual(g, *x) {
					t.Fatalf("%s: inserted %s:\n got  %+v\n want %+v", name, x.Value, g, *x)
				}
			case intel.MergeUpdated:
				if !reflect.DeepEqual(seen[x.Value], old.SourceNames()) {
					t.Fatalf("%s: merge of %s saw sources %v, stored %v", name, x.Value, seen[x.Value], old.SourceNames())
				}
				want := old
				want.Sources = append(slices.Clone(old.Sources), x.Sources[0])
				want.Modified = x.Modified
				if !reflect.DeepEqual(g, want) {
					t.Fatalf("%s: merged %s:\n got  %+v\n want %+v", name, x.Value, g, want)
				}
			case intel.MergeUnchanged:
				if !reflect.DeepEqual(g, old) {
					t.Fatalf("%s: unchanged %s was rewritten:\n got  %+v\n was  %+v", name, x.Value, g, old)
				}
			case intel.MergeSkipped:
				if ok {
					t.Fatalf("%s: the revocation of %s stored it", name, x.Value)
				}
			}
		}
		return out
	}
	// nothing stored but one value: new rows go in blind, the chunk that holds the stored value is
	// merged the slow way without losing its new rows
	one := mkIndicator("mg-a", ioc.Domain, "m-01234.merge.example", t0)
	must(t, s.PutIndicators(ctx(), []intel.Indicator{one}))
	batch := mergeFixture("mg-a", 0, 3000, t0.Add(time.Hour))
	batch[7].Revoked = true // a revocation of a value never stored: nothing stored
	check("mostly new", batch, 0, 3000)
	// a third stored (a feed read again with additions): chunks are merged the slow way; one value
	// already has the source (unchanged), one stored value is revoked (merged)
	again := mergeFixture("mg-a", 2000, 5000, t0.Add(2*time.Hour))
	for i := range again {
		again[i].Sources[0].Name = "feed-n"
	}
	again[0].Revoked = true
	must(t, s.PutIndicators(ctx(), []intel.Indicator{mergeFixture("mg-a", 4999, 5000, t0)[0]}))
	check("a third stored", again, 2000, 5000)
	// everything stored (but the one revoked first) and nothing new from the source: nothing changes
	out := check("all stored", mergeFixture("mg-a", 0, 1000, t0.Add(3*time.Hour)), 0, 1000)
	for i, o := range out {
		if o != intel.MergeUnchanged && i != 7 {
			t.Fatalf("a feed read twice: outcome %d", o)
		}
	}
	// other tenants are other indicators
	check("another tenant", mergeFixture("mg-b", 0, 3, t0), 0, 3)
	// the index view of merged rows is what the engine makes of them
	if sc, ok := s.(intel.IndexScanner); ok {
		all := byValue("mg-a", 0, 5000)
		n := 0
		must(t, sc.ScanIndexEntries(ctx(), []string{"mg-a"}, func(e *intel.IndexEntry) error {
			x := all[e.Value]
			if w := intel.EntryOf(&x); !reflect.DeepEqual(*e, w) {
				t.Fatalf("index entry after merges:\n got  %+v\n want %+v", *e, w)
			}
			n++
			return nil
		}))
		eq(t, "index entries", n, len(all))
	}
	if in.Audit == nil {
		return
	}
	var seq int64
	if before, err := in.Audit.AuditEntries(ctx(), "mg-c", 0, 10000); err == nil && len(before) > 0 {
		seq = before[len(before)-1].Seq
	}
	c := mergeFixture("mg-c", 0, 5, t0)
	_, err := m.MergeIndicators(intel.WithAudit(ctx(), admin, "import"), "mg-c", c, addSource(c, map[string][]string{}))
	must(t, err)
	entries, err := in.Audit.AuditEntries(ctx(), "mg-c", seq, 100)
	must(t, err)
	if len(entries) != 1 || entries[0].Action != "intel.indicators.put" || entries[0].Actor != "test:admin" || !strings.Contains(entries[0].Details, `"count":5`) {
		t.Fatalf("audit of a merge: %+v", entries)
	}
}

func testIntelMergeAllOrNothing(t *testing.T, in IntelInstance) {
	m, ok := in.Store.(intel.IndicatorMerger)
	if !ok {
		t.Skip("the store has no MergeIndicators")
	}
	s := in.Store
	must(t, s.PutIndicators(ctx(), mergeFixture("mn-a", 0, 10, t0)))
	never := func(int, *intel.Indicator) bool { t.Fatal("merge called for a refused batch"); return false }
	bad := func(mut func(b []intel.Indicator) []intel.Indicator) []intel.Indicator {
		return mut(mergeFixture("mn-a", 5, 1200, t0.Add(time.Hour)))
	}
	for name, b := range map[string][]intel.Indicator{
		"no id":          bad(func(b []intel.Indicator) []intel.Indicator { b[1100].ID = ""; return b }),
		"id not an id":   bad(func(b []intel.Indicator) []intel.Indicator { b[700].ID = strings.ToUpper(b[700].ID); return b }),
		"another tenant": bad(func(b []intel.Indicator) []intel.Indicator { b[900].TenantID = "mn-b"; return b }),
		"twice":          bad(func(b []intel.Indicator) []intel.Indicator { return append(b, b[3]) }),
		"no type":        bad(func(b []intel.Indicator) []intel.Indicator { b[0].Type = ""; return b }),
	} {
		if _, err := m.MergeIndicators(ctx(), "mn-a", b, never); err == nil {
			t.Fatalf("%s: the batch was accepted", name)
		}
	}
	n := 0
	must(t, s.ScanIndicators(ctx(), intel.Filter{TenantID: "*", ValuePrefix: "m-"}, func(x *intel.Indicator) error {
		if strings.HasPrefix(x.TenantID, "mn-") {
			n++
			if !x.Modified.Equal(t0) {
				t.Fatalf("a refused batch changed %s", x.Value)
			}
		}
		return nil
	}))
	eq(t, "after refused batches", n, 10)
	// a failing write (a cancelled context) leaves nothing behind either
	cctx, cancel := context.WithCancel(ctx())
	calls := 0
	_, err := m.MergeIndicators(cctx, "mn-a", mergeFixture("mn-a", 0, 1500, t0.Add(time.Hour)), func(i int, stored *intel.Indicator) bool {
		calls++
		cancel()
		stored.Confidence = 1
		return true
	})
	if err == nil {
		t.Fatal("a merge whose context was cancelled succeeded")
	}
	got, err := s.GetIndicators(ctx(), "mn-a", ids("domain:m-00001.merge.example", "domain:m-01400.merge.example"))
	must(t, err)
	if len(got) != 1 || got[0].Confidence != 56 || calls == 0 {
		t.Fatalf("a failed merge changed the store: %+v (calls %d)", got, calls)
	}
}

// testIntelCursor pages with cursors that are not indicator ids (a client's own TAXII "next"): every
// store must order them as strings.
func testIntelCursor(t *testing.T, in IntelInstance) {
	s := in.Store
	var all []intel.Indicator
	for i := 0; i < 40; i++ {
		all = append(all, mkIndicator("cu-a", ioc.IPv4, fmt.Sprintf("192.0.2.%d", i), t0))
	}
	must(t, s.PutIndicators(ctx(), all))
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	mid := all[20].ID
	for _, after := range []string{"", "a", "indicator", "indicator--", "indicator--0", "indicator--7", "indicator--7z", "indicator--7A",
		"indicator--f", "indicator--ffffffff-ffff", "z", mid, mid + "0", mid[:len(mid)-1], mid[:20] + "-", mid[:19] + "g", mid[:19] + "/",
		all[0].ID[:15], all[39].ID + "x", "indicator--\xff"} {
		page, err := s.SearchIndicators(ctx(), intel.Filter{TenantID: "cu-a", Ascending: true, AfterModified: t0, AfterID: after})
		must(t, err)
		var want []string
		for _, x := range all {
			if x.ID > after {
				want = append(want, x.ID)
			}
		}
		var gotIDs []string
		for _, x := range page {
			gotIDs = append(gotIDs, x.ID)
		}
		sliceEq(t, "after "+after, gotIDs, want)
	}
	// ids that are not indicator ids find nothing
	got, err := s.GetIndicators(ctx(), "cu-a", []string{"indicator--1", strings.ToUpper(all[0].ID), "", all[1].ID})
	must(t, err)
	if len(got) != 1 || got[0].ID != all[1].ID {
		t.Fatalf("get with odd ids: %v", keysOf(got))
	}
	var n int
	must(t, s.ScanIndicators(ctx(), intel.Filter{TenantID: "cu-a", IDs: []string{"indicator--1"}}, func(*intel.Indicator) error { n++; return nil }))
	eq(t, "filter by odd ids", n, 0)
}
