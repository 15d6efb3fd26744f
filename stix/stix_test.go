package stix

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

func TestParsePattern(t *testing.T) {
	good := []struct {
		p      string
		simple bool
		n      int // comparisons
	}{
		{"[ipv4-addr:value = '198.51.100.1']", true, 1},
		{"[ ipv4-addr:value = '10.0.0.0' ]", true, 1},
		{"[domain-name:value = 'a.com' OR ipv4-addr:value = '1.2.3.4']", true, 2},
		{"[file:hashes.'SHA-256' = 'ab' AND file:name = 'x']", false, 2},
		{"[file:hashes.md5 = 'x'] OR [url:value = 'http://a/']", true, 2},
		{"[a:b = 1] AND [c:d != 2.5] FOLLOWEDBY [e:f > -3] WITHIN 10 SECONDS", false, 3},
		{"([a:b = 'x'] OR [c:d = 'y']) REPEATS 5 TIMES", false, 2},
		{"[a:b = t'2020-01-01T00:00:00Z'] START t'2020-01-01T00:00:00Z' STOP t'2020-02-01T00:00:00Z'", false, 1},
		{"[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']", false, 1},
		{"[x:list[0].y NOT IN ('a', 'b')]", false, 1},
		{"[ipv4-addr:value ISSUBSET '10.0.0.0/8']", false, 1},
		{"[NOT EXISTS windows-registry-key:values]", false, 1},
		{"[a:b LIKE 'x%' AND (c:d = h'ff00' OR e:f = b'AAA=')]", false, 3},
		{"[a:b = 'it\\'s \\\\ fine']", true, 1},
		{"[a:b = true]", true, 1},
	}
	for _, g := range good {
		p, err := ParsePattern(g.p)
		if err != nil {
			t.Errorf("%s: %v", g.p, err)
			continue
		}
		n := 0
		p.Comparisons(func(*Comparison) { n++ })
		if n != g.n || p.Simple() != g.simple {
			t.Errorf("%s: %d comparisons simple=%v, want %d %v", g.p, n, p.Simple(), g.n, g.simple)
		}
	}
	p, _ := ParsePattern("[a:b = 'it\\'s \\\\ fine']")
	p.Comparisons(func(c *Comparison) {
		if c.Value.Text != `it's \ fine` || c.Path.String() != "a:b" {
			t.Errorf("escapes: %+v", c)
		}
	})
	bad := []string{"", "[", "[a:b = ]", "[a:b = 'x'", "[a:b == 'x']", "a:b = 'x'", "[a:b = 'x'] AND", "[a:b = 'x'] WITHIN SECONDS",
		"[a = 'x']", "[a:b = 'x\\q']", "[a:b IN ()]", "[a:b = 'x']]"}
	for _, b := range bad {
		if _, err := ParsePattern(b); err == nil {
			t.Errorf("%q parsed", b)
		}
	}
}

func TestDeterministicIDs(t *testing.T) {
	// Deterministic: the same value gives the same id, other values other ids; JCS escapes no HTML.
	a, b := SCOID("ipv4-addr", "198.51.100.3"), SCOID("ipv4-addr", "198.51.100.3")
	if a != b || a == SCOID("ipv4-addr", "198.51.100.4") || !strings.HasPrefix(a, "ipv4-addr--") || a[11+14] != '5' {
		t.Fatalf("ids %s %s", a, b)
	}
	var buf bytes.Buffer
	jcsString(&buf, "a<b>&\"\\é")
	if buf.String() != `"a<b>&\"\\é"` {
		t.Fatalf("jcs %s", buf.String())
	}
	if FileID("SHA-256", "ab") == FileID("MD5", "ab") {
		t.Fatal("file ids ignore the algorithm")
	}
}

func TestImportSmallBundle(t *testing.T) {
	f, err := os.Open("testdata/small-bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []intel.Item
	st, err := Import(f, func(it intel.Item) error { items = append(items, it); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Objects != 5 || st.Indicators != 4 || st.Unsupported != 1 {
		t.Fatalf("stats %+v", st)
	}
	var got []string
	for _, it := range items {
		got = append(got, string(it.Type)+" "+it.Value+" "+it.TLP)
	}
	want := "ipv4 198.51.100.3 amber|domain c2.evil-domain.net amber|sha256 EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C amber+strict|url http://evil-domain.net/a amber+strict|cidr 203.0.113.0/24 |ipv6 2001:db8::1 |ipv6 2001:db8::2 "
	if strings.Join(got, "|") != want {
		t.Fatalf("items\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if items[0].Confidence != 85 || items[0].KillChain[0].Phase != "command-and-control" || items[0].Pattern != "" || items[2].Pattern == "" || !items[6].Revoked {
		t.Fatalf("item details %+v / %+v", items[0], items[2])
	}
}

func TestReaderEnvelopeAndArray(t *testing.T) {
	docs := []string{
		`{"more": true, "objects": [{"type":"x","id":"x--1"},{"type":"y","id":"y--2"}], "next": "abc"}`,
		`[{"type":"x","id":"x--1"},{"type":"y","id":"y--2"}]`,
		`{"objects": null, "more": false}`,
	}
	for i, d := range docs {
		r := NewReader(strings.NewReader(d))
		n := 0
		for {
			var raw json.RawMessage
			err := r.Read(&raw)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("doc %d: %v", i, err)
			}
			n++
		}
		if (i < 2 && n != 2) || (i == 2 && n != 0) {
			t.Errorf("doc %d: %d objects", i, n)
		}
		if i == 0 && (!r.More || r.Next != "abc") {
			t.Errorf("envelope: more=%v next=%q", r.More, r.Next)
		}
	}
	for _, bad := range []string{"", "42", `{"objects": 5}`, `{"objects": [1, }`, `{"objects": [{}`} {
		r := NewReader(strings.NewReader(bad))
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			var raw json.RawMessage
			err = r.Read(&raw)
		}
		if err == nil || err == io.EOF {
			t.Errorf("%q: got %v, want a parse error", bad, err)
		}
	}
}

func testIndicators() []intel.Indicator {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(tp ioc.Type, v string, tlp intel.TLP) intel.Indicator {
		return intel.Indicator{ID: intel.IndicatorID(tp, v), Type: tp, Value: v, TLP: tlp, Confidence: 80, FirstSeen: t0, LastSeen: t0,
			Created: t0, Modified: t0.Add(time.Hour), Tags: []string{"c2"}, KillChain: []intel.KillChainPhase{{KillChain: "mitre-attack", Phase: "command-and-control"}},
			Sources: []intel.Source{{Name: "feed", Confidence: 80, Reliability: 100, FirstSeen: t0, LastSeen: t0}}}
	}
	return []intel.Indicator{
		mk(ioc.IPv4, "198.51.100.3", intel.TLPClear), mk(ioc.IPv6, "2001:db8::1", intel.TLPGreen), mk(ioc.CIDR, "203.0.113.0/24", intel.TLPGreen),
		mk(ioc.Domain, "evil-domain.net", intel.TLPAmber), mk(ioc.URL, "http://evil-domain.net/a'b", intel.TLPClear),
		mk(ioc.Email, "x@evil-domain.net", intel.TLPClear), mk(ioc.MD5, strings.Repeat("a", 32), intel.TLPClear),
		mk(ioc.SHA256, strings.Repeat("b", 64), intel.TLPClear), mk(ioc.CVE, "CVE-2021-44228", intel.TLPClear),
		mk(ioc.IPv4, "192.0.2.99", intel.TLPRed),
	}
}

func exportTest(t *testing.T, maxTLP intel.TLP) []byte {
	st := intel.NewMemStore()
	if err := st.PutIndicators(context.Background(), testIndicators()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	now := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	if _, err := ExportBundle(context.Background(), st, intel.Filter{TenantID: "*"}, ExportOptions{MaxTLP: maxTLP, Observables: true, Now: now}, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExportRoundTripAndTLP(t *testing.T) {
	b := exportTest(t, intel.TLPAmber)
	if bytes.Contains(b, []byte("192.0.2.99")) {
		t.Fatal("TLP:RED indicator exported under an AMBER ceiling")
	}
	var items []intel.Item
	if _, err := Import(bytes.NewReader(b), func(it intel.Item) error { items = append(items, it); return nil }); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range items {
		got[string(it.Type)+" "+it.Value] = it.TLP
	}
	for _, in := range testIndicators()[:9] {
		if in.Type == ioc.CVE {
			continue
		}
		tlp, ok := got[string(in.Type)+" "+in.Value]
		if !ok || tlp != in.TLP.String() {
			t.Errorf("%s %s: round trip gave %q %v", in.Type, in.Value, tlp, ok)
		}
	}
	if g := exportTest(t, intel.TLPClear); bytes.Contains(g, []byte("evil-domain.net\"")) && bytes.Contains(g, []byte("domain-name:value = 'evil-domain.net'")) {
		t.Error("AMBER indicator exported under a CLEAR ceiling")
	}
}

// corpusDir returns ../shared/corpus/threatintel relative to the module root, or skips.
func corpusDir(t testing.TB) string {
	t.Helper()
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

func TestImportCorpus(t *testing.T) {
	dir := corpusDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "stix21", "*.json"))
	total := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var items []intel.Item
		st, err := Import(fh, func(it intel.Item) error { items = append(items, it); return nil })
		fh.Close()
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		t.Logf("%-50s %+v", filepath.Base(f), st)
		total += len(items)
		if st.Invalid > 0 {
			t.Errorf("%s: %d patterns failed to parse", filepath.Base(f), st.Invalid)
		}
	}
	if total < 50 {
		t.Errorf("only %d items from the corpus bundles", total)
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"[ipv4-addr:value = '1.2.3.4']", "([a:b = 'x'] OR [c:d IN (1, 2)]) WITHIN 5 SECONDS", "[a:b[*].c MATCHES 'x']"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start := time.Now()
		p, err := ParsePattern(s)
		if time.Since(start) > time.Second {
			t.Fatalf("slow parse of %d bytes", len(s))
		}
		if err == nil {
			p.Simple()
			p.Comparisons(func(*Comparison) {})
		}
	})
}

func FuzzImport(f *testing.F) {
	if b, err := os.ReadFile("testdata/small-bundle.json"); err == nil {
		f.Add(b)
	}
	dir, _ := os.Getwd()
	for filepath.Dir(dir) != dir {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			files, _ := filepath.Glob(filepath.Join(dir, "..", "shared", "corpus", "threatintel", "stix21", "*.json"))
			for _, p := range files {
				if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
					f.Add(b)
				}
			}
			break
		}
		dir = filepath.Dir(dir)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		Import(bytes.NewReader(b), func(intel.Item) error { return nil })
	})
}

// TestReaderTricky covers strings with brackets and escapes, scalars and nesting in the objects array,
// and members after it.
func TestReaderTricky(t *testing.T) {
	doc := `{"objects": [ {"a": "x]}\"{[", "b": [1, {"c": "\\\\"}]}, 42 , "s]\"", null ,[1,[2]] ], "more": true, "next": "n1"}`
	r := NewReader(strings.NewReader(doc))
	var got []string
	for {
		raw, err := r.ReadRaw()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(raw) {
			t.Fatalf("invalid element %s", raw)
		}
		got = append(got, string(raw))
	}
	if len(got) != 5 || got[1] != "42" || got[3] != "null" || !r.More || r.Next != "n1" {
		t.Fatalf("%q more=%v next=%q", got, r.More, r.Next)
	}
}
