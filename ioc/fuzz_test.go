package ioc

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func addCorpusSeeds(f *testing.F) {
	f.Add([]byte("hxxp://evil[.]example[.]com/a?b=c 203.0.113[.]7:8080 user[@]x[.]org CVE-2021-44228 T1059.001"))
	f.Add([]byte("2001:db8::1/64 [2001:db8::2]:443 http]]://karlos.net/ d41d8cd98f00b204e9800998ecf8427e"))
	f.Add([]byte("((((((((([.][.][.](.)(.){.}[dot][at][@]]]]]]://\\.\\.\\."))
	dir := ""
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir = filepath.Join(d, "..", "shared", "corpus", "threatintel")
			break
		}
		if filepath.Dir(d) == d {
			return
		}
	}
	for _, g := range []string{"ioc-text/*", "threat-reports/unit42/*"} {
		files, _ := filepath.Glob(filepath.Join(dir, g))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
}

// FuzzExtract checks that no input panics the extractor, that every reported value is canonical
// (Normalize accepts it unchanged) and that the streaming reader agrees with the one-shot call.
func FuzzExtract(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, text []byte) {
		var a []IOC
		start := time.Now()
		New(Options{}).Extract(text, func(i IOC) { a = append(a, i) })
		if d := time.Since(start); d > 2*time.Second && len(text) < 1<<20 {
			t.Fatalf("extraction of %d bytes took %v", len(text), d)
		}
		for _, i := range a {
			if i.Value == "" || !i.Type.Valid() {
				t.Fatalf("bad ioc %+v", i)
			}
			if i.Type != URL {
				if n, ok := Normalize(i.Type, i.Value); !ok || n != i.Value {
					t.Fatalf("%s %q not canonical (%q %v)", i.Type, i.Value, n, ok)
				}
			}
		}
		var b []IOC
		if err := New(Options{}).ExtractReader(bytes.NewReader(text), func(i IOC) { b = append(b, i) }); err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) {
			t.Fatalf("Extract found %d, ExtractReader %d", len(a), len(b))
		}
	})
}

// FuzzNormalURL checks that IsNormalURL never claims a URL is normal when NormalizeURL changes it.
func FuzzNormalURL(f *testing.F) {
	for _, s := range []string{"http://a.com/", "HTTP://A.com", "http://a.com:80/", "https://x.y/a?b#c", "http://[::1]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		if IsNormalURL(u) && NormalizeURL(u) != u {
			t.Fatalf("IsNormalURL(%q) but NormalizeURL gives %q", u, NormalizeURL(u))
		}
	})
}

// FuzzClassify checks Classify and Normalize never panic and are idempotent.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "evil[.]com", "hxxp://a.b/c", "2001:db8::/32", "a@b.com", "CVE-2020-1234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, v, ok := Classify(s)
		if !ok {
			return
		}
		if v2, ok2 := Normalize(typ, v); !ok2 || v2 != v {
			t.Fatalf("Classify(%q) = %s %q but Normalize gives %q %v", s, typ, v, v2, ok2)
		}
	})
}
