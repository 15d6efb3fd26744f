package feeds

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/socbot/socbot/intel"
)

func parseFile(t *testing.T, path, format string, opts map[string]string) []intel.Item {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []intel.Item
	if err := Parse(context.Background(), format, intel.Feed{Options: opts}, f, func(it intel.Item) error {
		items = append(items, it)
		return nil
	}); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return items
}

func summary(items []intel.Item) string {
	var s []string
	for _, it := range items {
		s = append(s, string(it.Type)+" "+it.Value)
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

func TestDetect(t *testing.T) {
	want := map[string]string{
		"urlhaus.csv": "urlhaus", "feodo.csv": "feodo", "threatfox.csv": "threatfox", "threatfox.json": "threatfox-json",
		"feodo.json": "feodo-json", "misp-event.json": "misp", "feed.rss": "rss", "feed.atom": "rss", "list.txt": "plain",
		"mapped.csv": "text",
	}
	for file, w := range want {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if g := Detect(b); g != w {
			t.Errorf("%s: detected %s, want %s", file, g, w)
		}
	}
	for text, w := range map[string]string{
		`{"type": "bundle", "id": "bundle--1", "objects": []}`:                                "stix",
		"The actor used evil.example.com for C2 and then moved on to other infrastructure.\n": "text",
		"": "plain",
	} {
		if g := Detect([]byte(text)); g != w {
			t.Errorf("%q: %s, want %s", text, g, w)
		}
	}
}

func TestParsers(t *testing.T) {
	tests := []struct {
		file, format string
		opts         map[string]string
		want         string
	}{
		{"urlhaus.csv", "auto", nil, "url http://198.51.100.20:8080/bins/x.arm7\nurl https://evil-loader.example.net/a.zip"},
		{"feodo.csv", "auto", nil, "ipv4 203.0.113.77\nipv4 203.0.113.78"},
		{"threatfox.csv", "auto", nil, "domain c2.bad-actor.example.org\nipv4 192.0.2.55\nsha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"threatfox.json", "auto", nil, "ipv4 198.51.100.9\nurl http://payload.bad-actor.example.org/x.exe"},
		{"feodo.json", "auto", nil, "domain c2.feodo-test.example.com\nipv4 203.0.113.90"},
		{"misp-event.json", "auto", nil, "domain c2.misp-test.example.net\nipv4 198.51.100.44\nipv4 198.51.100.45\nmd5 d41d8cd98f00b204e9800998ecf8427e\nsha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"misp-event.json", "misp", map[string]string{"all_attributes": "true"}, "domain c2.misp-test.example.net\nipv4 198.51.100.44\nipv4 198.51.100.45\nmd5 d41d8cd98f00b204e9800998ecf8427e\nsha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nurl http://drop.misp-test.example.net/a"},
		{"feed.rss", "auto", nil, "domain evil-c2.example.net\nipv4 203.0.113.10\nsha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nurl http://203.0.113.10/stage2.bin"},
		{"feed.atom", "auto", nil, "email phish@bad-mail.example.com\nipv4 198.51.100.200"},
		{"list.txt", "auto", nil, " this\ncidr 203.0.113.0/28\ndomain evil.example.org\nipv4 203.0.113.1\nurl http://bad.example.org/x"},
		{"mapped.csv", "csv", map[string]string{"delimiter": ";", "value": "indicator", "type_column": "kind", "last_seen": "seen", "confidence": "score", "tags": "labels", "tags_separator": "|"},
			"domain bad-partner.example.org\nipv4 198.51.100.7"},
	}
	for _, tt := range tests {
		items := parseFile(t, filepath.Join("testdata", tt.file), tt.format, tt.opts)
		if g := summary(items); g != tt.want {
			t.Errorf("%s (%s):\n got %s\nwant %s", tt.file, tt.format, strings.ReplaceAll(g, "\n", " | "), strings.ReplaceAll(tt.want, "\n", " | "))
		}
	}
	// details
	misp := parseFile(t, "testdata/misp-event.json", "misp", nil)
	for _, it := range misp {
		if it.Type == "sha256" && it.TLP != "amber" || it.Type == "md5" && it.TLP != "green" || it.Description != "Test campaign" {
			t.Errorf("misp item %+v", it)
		}
	}
	rss := parseFile(t, "testdata/feed.rss", "rss", nil)
	if rss[0].Ref != "https://advisories.example.org/2026/01/loader" || rss[0].LastSeen.IsZero() || rss[0].Description == "" {
		t.Errorf("rss item %+v", rss[0])
	}
	tf := parseFile(t, "testdata/threatfox.csv", "threatfox", nil)
	if tf[0].Confidence != 100 || !strings.Contains(strings.Join(tf[0].Tags, ","), "cobaltstrike") || tf[0].FirstSeen.IsZero() {
		t.Errorf("threatfox item %+v", tf[0])
	}
	csv := parseFile(t, "testdata/mapped.csv", "csv", map[string]string{"delimiter": ";", "value": "indicator", "type_column": "kind", "last_seen": "seen", "confidence": "score", "tags": "labels", "tags_separator": "|"})
	if csv[0].Confidence != 85 || len(csv[0].Tags) != 2 || csv[0].LastSeen.IsZero() {
		t.Errorf("csv item %+v", csv[0])
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ format, body string }{
		{"misp", "not json"}, {"rss", "<html><body>no</body></html>"}, {"threatfox-json", `{"query_status": "no_result"}`},
		{"nope", "x"}, {"csv", "a,b\n"},
	} {
		opts := map[string]string{}
		if c.format == "csv" {
			opts["value"] = "missing"
		}
		err := Parse(context.Background(), c.format, intel.Feed{Options: opts}, strings.NewReader(c.body), func(intel.Item) error { return nil })
		if err == nil {
			t.Errorf("%s %q: no error", c.format, c.body)
		}
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

func TestCorpusFeeds(t *testing.T) {
	dir := corpusDir(t)
	tests := []struct {
		file, want string
		min        int
	}{
		{"abusech/feodotracker-ipblocklist-2024-04-04.csv", "feodo", 28},
		{"abusech/urlhaus-csv-online-2025-04-21-first300-banner-stripped.csv", "urlhaus", 300},
		{"abusech/urlhaus-csv-online-2026-08-18-excerpt.csv", "urlhaus", 15},
		{"misp/events/circl-osint-feed-event-57c4445b-c548-4654-af0b-4be3950d210f.json", "misp", 1},
		{"misp/events/misp-tests-event.json", "misp", 1},
		{"misp/events/pymisp-existing_event-sednit.json", "misp", 1},
		{"intelmq/misp_event.json", "misp", 1},
		{"stix21/threat-report-poisonivy.json", "stix", 10},
		{"threat-reports/unit42/2021-08-16-updated-IOCs-for-Mirai.txt", "text", 50},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if g := Detect(b[:min(len(b), 8192)]); g != tt.want {
			t.Errorf("%s: detected %s, want %s", tt.file, g, tt.want)
		}
		items := parseFile(t, p, "auto", map[string]string{"all_attributes": "true"})
		valid := 0
		for _, it := range items {
			if it.Type != "" {
				valid++
			}
		}
		t.Logf("%-80s %d items", tt.file, valid)
		if valid < tt.min {
			t.Errorf("%s: %d items, want at least %d", tt.file, valid, tt.min)
		}
	}
}

// fuzzSeeds adds the testdata files and small corpus files as seeds.
func fuzzSeeds(f *testing.F, globs ...string) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	dir, _ := os.Getwd()
	for filepath.Dir(dir) != dir {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			for _, g := range globs {
				fs, _ := filepath.Glob(filepath.Join(dir, "..", "shared", "corpus", "threatintel", g))
				for _, p := range fs {
					if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
						f.Add(b)
					}
				}
			}
			return
		}
		dir = filepath.Dir(dir)
	}
}

// FuzzParseAll runs every parser (and detection) over arbitrary input: no panic, no hang.
func FuzzParseAll(f *testing.F) {
	fuzzSeeds(f, "abusech/*", "misp/events/*", "intelmq/*", "ioc-text/intelmq-tweet.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		Detect(b)
		for _, format := range Formats() {
			opts := map[string]string{"value": "1", "all_attributes": "true"}
			Parse(context.Background(), format, intel.Feed{Options: opts}, bytes.NewReader(b), func(intel.Item) error { return nil })
		}
	})
}
