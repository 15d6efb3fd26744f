package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readHunt(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON Lines: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestHuntFixtures(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.jsonl")
	c := &huntCmd{Rules: []string{"../../monitor/testdata/rules"}, Format: "jsonl", MinLevel: "informational", InputFormat: "auto",
		Output: out, NoProgress: true, Paths: []string{"../../monitor/testdata/logs"}}
	if err := c.Run(&Globals{}); err != nil {
		t.Fatal(err)
	}
	recs := readHunt(t, out)
	titles := map[string]int{}
	for _, r := range recs {
		for _, k := range []string{"rule_id", "rule_title", "level", "author", "event"} {
			if _, ok := r[k]; !ok {
				t.Errorf("record without %s: %v", k, r)
			}
		}
		titles[r["rule_title"].(string)]++
		if r["kind"] == "sigma" && r["author"] != "socbot tests" {
			t.Errorf("author %v", r["author"])
		}
	}
	want := map[string]int{"Whoami Execution (socbot test rule)": 1, "SSH Failed Password (socbot test rule)": 3,
		"SSH Brute Force (socbot test correlation)": 1, "DNS Query For Test Domain (socbot test rule)": 1, "GPL ATTACK_RESPONSE id check returned root": 1}
	for k, n := range want {
		if titles[k] != n {
			t.Errorf("%s: %d detections, want %d (all: %v)", k, titles[k], n, titles)
		}
	}
	// --min-level high keeps the high ones only
	c.MinLevel, c.Output = "high", filepath.Join(t.TempDir(), "high.jsonl")
	if err := c.Run(&Globals{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range readHunt(t, c.Output) {
		if r["level"] != "high" && r["level"] != "critical" {
			t.Errorf("min-level high let through %v", r["level"])
		}
	}
	// csv and table render
	for _, f := range []string{"csv", "table"} {
		c.MinLevel, c.Format, c.Output = "informational", f, filepath.Join(t.TempDir(), "out."+f)
		if err := c.Run(&Globals{}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(c.Output)
		if !strings.Contains(string(b), "Whoami Execution") {
			t.Errorf("%s output lacks the detection:\n%s", f, b)
		}
	}
}

func TestHuntCorpusEVTX(t *testing.T) {
	corpus := filepath.Join("..", "..", "..", "shared", "corpus", "detection")
	if _, err := os.Stat(filepath.Join(corpus, "evtx")); err != nil {
		t.Skip("detection corpus not present (../shared/corpus/detection)")
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	c := &huntCmd{Rules: []string{filepath.Join(corpus, "sigma", "rules"), filepath.Join(corpus, "sigma", "rules-emerging-threats"), filepath.Join(corpus, "sigma", "rules-threat-hunting")},
		Format: "jsonl", MinLevel: "informational", InputFormat: "auto", Output: out, NoProgress: true, Paths: []string{filepath.Join(corpus, "evtx")}}
	if err := c.Run(&Globals{}); err != nil {
		t.Fatal(err)
	}
	recs := readHunt(t, out)
	found := false
	for _, r := range recs {
		if strings.HasSuffix(r["source"].(string), "DE_1102_security_log_cleared.evtx") && strings.Contains(r["rule_title"].(string), "Eventlog Cleared") {
			found = true
		}
	}
	t.Logf("%d detections on the EVTX corpus", len(recs))
	if len(recs) < 500 || !found {
		t.Errorf("%d detections; security log cleared found: %v", len(recs), found)
	}
}
