package sigma

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// corpusEvents returns every event of the regression JSON samples (evtx_dump-style).
func corpusEvents(b testing.TB, c string) [][]byte {
	var evs [][]byte
	filepath.WalkDir(filepath.Join(c, "sigma", "regression_data"), func(p string, d os.DirEntry, err error) error {
		if err != nil || filepath.Ext(p) != ".json" {
			return nil
		}
		data, _ := os.ReadFile(p)
		SplitJSON(data, func(ev []byte) error {
			evs = append(evs, append([]byte(nil), ev...))
			return nil
		}, nil)
		return nil
	})
	return evs
}

// BenchmarkJSONAllRules: every corpus rule loaded, the regression events decoded from JSON and
// matched, one goroutine. events/s = b.N / elapsed.
func BenchmarkJSONAllRules(b *testing.B) {
	e, _, _, c := loadCorpusEngine(b)
	evs := corpusEvents(b, c)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.Logf("engine: %d rules, heap %d MiB, %d events", e.RuleCount(), ms.HeapAlloc>>20, len(evs))
	m := e.NewMatcher()
	var dec JSONDecoder
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		m.Reset()
		if err := dec.Feed(m, ev); err != nil {
			b.Fatal(err)
		}
		hits += len(m.Match())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	_ = hits
}
