package playbook

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	socbot "github.com/socbot/socbot"
)

// FuzzDryRun hands the default library incidents and alerts of any shape (in socbot serve they come
// from outside: whatever the detection sources sent) and runs every triggered playbook as a dry run:
// triggers, guards, branches, values and templates must evaluate or fail with a reason, never panic
// or loop, and a dry run never changes anything.
func FuzzDryRun(f *testing.F) {
	if b, err := os.ReadFile("testdata/incident-c2.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"id":1,"confidence":99,"alerts":[{"observables":[{"type":"email","value":"x@evil.example","role":"actor"}],"category":"phishing"}]}`))
	f.Add([]byte(`{"confidence":100,"alerts":[{"observables":[{"type":"user","value":"","role":"target"},{"type":"host","value":"*"}]}]}`))
	f.Add([]byte(`{"alerts":[{"enrichment":[{"observable":"ip:1","verdict":"malicious","score":-5}]}]}`))
	lib := NewLibrary()
	defs, err := Defaults()
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range defs {
		if err := lib.Add("", p); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc struct {
			socbot.Incident
			Alerts []socbot.Alert `json:"alerts"`
		}
		if json.Unmarshal(data, &doc) != nil {
			return
		}
		runs := NewMemRuns()
		e := NewEngine(Config{Library: lib, Runs: runs})
		out, err := e.Start(context.Background(), doc.Incident, doc.Alerts, true)
		if err != nil {
			t.Fatalf("dry run failed: %v", err)
		}
		for _, r := range out {
			if r.State != RunDone && r.State != RunFailed {
				t.Fatalf("dry run of %s ended %s", r.Playbook, r.State)
			}
			for _, o := range r.Outcomes {
				if o.Status == "done" && o.Kind == "contain" {
					t.Fatalf("a dry run contained something: %+v", o)
				}
			}
		}
		if len(runs.Runs()) != 0 {
			t.Fatal("a dry run stored a run")
		}
	})
}
