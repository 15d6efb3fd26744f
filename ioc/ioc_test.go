package ioc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func got(text string, opts Options) []string {
	var out []string
	for _, i := range ExtractAll([]byte(text), opts) {
		out = append(out, string(i.Type)+" "+i.Value)
	}
	return out
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"plain ip", "connects to 203.0.113.7 on 443", []string{"ipv4 203.0.113.7"}},
		{"defanged ip with port", "C2 198.51.100[.]23:8443,", []string{"ipv4 198.51.100.23"}},
		{"cidr", "block 203.0.113.0/24 now", []string{"cidr 203.0.113.0/24"}},
		{"cidr masked", "range 10.1.2.3/8.", []string{"cidr 10.0.0.0/8"}},
		{"version is no ip", "version 1.2.3.4.5 and 1.2.3 and 256.1.1.1", nil},
		{"leading zero", "ip 010.001.1.1", nil},
		{"domain defanged", "evil[.]example[dot]com", []string{"domain evil.example.com"}},
		{"domain paren", "bad(.)example(.)org", []string{"domain bad.example.org"}},
		{"filename not domain", "ran invoice.exe and config.dat, README.md, run.sh", nil},
		{"file-like tld when defanged", "site evil[.]zip", []string{"domain evil.zip"}},
		{"mixed case code", "System.Net.WebClient and Microsoft.Office", nil},
		{"upper domain", "EXAMPLE.COM", []string{"domain example.com"}},
		{"url", "get http://Example.COM:80/a/b?c=d#frag.", []string{"url http://example.com/a/b?c=d", "domain example.com"}},
		{"hxxps", "hxxps://ywqzz[.]com/wp-includes/U/", []string{"url https://ywqzz.com/wp-includes/U/", "domain ywqzz.com"}},
		{"brackets scheme", "http]]://karlos.net/ and hxxp[:]//a.example.net/x", []string{"url http://karlos.net/", "domain karlos.net", "url http://a.example.net/x", "domain a.example.net"}},
		{"url in parens", "(see https://example.org/page)", []string{"url https://example.org/page", "domain example.org"}},
		{"url paren in path", "https://en.wikipedia.org/wiki/Foo_(bar)", []string{"url https://en.wikipedia.org/wiki/Foo_(bar)", "domain en.wikipedia.org"}},
		{"url ip host", "hxxp://212.192.241[.]87/bins/x.arm7", []string{"url http://212.192.241.87/bins/x.arm7", "ipv4 212.192.241.87"}},
		{"schemeless defanged", "212[.]192.241.87/bins/dark.arm5 -", []string{"url http://212.192.241.87/bins/dark.arm5", "ipv4 212.192.241.87"}},
		{"url host not valid", "http://localhost/x and http://foo.exe/", nil},
		{"no hosts", "http://example.com/x", []string{"url http://example.com/x"}},
		{"email", "mail Bob.Smith@Example.co.uk.", []string{"email bob.smith@example.co.uk"}},
		{"email defanged", "contact user[@]evil[.]com or admin[at]evil[.]com", []string{"email user@evil.com", "email admin@evil.com"}},
		{"email not domain", "user@localhost", nil},
		{"md5", "hash: D41D8CD98F00B204E9800998ECF8427E", []string{"md5 d41d8cd98f00b204e9800998ecf8427e"}},
		{"sha1", "sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709", []string{"sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709"}},
		{"sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", []string{"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
		{"sha512", strings.Repeat("ab", 64), []string{"sha512 " + strings.Repeat("ab", 64)}},
		{"hex too long", strings.Repeat("a", 33), nil},
		{"hash inside word", "x" + strings.Repeat("a", 32), nil},
		{"cve", "exploits cve-2021-44228 and CVE-2014-0160.", []string{"cve CVE-2021-44228", "cve CVE-2014-0160"}},
		{"cve bad", "CVE-21-1 CVE-2021-123", nil},
		{"technique", "uses T1059.001 and T1566, not T12 or T1059.1", []string{"attack_technique T1059.001", "attack_technique T1566"}},
		{"ipv6", "beacon to 2001:db8::1 and [2001:DB8:0:0::2]:443", []string{"ipv6 2001:db8::1", "ipv6 2001:db8::2"}},
		{"ipv6 cidr", "prefix 2001:db8::/32", []string{"cidr 2001:db8::/32"}},
		{"time not ipv6", "at 12:30:45 and 00:1a:2b:3c:4d:5e", nil},
		{"arpa", "rev[.]opentransfer[.]com[.]59[.]247[.]18[.]71[.]in-addr[.]arpa", []string{"domain rev.opentransfer.com.59.247.18.71.in-addr.arpa"}},
		{"onion", "visit expyuzz4wqqyqhjn[.]onion", []string{"domain expyuzz4wqqyqhjn.onion"}},
		{"backslash dot", `evil\.example\.com`, []string{"domain evil.example.com"}},
		{"windows path", `C:\Users\[username]\AppData\Local\mscpxl32.exe`, nil},
		{"punycode", "xn--80ak6aa92e.xn--p1ai", []string{"domain xn--80ak6aa92e.xn--p1ai"}},
		{"smart quotes", "“evil.example.com”", []string{"domain evil.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{}
			if tt.name == "no hosts" {
				opts.NoURLHosts = true
			}
			g := got(tt.text, opts)
			if strings.Join(g, "|") != strings.Join(tt.want, "|") {
				t.Errorf("text %q\n got %q\nwant %q", tt.text, g, tt.want)
			}
		})
	}
}

func TestTypesFilter(t *testing.T) {
	g := got("http://example.com/x 1.2.3.4", Options{Types: []Type{IPv4}})
	if strings.Join(g, "|") != "ipv4 1.2.3.4" {
		t.Fatalf("got %q", g)
	}
}

func TestOffsets(t *testing.T) {
	text := "aaa 1.2.3.4 bbb evil.example.com"
	all := ExtractAll([]byte(text), Options{})
	if len(all) != 2 || all[0].Offset != 4 || all[1].Offset != 16 {
		t.Fatalf("offsets: %+v", all)
	}
}

// TestReaderMatchesExtract checks that the streaming reader finds exactly what the one-shot call
// finds, even when reads return one byte at a time and blocks are cut mid-stream.
func TestReaderMatchesExtract(t *testing.T) {
	var b bytes.Buffer
	for b.Len() < 700<<10 {
		b.WriteString("x 203.0.113.9 hxxp://evil[.]example.com/a ")
		b.WriteString(strings.Repeat("word ", 50))
		b.WriteString("\n")
	}
	b.WriteString(strings.Repeat("z", 100<<10)) // a very long line without delimiters
	b.WriteString(" tail.example.org")
	text := b.Bytes()
	var want, got1, got2 []IOC
	New(Options{}).Extract(text, func(i IOC) { want = append(want, i) })
	e := New(Options{})
	if err := e.ExtractReader(bytes.NewReader(text), func(i IOC) { got1 = append(got1, i) }); err != nil {
		t.Fatal(err)
	}
	if err := e.ExtractReader(iotest.HalfReader(bytes.NewReader(text)), func(i IOC) { got2 = append(got2, i) }); err != nil {
		t.Fatal(err)
	}
	for _, g := range [][]IOC{got1, got2} {
		if len(g) != len(want) {
			t.Fatalf("reader found %d, Extract %d", len(g), len(want))
		}
		for i := range g {
			if g[i] != want[i] {
				t.Fatalf("item %d: %+v != %+v", i, g[i], want[i])
			}
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct{ in, typ, val string }{
		{"1.2.3.4", "ipv4", "1.2.3.4"},
		{"::ffff:1.2.3.4", "ipv4", "1.2.3.4"},
		{"2001:DB8::1", "ipv6", "2001:db8::1"},
		{"10.0.0.1/8", "cidr", "10.0.0.0/8"},
		{"Evil.Example.com.", "domain", "evil.example.com"},
		{"evil[.]example[.]com", "domain", "evil.example.com"},
		{"hxxp://evil[.]com/x", "url", "http://evil.com/x"},
		{"evil.com/path", "url", "http://evil.com/path"},
		{"A@B.COM", "email", "a@b.com"},
		{"D41D8CD98F00B204E9800998ECF8427E", "md5", "d41d8cd98f00b204e9800998ecf8427e"},
		{"cve-2020-1234", "cve", "CVE-2020-1234"},
		{"t1059", "attack_technique", "T1059"},
		{"invoice.exe", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		typ, v, ok := Classify(tt.in)
		if !ok {
			typ, v = "", ""
		}
		if string(typ) != tt.typ || v != tt.val {
			t.Errorf("Classify(%q) = %q %q, want %q %q", tt.in, typ, v, tt.typ, tt.val)
		}
	}
}

func TestNormalizeURL(t *testing.T) {
	tests := map[string]string{
		"HTTP://Example.COM":             "http://example.com/",
		"https://example.com:443/a#b":    "https://example.com/a",
		"http://user@Example.com:8080/x": "http://user@example.com:8080/x",
		"http://example.com?q=1":         "http://example.com/?q=1",
		"http://[2001:DB8::1]:80/":       "http://[2001:db8::1]/",
	}
	for in, want := range tests {
		if g := NormalizeURL(in); g != want {
			t.Errorf("NormalizeURL(%q) = %q, want %q", in, g, want)
		}
		if IsNormalURL(in) && in != want {
			t.Errorf("IsNormalURL(%q) but it normalises to %q", in, want)
		}
		if !IsNormalURL(want) && !strings.ContainsAny(want, "@[") {
			t.Errorf("IsNormalURL(%q) is false for a simple normalised URL", want)
		}
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
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus", "threatintel")
	if _, err := os.Stat(c); err != nil {
		t.Skip("threat-intel corpus not present at ../shared/corpus/threatintel")
	}
	return c
}

func TestCodeIsNotDomain(t *testing.T) {
	for _, text := range []string{"return hashArray.map(b => b)", `req.open("POST", "/index.html")`, "window.location.href"} {
		if g := got(text, Options{}); len(g) != 0 {
			t.Errorf("%q: got %q", text, g)
		}
	}
}
