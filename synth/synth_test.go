package synth

import (
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/normalize"
)

// Every generated record must be detected as its own format and normalise to one alert with a unique
// vendor id, a severity and the story's host among its observables.
func TestRecordsNormalise(t *testing.T) {
	g := New(Config{Tenant: "acme", Stories: 50, Seed: 1})
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for _, format := range Formats {
		for i := 0; i < 40; i++ {
			s := g.Stories()[i]
			id := format + "-" + string(rune('a'+i%26)) + time.Duration(i).String()
			rec := g.Record(format, id, s, now)
			if got := normalize.Detect(rec); got != format {
				t.Fatalf("%s record detected as %q: %s", format, got, rec)
			}
			alerts, err := normalize.Normalize("", rec, now)
			if err != nil || len(alerts) != 1 {
				t.Fatalf("%s: %v %d: %s", format, err, len(alerts), rec)
			}
			a := alerts[0]
			if a.SourceID == "" || seen[a.SourceID] {
				t.Fatalf("%s: source id %q missing or repeated", format, a.SourceID)
			}
			seen[a.SourceID] = true
			if a.Severity == socbot.SeverityUnknown || a.Title == "" {
				t.Fatalf("%s: no severity or title: %+v", format, a)
			}
			host := false
			for _, o := range a.Observables {
				host = host || (o.Type == socbot.ObsHost && len(o.Value) >= len(s.Host) && o.Value[:len(s.Host)] == s.Host) ||
					(o.Type == socbot.ObsIP && o.Value == s.InternalIP)
			}
			if !host {
				t.Fatalf("%s: story host %s / %s not among observables %+v", format, s.Host, s.InternalIP, a.Observables)
			}
		}
	}
}

func TestNextIsDeterministic(t *testing.T) {
	now := time.Unix(1700000000, 0)
	a, b := New(Config{Tenant: "x", Seed: 7}), New(Config{Tenant: "x", Seed: 7})
	for i := 0; i < 100; i++ {
		f1, id1, r1 := a.Next(now)
		f2, id2, r2 := b.Next(now)
		if f1 != f2 || id1 != id2 || string(r1) != string(r2) {
			t.Fatal("same seed, different stream")
		}
	}
}
