package sigma

import (
	"os"
	"strconv"
	"testing"
)

// TestCachegrindWorkload matches N events for instruction counting under valgrind (manual).
func TestCachegrindWorkload(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CG_EVENTS"))
	if n == 0 {
		t.Skip("set CG_EVENTS")
	}
	e, _, _, c := loadCorpusEngine(t)
	evs := corpusEvents(t, c)
	m := e.NewMatcher()
	var dec JSONDecoder
	hits := 0
	for i := 0; i < n; i++ {
		if i%len(evs) == 0 {
			m.ResetCache()
		}
		m.Reset()
		dec.Feed(m, evs[i%len(evs)])
		hits += len(m.Match())
	}
	t.Log(hits)
}
