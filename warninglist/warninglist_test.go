package warninglist

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socbot/socbot/ioc"
)

func testSet(t *testing.T) *Set {
	s := New()
	lists := []File{
		{Name: "top sites", Type: TypeHostname, List: []string{"example.com", "Google.com."}, MatchingAttributes: []string{"hostname", "domain", "url"}},
		{Name: "exact", Type: TypeString, List: []string{"d41d8cd98f00b204e9800998ecf8427e", ".google.de", "cdn.example.net"}, MatchingAttributes: []string{"md5", "domain"}},
		{Name: "private", Type: TypeCIDR, List: []string{"10.0.0.0/8", "192.168.0.0/16", "FE80::/10", "203.0.113.5", "bad/99"}, MatchingAttributes: []string{"ip-src", "ip-dst"}},
		{Name: "sandboxes", Type: TypeSubstring, List: []string{"sandbox", "analyze.", "box"}, MatchingAttributes: []string{"domain", "url"}},
		{Name: "contacts", Type: TypeRegex, List: []string{`/^(security|abuse)\@.*\..*$/i`, `/(?=lookahead)/`}, MatchingAttributes: []string{"email-src"}},
	}
	for _, l := range lists {
		if _, err := s.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	s.Freeze()
	return s
}

func TestCheck(t *testing.T) {
	s := testSet(t)
	tests := []struct {
		typ         ioc.Type
		value, list string
	}{
		{ioc.Domain, "example.com", "top sites"},
		{ioc.Domain, "www.mail.example.com", "top sites"},
		{ioc.Domain, "notexample.com", ""},
		{ioc.URL, "https://sub.google.com/x", "top sites"},
		{ioc.Domain, "google.de", ""},
		{ioc.Domain, "www.google.de", "exact"},
		{ioc.Domain, "cdn.example.net", "exact"},
		{ioc.Domain, "x.cdn.example.net", ""},
		{ioc.MD5, "d41d8cd98f00b204e9800998ecf8427e", "exact"},
		{ioc.SHA1, "d41d8cd98f00b204e9800998ecf8427e", ""}, // list does not apply to sha1
		{ioc.IPv4, "10.1.2.3", "private"},
		{ioc.IPv4, "11.1.2.3", ""},
		{ioc.IPv4, "203.0.113.5", "private"},
		{ioc.IPv4, "203.0.113.6", ""},
		{ioc.CIDR, "10.2.0.0/16", "private"},
		{ioc.CIDR, "10.0.0.0/7", ""},
		{ioc.IPv6, "fe80::1", "private"},
		{ioc.URL, "http://192.168.1.1/admin", ""}, // url is not an ip-src attribute
		{ioc.Domain, "my-sandbox.evil.org", "sandboxes"},
		{ioc.Domain, "analyze.intezer.com", "sandboxes"},
		{ioc.Email, "Security@corp.example", "contacts"},
		{ioc.Email, "bob@corp.example", ""},
	}
	for _, tt := range tests {
		h, ok := s.Check(tt.typ, tt.value)
		if tt.list == "" && ok {
			t.Errorf("%s %s: filtered by %+v, want not filtered", tt.typ, tt.value, h)
		}
		if tt.list != "" && (!ok || h.List != tt.list) {
			t.Errorf("%s %s: got %+v %v, want list %q", tt.typ, tt.value, h, ok, tt.list)
		}
	}
	infos := s.Lists()
	if infos[2].Skipped != 1 || infos[4].Skipped != 1 {
		t.Errorf("skipped counts: %+v", infos)
	}
}

func TestAhoCorasickOverlaps(t *testing.T) {
	b := &acBuilder{}
	for i, p := range []string{"he", "she", "his", "hers"} {
		b.add(p, int32(i))
	}
	m := b.build()
	var got []string
	m.each("ushers", func(p int) { got = append(got, b.patterns[p].s) })
	if strings.Join(got, ",") != "she,he,hers" {
		t.Fatalf("got %v", got)
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

func TestCorpusLists(t *testing.T) {
	s := New()
	infos, err := s.LoadDir(filepath.Join(corpusDir(t), "misp", "warninglists"))
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) < 25 {
		t.Fatalf("loaded %d lists", len(infos))
	}
	s.Freeze()
	for _, tt := range []struct {
		typ         ioc.Type
		value, list string
	}{
		{ioc.IPv4, "192.168.10.1", "List of RFC 1918 CIDR blocks"},
		{ioc.IPv6, "2001:db8::5", ""},
		{ioc.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ""},
		{ioc.Domain, "bit.ly", ""},
		{ioc.Domain, "evil-unknown-domain-zzz.com", "-"},
	} {
		h, ok := s.Check(tt.typ, tt.value)
		if tt.list == "-" {
			if ok {
				t.Errorf("%s filtered by %+v", tt.value, h)
			}
			continue
		}
		if !ok {
			t.Errorf("%s %s not filtered", tt.typ, tt.value)
			continue
		}
		if tt.list != "" && h.List != tt.list {
			t.Logf("%s filtered by %q (entry %s)", tt.value, h.List, h.Entry)
		}
		t.Logf("%s %s -> %s (%s)", tt.typ, tt.value, h.List, h.Entry)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"name":"x","type":"cidr","list":["10.0.0.0/8","::1"],"matching_attributes":["ip-src"]}`))
	f.Add([]byte(`{"name":"x","type":"regex","list":["/a(b/i"]}`))
	dir, _ := os.Getwd()
	for filepath.Dir(dir) != dir {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			files, _ := filepath.Glob(filepath.Join(dir, "..", "shared", "corpus", "threatintel", "misp", "warninglists", "*.json"))
			for _, p := range files {
				if b, err := os.ReadFile(p); err == nil && len(b) < 32<<10 {
					f.Add(b)
				}
			}
			break
		}
		dir = filepath.Dir(dir)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New()
		if _, err := s.Read(strings.NewReader(string(b))); err != nil {
			return
		}
		s.Freeze()
		for _, typ := range ioc.Types {
			s.Check(typ, "10.1.2.3")
			s.Check(typ, "a.example.com")
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	s := New()
	dir := corpusDir(b)
	if _, err := s.LoadDir(filepath.Join(dir, "misp", "warninglists")); err != nil {
		b.Fatal(err)
	}
	s.Freeze()
	vals := []struct {
		t ioc.Type
		v string
	}{{ioc.Domain, "a.b.evil-example.com"}, {ioc.IPv4, "198.51.100.7"}, {ioc.URL, "http://x.example.org/a"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := vals[i%len(vals)]
		s.Check(v.t, v.v)
	}
}
