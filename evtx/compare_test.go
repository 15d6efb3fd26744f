package evtx

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/Velocidex/ordereddict"
	velo "www.velocidex.com/golang/evtx"
)

// TestCorpusAgainstVelocidex reads every corpus EVTX file with this package and with the Velocidex
// parser and compares record ids, channels, event ids and every EventData value.
func TestCorpusAgainstVelocidex(t *testing.T) {
	files := corpusFiles(t)
	total, mismatched, fieldsCompared := 0, 0, 0
	kinds := map[string]int{}
	for _, path := range files {
		want := map[uint64]map[string]string{}
		fd, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := velo.GetChunks(fd)
		if err != nil {
			fd.Close()
			continue
		}
		for _, ch := range chunks {
			recs, _ := ch.Parse(0)
			for _, r := range recs {
				ev, ok := r.Event.(*ordereddict.Dict)
				if !ok {
					continue
				}
				flat := map[string]string{}
				e, _ := ev.Get("Event")
				ed, _ := e.(*ordereddict.Dict)
				if ed == nil {
					continue
				}
				if sys, ok := ed.Get("System"); ok {
					if sd, ok := sys.(*ordereddict.Dict); ok {
						if v, ok := sd.Get("Channel"); ok {
							flat["Channel"] = fmt.Sprint(v)
						}
					}
				}
				if data, ok := ed.Get("EventData"); ok {
					if dd, ok := data.(*ordereddict.Dict); ok {
						for _, k := range dd.Keys() {
							v, _ := dd.Get(k)
							flat[k] = fmt.Sprint(v)
						}
					}
				}
				want[r.Header.RecordID] = flat
			}
		}
		fd.Close()
		_, err = ReadFile(path, func(r *Record) error {
			total++
			w, ok := want[r.ID]
			if !ok {
				kinds["record missing in velocidex"]++
				return nil
			}
			got := map[string]string{"Channel": r.Channel}
			for _, f := range r.Fields {
				if f.Section == SectionEventData {
					got[f.Name] = f.Value
				}
			}
			bad := false
			for k, wv := range w {
				gv, ok := got[k]
				fieldsCompared++
				if !ok {
					if kinds["missing "+k] < 3 {
						t.Logf("%s record %d: missing %s (want %q); have %v", path, r.ID, k, wv, got)
					}
					kinds["missing "+k]++
					bad = true
				} else if !sameValue(gv, wv, allValues(r, k)) {
					key := "diff " + k
					if kinds[key] < 2 {
						t.Logf("%s record %d %s: got %q want %q", path, r.ID, k, gv, wv)
					}
					kinds[key]++
					bad = true
				}
			}
			if bad {
				mismatched++
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%5d %s", n, k))
	}
	sort.Strings(ks)
	t.Logf("%d files, %d records, %d fields compared, %d records differ:\n%s", len(files), total, fieldsCompared, mismatched, strings.Join(ks, "\n"))
	// Known representation differences: Velocidex renders FILETIME values as epoch seconds and
	// keeps <Data Name=...> elements whose Name is itself a value as dictionaries.
	for k := range kinds {
		if k != "diff fileTime" && k != "missing Data" {
			t.Errorf("unexpected difference from Velocidex: %s (%d records)", k, kinds[k])
		}
	}
	if total < 4000 {
		t.Errorf("read %d records, want the corpus's 4,014", total)
	}
}

func allValues(r *Record, name string) []string {
	var out []string
	for _, f := range r.Fields {
		if f.Name == name {
			out = append(out, f.Value)
		}
	}
	return out
}

// sameValue compares our text with Velocidex's: it prints hex integers in decimal, binary as byte
// lists, FILETIME as epoch seconds, arrays in brackets and uint8 as a raw byte.
func sameValue(got, want string, all []string) bool {
	if got == want || (want == "<nil>" && got == "") {
		return true
	}
	if strings.HasPrefix(got, "0x") {
		var n uint64
		if _, err := fmt.Sscanf(got, "0x%x", &n); err == nil && fmt.Sprint(n) == want {
			return true
		}
	}
	if len(want) == 1 && fmt.Sprint(int(want[0])) == got {
		return true
	}
	if strings.HasPrefix(want, "[") && strings.HasSuffix(want, "]") {
		if strings.Join(all, " ") == want[1:len(want)-1] {
			return true
		}
		var b []byte
		for _, f := range strings.Fields(want[1 : len(want)-1]) {
			var x int
			if _, err := fmt.Sscan(f, &x); err != nil {
				return false
			}
			b = append(b, byte(x))
		}
		return fmt.Sprintf("%X", b) == got
	}
	return false
}
