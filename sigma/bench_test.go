package sigma

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time used by the calling OS thread (Linux RUSAGE_THREAD). Benchmarks
// lock their goroutine to a thread and report work per CPU second, which a shared, busy machine
// distorts far less than wall time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := threadCPU()
	hits := 0
	for i := 0; i < b.N; i++ {
		if i%len(evs) == 0 {
			m.ResetCache() // each pass sees the events fresh: only repeats within the set hit the cache
		}
		ev := evs[i%len(evs)]
		m.Reset()
		if err := dec.Feed(m, ev); err != nil {
			b.Fatal(err)
		}
		hits += len(m.Match())
	}
	cpu := threadCPU() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	_ = hits
}
