package intel

import (
	"context"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func hits(ms []socbot.IndicatorMatch) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Type+":"+m.Value+"/"+m.Why)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func TestMatcher(t *testing.T) {
	clk := &fakeClock{t0}
	m := NewMatcher(DefaultDecay(), clk)
	e := func(tenant string, typ ioc.Type, v string) IndexEntry {
		return IndexEntry{TenantID: tenant, Type: typ, Value: v, Base: 90, Ref: t0.Add(-time.Hour), Sources: []string{"feed"}}
	}
	m.Reset([]IndexEntry{
		e("", ioc.IPv4, "203.0.113.7"),
		e("acme", ioc.IPv4, "198.51.100.1"),
		e("", ioc.CIDR, "10.0.0.0/8"),
		e("acme", ioc.CIDR, "10.1.0.0/16"),
		e("globex", ioc.CIDR, "10.1.2.0/24"),
		e("", ioc.CIDR, "2001:db8::/32"),
		e("", ioc.CIDR, "0.0.0.0/0"),
		e("", ioc.Domain, "evil.example"),
		e("acme", ioc.Domain, "bad.co.uk"),
		e("", ioc.URL, "http://evil.example/a"),
		e("", ioc.SHA256, strings.Repeat("ab", 32)),
		e("", ioc.Email, "x@phish.example"),
		e("", ioc.Domain, "phish.example"),
		e("", ioc.IPv6, "2001:db8::1"),
	})
	tests := []struct {
		tenant string
		typ    socbot.ObservableType
		value  string
		want   string
	}{
		{"acme", socbot.ObsIP, "203.0.113.7", "cidr:0.0.0.0/0/cidr ipv4:203.0.113.7/exact"},
		{"acme", socbot.ObsIP, "198.51.100.1", "cidr:0.0.0.0/0/cidr ipv4:198.51.100.1/exact"},
		{"globex", socbot.ObsIP, "198.51.100.1", "cidr:0.0.0.0/0/cidr"},
		{"acme", socbot.ObsIP, "10.1.2.3", "cidr:0.0.0.0/0/cidr cidr:10.0.0.0/8/cidr cidr:10.1.0.0/16/cidr"},
		{"globex", socbot.ObsIP, "10.1.2.3", "cidr:0.0.0.0/0/cidr cidr:10.0.0.0/8/cidr cidr:10.1.2.0/24/cidr"},
		{"globex", socbot.ObsIP, "10.1.3.3", "cidr:0.0.0.0/0/cidr cidr:10.0.0.0/8/cidr"},
		{"x", socbot.ObsIP, "2001:DB8::1", "cidr:2001:db8::/32/cidr ipv6:2001:db8::1/exact"},
		{"x", socbot.ObsIP, "2001:db9::1", ""},
		{"x", socbot.ObsDomain, "evil.example", "domain:evil.example/exact"},
		{"x", socbot.ObsDomain, "A.B.Evil.Example.", "domain:evil.example/subdomain"},
		{"x", socbot.ObsDomain, "notevil.example", ""},
		{"acme", socbot.ObsDomain, "www.bad.co.uk", "domain:bad.co.uk/subdomain"},
		{"x", socbot.ObsDomain, "www.bad.co.uk", ""},
		{"x", socbot.ObsURL, "HTTP://EVIL.example:80/a#x", "domain:evil.example/url_host url:http://evil.example/a/exact"},
		{"x", socbot.ObsURL, "http://sub.evil.example/other", "domain:evil.example/url_host"},
		{"x", socbot.ObsURL, "http://203.0.113.7/x", "cidr:0.0.0.0/0/url_host_cidr ipv4:203.0.113.7/url_host"},
		{"x", socbot.ObsSHA256, strings.Repeat("AB", 32), "sha256:" + strings.Repeat("ab", 32) + "/exact"},
		{"x", socbot.ObsEmail, "X@phish.example", "domain:phish.example/email_domain email:x@phish.example/exact"},
		{"x", socbot.ObsUser, "bob", ""},
	}
	for _, tt := range tests {
		if g := hits(m.Match(tt.tenant, tt.typ, tt.value)); g != tt.want {
			t.Errorf("Match(%s, %s, %s)\n got %s\nwant %s", tt.tenant, tt.typ, tt.value, g, tt.want)
		}
	}
	// Score, id and sources of a hit
	r := m.Match("x", socbot.ObsIP, "2001:db8::1")
	for _, h := range r {
		if h.Why == "exact" && (h.Score != DefaultDecay().Model(ioc.IPv6).ScoreAt(90, time.Hour) || h.IndicatorID != IndicatorID(ioc.IPv6, "2001:db8::1") || h.Sources[0] != "feed") {
			t.Errorf("hit %+v", h)
		}
	}
}

func TestMatcherDecayAndDelta(t *testing.T) {
	clk := &fakeClock{t0}
	m := NewMatcher(DefaultDecay(), clk)
	m.Reset([]IndexEntry{
		{TenantID: "acme", Type: ioc.IPv4, Value: "203.0.113.7", Base: 80, Ref: t0},
		{TenantID: "acme", Type: ioc.Domain, Value: "old.example", Base: 80, Ref: t0},
		{TenantID: "acme", Type: ioc.CIDR, Value: "192.0.2.0/24", Base: 80, Ref: t0},
	})
	if r := m.Match("acme", socbot.ObsIP, "203.0.113.7"); len(r) != 1 || r[0].Score != 80 {
		t.Fatalf("fresh: %+v", r)
	}
	clk.t = t0.Add(15 * day) // IPv4: 60 days, speed 2: 80*(1-sqrt(0.25)) = 40
	if r := m.Match("acme", socbot.ObsIP, "203.0.113.7"); len(r) != 1 || r[0].Score != 40 {
		t.Fatalf("15 days: %+v", r)
	}
	clk.t = t0.Add(50 * day) // 80*(1-sqrt(50/60)) = 6.97 -> expired
	if r := m.Match("acme", socbot.ObsIP, "203.0.113.7"); len(r) != 0 {
		t.Fatalf("expired still matches: %+v", r)
	}
	// a re-sighting restores it through the delta
	m.Apply([]IndexEntry{{TenantID: "acme", Type: ioc.IPv4, Value: "203.0.113.7", Base: 80, Ref: clk.t}})
	if r := m.Match("acme", socbot.ObsIP, "203.0.113.7"); len(r) != 1 || r[0].Score != 80 {
		t.Fatalf("after re-sighting: %+v", r)
	}
	// removal through the delta hides the base record, exact and CIDR
	clk.t = t0
	m.Apply([]IndexEntry{{TenantID: "acme", Type: ioc.Domain, Value: "old.example", Dead: true},
		{TenantID: "acme", Type: ioc.CIDR, Value: "192.0.2.0/24", Dead: true}})
	if r := m.Match("acme", socbot.ObsDomain, "www.old.example"); len(r) != 0 {
		t.Fatalf("removed domain matches: %+v", r)
	}
	if r := m.Match("acme", socbot.ObsIP, "192.0.2.9"); len(r) != 0 {
		t.Fatalf("removed cidr matches: %+v", r)
	}
	// a changed base record is reported once, from the delta
	m.Apply([]IndexEntry{{TenantID: "acme", Type: ioc.IPv4, Value: "203.0.113.7", Base: 55, Ref: t0}})
	if r := m.Match("acme", socbot.ObsIP, "203.0.113.7"); len(r) != 1 || r[0].Score != 55 {
		t.Fatalf("changed: %+v", r)
	}
}

func TestMatcherSyntheticAllFound(t *testing.T) {
	now := t0
	entries := SyntheticEntries(20000, 1, now)
	m := NewMatcher(DefaultDecay(), &fakeClock{now})
	m.Reset(entries)
	for _, e := range entries {
		typ := socbot.ObservableType(e.Type)
		switch e.Type {
		case ioc.IPv4, ioc.IPv6:
			typ = socbot.ObsIP
		case ioc.CIDR:
			continue
		}
		found := false
		for _, h := range m.Match(e.TenantID, typ, e.Value) {
			if h.Value == e.Value && h.Type == string(e.Type) {
				found = true
			}
		}
		if !found {
			t.Fatalf("%+v not found", e)
		}
	}
}

var benchFixture struct {
	sync.Once
	m  *Matcher
	qs []Observation
}

func matchFixture(b *testing.B) (*Matcher, []Observation) {
	benchFixture.Do(func() {
		n := 1000000
		if testing.Short() {
			n = 100000
		}
		entries := SyntheticEntries(n, 1, t0)
		m := NewMatcher(DefaultDecay(), &fakeClock{t0})
		m.Reset(entries)
		benchFixture.m, benchFixture.qs = m, SyntheticQueries(entries, 1<<20, 2)
		runtime.GC()
	})
	return benchFixture.m, benchFixture.qs
}

func BenchmarkMatch(b *testing.B) {
	m, qs := matchFixture(b)
	b.ResetTimer()
	h := 0
	for i := 0; i < b.N; i++ {
		q := qs[i&(len(qs)-1)]
		h += len(m.Match(q.Tenant, q.Type, q.Value))
	}
	b.ReportMetric(float64(m.Stats().BytesPerIndictr), "B/indicator")
}

// TestMatcherLevels applies many batches (forcing merges) and checks the layered index answers exactly
// like one built from the final state.
func TestMatcherLevels(t *testing.T) {
	clk := &fakeClock{t0}
	all := SyntheticEntries(3000, 7, t0)
	final := map[string]IndexEntry{}
	m := NewMatcher(DefaultDecay(), clk)
	m.Reset(all[:1000])
	for _, e := range all[:1000] {
		final[entryKey(&e)] = e
	}
	for b := 0; b < 20; b++ {
		var batch []IndexEntry
		for i := 0; i < 100; i++ {
			e := all[1000+b*100+i]
			if i%10 == 0 { // re-score an old one, or remove it
				e = all[(b*37+i)%1000]
				e.Base = 77
				if i%20 == 0 {
					e.Dead = true
				}
			}
			batch = append(batch, e)
			final[entryKey(&e)] = e
		}
		m.Apply(batch)
	}
	if n := len(m.state.Load().deltas); n > maxLevels {
		t.Fatalf("%d delta levels", n)
	}
	var list []IndexEntry
	for _, e := range final {
		list = append(list, e)
	}
	ref := NewMatcher(DefaultDecay(), clk)
	ref.Reset(list)
	for _, q := range SyntheticQueries(all, 5000, 9) {
		a, b := hits(m.Match(q.Tenant, q.Type, q.Value)), hits(ref.Match(q.Tenant, q.Type, q.Value))
		if a != b {
			t.Fatalf("%+v: layered %q, rebuilt %q", q, a, b)
		}
	}
}

func BenchmarkIngest(b *testing.B) {
	now := t0
	entries := SyntheticEntries(b.N, 3, now)
	items := make([]Item, len(entries))
	for i, e := range entries {
		items[i] = Item{Type: e.Type, Value: e.Value, Confidence: 70, LastSeen: now}
	}
	for _, index := range []bool{false} {
		eng := NewEngine(EngineConfig{Clock: &fakeClock{now}, NoIndex: !index})
		src := SourceInfo{Name: "bench", Reliability: 80}
		b.ResetTimer()
		for i := 0; i < len(items); i += 5000 {
			if _, err := eng.Ingest(context.Background(), "t", src, items[i:min(i+5000, len(items))]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func TestMatchBatchEqualsMatch(t *testing.T) {
	clk := &fakeClock{t0}
	all := SyntheticEntries(5000, 11, t0)
	m := NewMatcher(DefaultDecay(), clk)
	m.Reset(all[:4000])
	m.Apply(all[4000:]) // a delta level too
	qs := SyntheticQueries(all, 3000, 12)
	for tenantStart := 0; tenantStart < len(qs); tenantStart += 50 {
		batch := qs[tenantStart:min(tenantStart+50, len(qs))]
		tenant := batch[0].Tenant
		obs := make([]socbot.Observable, len(batch))
		for i, q := range batch {
			obs[i] = socbot.Observable{Type: q.Type, Value: q.Value}
		}
		res := m.MatchBatch(tenant, obs)
		for i, o := range obs {
			if a, b := hits(res[i]), hits(m.Match(tenant, o.Type, o.Value)); a != b {
				t.Fatalf("%+v: batch %q, single %q", o, a, b)
			}
		}
	}
}

func BenchmarkMatchBatch(b *testing.B) {
	m, qs := matchFixture(b)
	const size = 64
	obs := make([]socbot.Observable, size)
	b.ResetTimer()
	for i := 0; i < b.N; i += size {
		for j := range obs {
			q := qs[(i+j)&(len(qs)-1)]
			obs[j] = socbot.Observable{Type: q.Type, Value: q.Value}
		}
		m.MatchBatch(qs[i&(len(qs)-1)].Tenant, obs)
	}
}

func TestMatchValueIsCanonical(t *testing.T) {
	m := NewMatcher(DefaultDecay(), &fakeClock{t0})
	m.Reset([]IndexEntry{{Type: ioc.IPv4, Value: "192.0.2.1", Base: 90, Ref: t0}, {Type: ioc.IPv6, Value: "2001:db8::1", Base: 90, Ref: t0}})
	for in, want := range map[string]string{" 192.0.2.1\t": "192.0.2.1", "::ffff:192.0.2.1": "192.0.2.1", "2001:DB8:0::1": "2001:db8::1"} {
		r := m.Match("", socbot.ObsIP, in)
		if len(r) != 1 || r[0].Value != want {
			t.Errorf("%q: %+v", in, r)
		}
	}
}

var bench5M struct {
	sync.Once
	m       *Matcher
	qs      []Observation
	batches [][]socbot.Observable
	tenants []string
}

// fixture5M is the socbot bench intel workload: 5,000,000 mixed indicators over 20 tenants, half the
// lookups present, batches of 64 observables of one tenant.
func fixture5M(b *testing.B) {
	bench5M.Do(func() {
		n := 5000000
		if testing.Short() {
			n = 200000
		}
		entries := SyntheticEntries(n, 1, t0)
		m := NewMatcher(DefaultDecay(), &fakeClock{t0})
		m.Reset(entries)
		qs := SyntheticQueriesRatio(entries, 1<<20, 2, 0.5)
		by := map[string]int{}
		for _, q := range qs {
			i, ok := by[q.Tenant]
			if !ok || len(bench5M.batches[i]) == 64 {
				i = len(bench5M.batches)
				by[q.Tenant] = i
				bench5M.batches = append(bench5M.batches, nil)
				bench5M.tenants = append(bench5M.tenants, q.Tenant)
			}
			bench5M.batches[i] = append(bench5M.batches[i], socbot.Observable{Type: q.Type, Value: q.Value})
		}
		for _, bt := range bench5M.batches { // each batch's values in one buffer, as just parsed
			var sb strings.Builder
			for _, o := range bt {
				sb.WriteString(o.Value)
			}
			all, off := sb.String(), 0
			for j := range bt {
				l := len(bt[j].Value)
				bt[j].Value = all[off : off+l]
				off += l
			}
		}
		bench5M.m, bench5M.qs = m, qs
		runtime.GC()
	})
}

// threadCPU is the calling thread's CPU time (Linux; 0 elsewhere): on a shared machine the wall
// clock also counts the time other processes held the core.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(1, &ru) != nil { // RUSAGE_THREAD
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the thread's CPU nanoseconds per op to a benchmark locked to its thread.
func reportCPU(b *testing.B, start time.Duration) {
	if c := threadCPU() - start; c > 0 {
		b.ReportMetric(float64(c.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkLookupBatch5M: one op is one lookup, through LookupBatch.
func BenchmarkLookupBatch5M(b *testing.B) {
	fixture5M(b)
	var bt Batcher
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer reportCPU(b, threadCPU())
	b.ResetTimer()
	done, hits := 0, 0
	for i := 0; done < b.N; i++ {
		k := i % len(bench5M.batches)
		hits += len(bench5M.m.LookupBatch(&bt, bench5M.tenants[k], bench5M.batches[k]))
		done += len(bench5M.batches[k])
	}
	b.ReportMetric(float64(hits)/float64(done), "hits/op")
}

// BenchmarkLookup5M: one op is one allocation-free single lookup.
func BenchmarkLookup5M(b *testing.B) {
	fixture5M(b)
	buf := make([]Hit, 0, 16)
	qs := bench5M.qs
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer reportCPU(b, threadCPU())
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		q := &qs[i&(len(qs)-1)]
		buf = bench5M.m.Lookup(buf[:0], q.Tenant, q.Type, q.Value)
		hits += len(buf)
	}
	b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
}
