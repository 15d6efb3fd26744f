package monitor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socbot/socbot/evtx"
)

// corpusDir returns ../shared/corpus/detection from the module root, or skips.
func corpusDir(tb testing.TB) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("module root not found")
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus", "detection")
	if _, err := os.Stat(filepath.Join(c, "sigma", "rules")); err != nil {
		tb.Skipf("detection corpus not present at %s (only in the project's shared workspace)", c)
	}
	return c
}

// BenchmarkProcessJSON is the JSON figure of socbot bench detect as a Go benchmark: every corpus
// rule loaded, the regression samples and every corpus EVTX record rendered as JSON, each event
// decoded, matched and its detections built (findings counted). One op is one event; allocs/op
// must stay at about zero.
func BenchmarkProcessJSON(b *testing.B) {
	c := corpusDir(b)
	rs, err := LoadRules(filepath.Join(c, "sigma", "rules"), filepath.Join(c, "sigma", "rules-emerging-threats"), filepath.Join(c, "sigma", "rules-threat-hunting"))
	if err != nil {
		b.Fatal(err)
	}
	var events [][]byte
	filepath.WalkDir(c, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch {
		case strings.HasSuffix(p, ".json") && strings.Contains(p, "regression_data"):
			f, _ := os.Open(p)
			SplitJSONStream(f, MaxEvent, func(ev []byte) error { events = append(events, bytes.Clone(ev)); return nil }, func() {})
			f.Close()
		case strings.HasSuffix(p, ".evtx"):
			data, _ := os.ReadFile(p)
			rd, err := evtx.NewReader(bytes.NewReader(data), int64(len(data)))
			if err == nil {
				rd.Records(func(r *evtx.Record) error { events = append(events, RenderEVTXJSON(r)); return nil })
			}
		}
		return nil
	})
	n := 0
	p := NewProcessor(rs, nil, func(*Finding) error { n++; return nil })
	for _, ev := range events { // warm up: buffers grown, caches filled once
		p.ProcessJSON(ev, "bench", SourceHint{})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(events) == 0 {
			p.ResetCache()
		}
		p.ProcessJSON(events[i%len(events)], "bench", SourceHint{})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
