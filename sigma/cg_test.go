package sigma

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/socbot/socbot/evtx"
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

// TestCachegrindEVTX parses and matches every corpus EVTX record CG_PASSES times (manual, for
// instruction counts under valgrind).
func TestCachegrindEVTX(t *testing.T) {
	passes, _ := strconv.Atoi(os.Getenv("CG_PASSES"))
	if passes == 0 {
		t.Skip("set CG_PASSES")
	}
	e, _, _, c := loadCorpusEngine(t)
	var datas [][]byte
	filepath.WalkDir(c, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".evtx") {
			b, _ := os.ReadFile(p)
			datas = append(datas, b)
		}
		return nil
	})
	m := e.NewMatcher()
	rd := &evtx.Reader{}
	hits, records := 0, 0
	for i := 0; i < passes; i++ {
		m.ResetCache()
		for _, d := range datas {
			if rd.ResetBytes(d) != nil {
				continue
			}
			rd.Records(func(r *evtx.Record) error {
				m.Reset()
				m.SetSource("windows", r.Channel, r.EventID)
				for _, f := range r.Fields {
					m.Add(f.Name, f.Value)
				}
				hits += len(m.Match())
				records++
				return nil
			})
		}
	}
	t.Log(records, hits)
}
