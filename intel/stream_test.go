package intel

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/socbot/socbot/ioc"
)

// plainStore hides MemStore's MergeIndicators: the engine then reads with GetIndicators and writes
// with PutIndicators.
type plainStore struct{ Store }

// importItems is a feed with duplicates inside and across IngestBatch batches, revocations,
// values the warninglists filter, per-item TLP and confidence.
func importItems(n, seed int) []Item {
	var out []Item
	for i := 0; i < n; i++ {
		k := (i*7 + seed) % (n / 2) // every value about twice, far apart
		it := Item{Type: ioc.Domain, Value: fmt.Sprintf("host-%d.stream.example.com", k), Confidence: 40 + i%50,
			LastSeen: t0.Add(-time.Duration(i%90) * time.Minute), Tags: []string{fmt.Sprintf("t%d", i%3)}}
		switch {
		case k%50 == 0:
			it.Type, it.Value = ioc.IPv4, fmt.Sprintf("10.9.%d.%d", k/256%256, k%256) // RFC 1918: filtered
		case k%31 == 0:
			it.TLP = "amber"
		case k%37 == 0 && i > n/2:
			it.Revoked = true
		}
		out = append(out, it)
	}
	return out
}

func storedIndicators(t *testing.T, s Store) []Indicator {
	var all []Indicator
	if err := s.ScanIndicators(context.Background(), Filter{TenantID: "*", IncludeDead: true}, func(in *Indicator) error {
		all = append(all, *in)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].TenantID+all[i].ID < all[j].TenantID+all[j].ID })
	return all
}

// TestIngestPathsAgree: a stream through the pipeline with MergeIndicators, and the same items
// ingested batch by batch through GetIndicators and PutIndicators, store the same indicators and
// count the same.
func TestIngestPathsAgree(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t0}
	merging, _ := newTestEngine(t, clk)
	plain, _ := newTestEngine(t, clk)
	plain.store = plainStore{NewMemStore()}
	if _, ok := plain.store.(IndicatorMerger); ok {
		t.Fatal("plainStore merges")
	}
	a := SourceInfo{Name: "feed-a", Reliability: 80, DefaultConfidence: 60, Tags: []string{"a"}}
	b := SourceInfo{Name: "feed-b", Reliability: 50, TLP: TLPGreen}
	first := importItems(2*IngestBatch+777, 0)
	st1, err := merging.IngestStream(ctx, "acme", a, func(emit func(Item) error) error {
		for _, it := range first {
			if err := emit(it); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var st2 IngestStats
	for start := 0; start < len(first); start += IngestBatch {
		st, err := plain.Ingest(ctx, "acme", a, first[start:min(start+IngestBatch, len(first))])
		if err != nil {
			t.Fatal(err)
		}
		st2.Add(st)
	}
	if st1 != st2 || st1.New == 0 || st1.Updated == 0 || st1.Filtered == 0 || st1.Revoked == 0 {
		t.Fatalf("stats: pipeline %+v, batch by batch %+v", st1, st2)
	}
	// a second source, later: merges into what is stored
	clk.t = t0.Add(time.Hour)
	second := importItems(IngestBatch/2, 3)
	for _, e := range []*Engine{merging, plain} {
		if _, err := e.Ingest(ctx, "acme", b, second); err != nil {
			t.Fatal(err)
		}
		// and the first again: nothing new but the last-seen times
		if _, err := e.Ingest(ctx, "acme", a, first[:1000]); err != nil {
			t.Fatal(err)
		}
	}
	x, y := storedIndicators(t, merging.store), storedIndicators(t, plain.store)
	if len(x) != len(y) {
		t.Fatalf("stored %d vs %d indicators", len(x), len(y))
	}
	for i := range x {
		if !reflect.DeepEqual(x[i], y[i]) {
			t.Fatalf("the paths differ:\n merge %+v\n plain %+v", x[i], y[i])
		}
	}
	// the live index agrees with the store
	for _, e := range []*Engine{merging, plain} {
		if m := e.Match("acme", "domain", "host-1.stream.example.com"); len(m) != 1 {
			t.Fatalf("match after the import: %+v", m)
		}
	}
}

// TestIngestStreamStopsOnError: a failing write stops the reader and reports the batches stored.
func TestIngestStreamStopsOnError(t *testing.T) {
	ctx := context.Background()
	e, _ := newTestEngine(t, &fakeClock{t0})
	e.store = &failingStore{MemStore: NewMemStore(), after: 1}
	emitted := 0
	st, err := e.IngestStream(ctx, "acme", SourceInfo{Name: "f"}, func(emit func(Item) error) error {
		for i := 0; i < 10*IngestBatch; i++ {
			if err := emit(Item{Type: ioc.Domain, Value: fmt.Sprintf("h%d.fail.example.com", i)}); err != nil {
				return err
			}
			emitted++
		}
		return nil
	}, nil)
	if err == nil || st.New != IngestBatch || emitted >= 10*IngestBatch {
		t.Fatalf("err %v, stats %+v, emitted %d", err, st, emitted)
	}
}

// failingStore fails every MergeIndicators after the first `after`.
type failingStore struct {
	*MemStore
	after, calls int
}

func (f *failingStore) MergeIndicators(ctx context.Context, tenantID string, batch []Indicator, merge func(int, *Indicator) bool) ([]MergeOutcome, error) {
	if f.calls++; f.calls > f.after {
		return nil, fmt.Errorf("disk full")
	}
	return f.MemStore.MergeIndicators(ctx, tenantID, batch, merge)
}
