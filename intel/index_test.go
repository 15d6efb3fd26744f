package intel

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// refMatch is the match index's meaning written plainly, for the differential test: every entry of
// the tenant and the MSSP-wide set, exact values, covering CIDRs, parent domains (of at least two
// labels), URLs exactly and through their host, e-mail addresses exactly and through their domain.
func refMatch(entries []IndexEntry, d Decay, now time.Time, tenant string, typ socbot.ObservableType, value string) string {
	var out []string
	add := func(e *IndexEntry, why string) {
		if e.Dead || e.TenantID != "" && e.TenantID != tenant {
			return
		}
		if !e.Until.IsZero() && now.After(e.Until) {
			return
		}
		s := d.Model(e.Type).ScoreAt(e.Base, now.Sub(e.Ref))
		if d.Model(e.Type).Lifetime > 0 && (s < d.Model(e.Type).Threshold || s <= 0) {
			return
		}
		out = append(out, fmt.Sprintf("%s:%s/%s/%s", e.Type, e.Value, why, e.TenantID))
	}
	var ip func(v, why, whyCIDR string)
	ip = func(v, why, whyCIDR string) {
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return
		}
		a = a.Unmap()
		for i := range entries {
			e := &entries[i]
			switch e.Type {
			case ioc.IPv4, ioc.IPv6:
				if b, err := netip.ParseAddr(e.Value); err == nil && b.Unmap() == a {
					add(e, why)
				}
			case ioc.CIDR:
				if p, err := netip.ParsePrefix(e.Value); err == nil && p.Contains(a) {
					add(e, whyCIDR)
				}
			}
		}
	}
	domain := func(host, why, whySub string) {
		if i := strings.LastIndexByte(host, '.'); i <= 0 || i == len(host)-1 {
			return
		}
		for i := range entries {
			e := &entries[i]
			if e.Type != ioc.Domain || strings.Count(e.Value, ".") < 1 {
				continue
			}
			switch {
			case host == e.Value:
				add(e, why)
			case strings.HasSuffix(host, "."+e.Value):
				add(e, whySub)
			}
		}
	}
	exact := func(t ioc.Type, v string) {
		for i := range entries {
			if e := &entries[i]; classOf(e.Type) == classOf(t) && e.Value == v {
				add(e, "exact")
			}
		}
	}
	switch typ {
	case socbot.ObsIP:
		ip(value, "exact", "cidr")
	case socbot.ObsDomain:
		domain(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(value)), "."), "exact", "subdomain")
	case socbot.ObsURL:
		n := ioc.NormalizeURL(strings.TrimSpace(value))
		exact(ioc.URL, n)
		host := ioc.URLHost(n)
		if _, err := netip.ParseAddr(host); err == nil {
			ip(host, "url_host", "url_host_cidr")
		} else {
			domain(host, "url_host", "url_host")
		}
	case socbot.ObsSHA256:
		exact(ioc.SHA256, strings.ToLower(strings.TrimSpace(value)))
	case socbot.ObsEmail:
		v := strings.ToLower(strings.TrimSpace(value))
		exact(ioc.Email, v)
		if at := strings.LastIndexByte(v, '@'); at >= 0 {
			domain(v[at+1:], "email_domain", "email_domain")
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func hitsOf(hs []Hit, obs int32) string {
	var out []string
	for _, h := range hs {
		if h.Obs == obs {
			out = append(out, fmt.Sprintf("%s:%s/%s/%s", h.Type(), h.Value(), h.Why(), h.TenantID()))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestIndexAgainstReference builds random sets rich in what the index's shortcuts are about (deep
// domains under shared parents, URLs and e-mail addresses on them, nested CIDRs, several tenants,
// delta levels with changes and removals) and checks that Lookup, LookupBatch and the plain
// reference agree on every query.
func TestIndexAgainstReference(t *testing.T) {
	now := t0
	r := rand.New(rand.NewPCG(42, 7))
	tenants := []string{"", "acme", "globex"}
	labels := []string{"a", "b", "cdn", "mail", "x1", "login"}
	parents := []string{"evil.com", "bad.net", "c2.co.uk", "shared.org"}
	host := func() string {
		h := parents[r.IntN(len(parents))]
		for n := r.IntN(4); n > 0; n-- {
			h = labels[r.IntN(len(labels))] + "." + h
		}
		return h
	}
	var entries []IndexEntry
	seen := map[string]bool{}
	mk := func(t ioc.Type, v string) {
		e := IndexEntry{TenantID: tenants[r.IntN(len(tenants))], Type: t, Value: v, Base: 30 + r.IntN(70),
			Ref: now.Add(-time.Duration(r.IntN(40*24)) * time.Hour), TLP: TLP(r.IntN(5)), Sources: []string{"s"}}
		if k := entryKey(&e); !seen[k] {
			seen[k] = true
			entries = append(entries, e)
		}
	}
	for i := 0; i < 600; i++ {
		switch r.IntN(6) {
		case 0:
			mk(ioc.Domain, host())
		case 1:
			mk(ioc.URL, "http://"+host()+"/p"+fmt.Sprint(r.IntN(5)))
		case 2:
			mk(ioc.Email, labels[r.IntN(len(labels))]+"@"+host())
		case 3:
			mk(ioc.IPv4, fmt.Sprintf("10.%d.%d.%d", r.IntN(3), r.IntN(3), r.IntN(8)))
		case 4:
			p, _ := netip.AddrFrom4([4]byte{10, byte(r.IntN(3)), byte(r.IntN(3)), 0}).Prefix(8 + 8*r.IntN(3))
			mk(ioc.CIDR, p.String())
		case 5:
			mk(ioc.URL, fmt.Sprintf("http://10.%d.%d.%d/x", r.IntN(3), r.IntN(3), r.IntN(8)))
		}
	}
	clk := &fakeClock{now}
	m := NewMatcher(DefaultDecay(), clk)
	m.Reset(entries[:400])
	final := append([]IndexEntry(nil), entries[:400]...)
	// deltas: the rest in batches, with some changes and removals of earlier entries
	for start := 400; start < len(entries); start += 50 {
		batch := append([]IndexEntry(nil), entries[start:min(start+50, len(entries))]...)
		for k := 0; k < 10; k++ {
			e := final[r.IntN(len(final))]
			e.Base = 95
			e.Ref = now
			e.Dead = r.IntN(2) == 0
			batch = append(batch, e)
		}
		m.Apply(batch)
		for _, e := range batch {
			found := false
			for i := range final {
				if entryKey(&final[i]) == entryKey(&e) {
					final[i], found = e, true
				}
			}
			if !found {
				final = append(final, e)
			}
		}
	}
	var queries []socbot.Observable
	for i := 0; i < 400; i++ {
		switch r.IntN(5) {
		case 0:
			queries = append(queries, socbot.Observable{Type: socbot.ObsDomain, Value: labels[r.IntN(len(labels))] + "." + host()})
		case 1:
			queries = append(queries, socbot.Observable{Type: socbot.ObsURL, Value: "http://" + host() + "/p" + fmt.Sprint(r.IntN(5))})
		case 2:
			queries = append(queries, socbot.Observable{Type: socbot.ObsEmail, Value: labels[r.IntN(len(labels))] + "@" + host()})
		case 3:
			queries = append(queries, socbot.Observable{Type: socbot.ObsIP, Value: fmt.Sprintf("10.%d.%d.%d", r.IntN(3), r.IntN(3), r.IntN(8))})
		case 4:
			queries = append(queries, socbot.Observable{Type: socbot.ObsURL, Value: fmt.Sprintf("HTTP://10.%d.%d.%d:80/x", r.IntN(3), r.IntN(3), r.IntN(8))})
		}
	}
	var b Batcher
	checked, nonEmpty := 0, 0
	for _, tenant := range tenants {
		batch := m.LookupBatch(&b, tenant, queries)
		got := append([]Hit(nil), batch...)
		for i, o := range queries {
			want := refMatch(final, DefaultDecay(), now, tenant, o.Type, o.Value)
			single := hitsOf(m.Lookup(nil, tenant, o.Type, o.Value), 0)
			if single != want {
				t.Fatalf("Lookup(%q, %s %s)\n got  %s\n want %s", tenant, o.Type, o.Value, single, want)
			}
			if bh := hitsOf(got, int32(i)); bh != want {
				t.Fatalf("LookupBatch(%q, %s %s)\n got  %s\n want %s", tenant, o.Type, o.Value, bh, want)
			}
			checked++
			if want != "" {
				nonEmpty++
			}
		}
	}
	if nonEmpty < checked/4 {
		t.Fatalf("only %d of %d queries hit: the test does not exercise the index", nonEmpty, checked)
	}
}

// TestIndexTagCollisions: flags set on a slot of another key with the same tag, and records taking
// over a flag-only slot of another key, are found by both keys; a key whose tag matches but whose
// hash check differs finds nothing; buckets that overflow keep every key's flags.
func TestIndexTagCollisions(t *testing.T) {
	ix := &Index{tenants: map[string]uint16{"": 0}, tnames: []string{""}}
	ix.slots = make([]slot, 4*bucketSlots)
	ix.bmask = 3
	ix.recs = []rec{{next: -1}, {next: -1}}
	tag := uint64(12345) << slotTagShift
	hA, hB := tag|1<<22|1, tag|2<<22|1 // same tag and bucket, different keys (the hash check differs)
	ix.insertFlags(hA, slotChild)      // a flag-only slot for A
	ix.insertRec(hB, 0)                // B's record takes it over
	ix.insertFlags(hB, slotURL)
	ix.insertRec(hA, 1) // A's record goes to another slot
	if r, _, f := ix.find(hA); r != 1 || f&slotChild == 0 {
		t.Fatalf("A: record %d flags %x", r, f)
	}
	if r, _, f := ix.find(hB); r != 0 || f&slotURL == 0 {
		t.Fatalf("B: record %d flags %x", r, f)
	}
	if r, _, _ := ix.find(tag | 3<<22 | 1); r != -1 {
		t.Fatal("a third key with the same tag found a record")
	}
	// a full bucket spills into the next one; flags of the same key in both buckets add up
	for i := 0; i < bucketSlots+3; i++ {
		ix.insertFlags(uint64(i+1)<<slotTagShift|2, slotEmail)
	}
	spilled := uint64(bucketSlots+2)<<slotTagShift | 2
	ix.slots[2*bucketSlots].key |= slotChild
	ix.slots[3*bucketSlots+3].key = spilled | slotURL
	for i := 0; i < bucketSlots+3; i++ {
		if _, _, f := ix.find(uint64(i+1)<<slotTagShift | 2); f&slotEmail == 0 {
			t.Fatalf("spilled key %d lost its flag", i)
		}
	}
	if _, _, f := ix.find(spilled); f&slotURL == 0 || f&slotEmail == 0 {
		t.Fatal("find lost the flags of the next bucket")
	}
}

func TestNormalURLHost(t *testing.T) {
	for _, u := range []string{"http://evil.example/a", "HTTP://evil.example/a", "http://Evil.example/a", "http://evil.example", "http://evil.example:80/a",
		"http://evil.example:8080/a", "https://evil.example:443/", "http://u@evil.example/a", "http://[::1]/a", "http://evil.example./a",
		"http://evil.example/a#f", "http://evil.example?q", "http://evil.example/?q#", "ftp://h:21/x", "://x/", "x", "http:/x/y", "ht tp://a/b",
		"http://203.0.113.7/x", "http://:80/x", "http:///x", "mailto:x@y", "http://a:/x", "h://a/b", "http://xn--bcher-kva.example/é"} {
		host, ok := normalURLHost(u)
		if ok != ioc.IsNormalURL(u) || ok && host != ioc.URLHost(u) {
			t.Errorf("%q: normalURLHost %q %v, ioc says %v %q", u, host, ok, ioc.IsNormalURL(u), ioc.URLHost(u))
		}
	}
}

func FuzzNormalURLHost(f *testing.F) {
	for _, s := range []string{"http://evil.example/a", "http://A/b", "https://x:443/", "http://u@h/p", "http://[::1]/", "http://h./", "http://h/#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		host, ok := normalURLHost(u)
		if ok != ioc.IsNormalURL(u) || ok && host != ioc.URLHost(u) {
			t.Fatalf("%q: normalURLHost %q %v, ioc says %v %q", u, host, ok, ioc.IsNormalURL(u), ioc.URLHost(u))
		}
	})
}

func TestLowerTrimAndIPv4(t *testing.T) {
	for _, s := range []string{"", "abc", "ABC", " abc ", strings.Repeat("ab", 32), strings.Repeat("ab", 31) + "aB", strings.Repeat("x", 16) + "Z" + "yy",
		"\tDeadBeef\n", "é", "ÉCOLE", "@[`{", "azAZ09"} {
		if got, want := lowerTrim(s), strings.ToLower(strings.TrimSpace(s)); got != want && !(strings.ContainsRune(s, 'É') && got == strings.TrimSpace(s)) {
			t.Errorf("lowerTrim(%q) = %q, want %q", s, got, want)
		}
	}
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4", ""} {
		a, ok := parseIPv4(s)
		p, err := netip.ParseAddr(s)
		want := err == nil && p.Is4()
		if ok != want || ok && netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}) != p {
			t.Errorf("parseIPv4(%q) = %v %v, netip: %v %v", s, a, ok, p, err)
		}
	}
}
