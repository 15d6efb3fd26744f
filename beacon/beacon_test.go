package beacon

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSyntheticBeaconRanksFirst(t *testing.T) {
	a := New(Options{})
	rng := rand.New(rand.NewSource(1))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// a beacon every 5 minutes with 5% jitter and near-constant size, for 24h
	for i := 0; i < 288; i++ {
		j := time.Duration(rng.NormFloat64() * 15 * float64(time.Second))
		a.Add(Conn{Src: "10.0.0.5", Dst: "203.0.113.50", Time: start.Add(time.Duration(i)*5*time.Minute + j), Bytes: 900 + int64(rng.Intn(40))})
	}
	// a user browsing: bursts at random times with random sizes
	for i := 0; i < 300; i++ {
		a.Add(Conn{Src: "10.0.0.6", Dst: "198.51.100.20", Time: start.Add(time.Duration(rng.Intn(8*3600)) * time.Second), Bytes: int64(rng.Intn(2_000_000))})
	}
	// multicast noise is dropped
	for i := 0; i < 100; i++ {
		a.Add(Conn{Src: "fe80::1", Dst: "ff02::2", Time: start.Add(time.Duration(i) * time.Minute)})
	}
	res := a.Results()
	if len(res) != 2 {
		t.Fatalf("got %d results, want 2: %+v", len(res), res)
	}
	if res[0].Dst != "203.0.113.50" || res[0].Score < 0.8 || res[1].Score > 0.6 {
		t.Errorf("ranking wrong: %+v", res)
	}
	if a.Filtered != 100 {
		t.Errorf("filtered %d, want 100", a.Filtered)
	}
}

func TestBoundedPairs(t *testing.T) {
	a := New(Options{MaxPairs: 10, MaxPerPair: 100})
	t0 := time.Unix(1700000000, 0)
	for i := 0; i < 50; i++ {
		a.Add(Conn{Src: "10.0.0.1", Dst: fmt.Sprintf("192.0.2.%d", i), Time: t0})
	}
	for i := 0; i < 1000; i++ {
		a.Add(Conn{Src: "10.0.0.1", Dst: "192.0.2.0", Time: t0.Add(time.Duration(i) * time.Minute)})
	}
	if len(a.pairs) != 10 || a.Dropped != 40 || len(a.pairs[pairKey{"10.0.0.1", "192.0.2.0", ""}].times) > 100 {
		t.Errorf("pairs %d dropped %d", len(a.pairs), a.Dropped)
	}
}

// TestRITAProxy runs on RITA's proxy test data: the two proxied beacons from 10.136.0.18 must be
// found, www.honestimnotevil.com first.
func TestRITAProxy(t *testing.T) {
	dir := ritaDir(t)
	a := New(Options{})
	st, err := LoadZeek(a, dir)
	if err != nil {
		t.Fatal(err)
	}
	res := a.Results()
	for i, r := range res {
		t.Logf("%d. %.3f %s -> %s via %s: %s", i+1, r.Score, r.Src, r.Dst, r.Proxy, r.Why)
	}
	t.Logf("records %d, filtered %d", st.Records, a.Filtered)
	if len(res) < 2 || res[0].Dst != "www.honestimnotevil.com" || res[0].Src != "10.136.0.18" || res[0].Proxy != "10.136.0.16:3128" {
		t.Fatalf("www.honestimnotevil.com is not the top beacon")
	}
	found := false
	for _, r := range res[:min(3, len(res))] {
		if r.Dst == "www.google.com" && r.Src == "10.136.0.18" {
			found = true
		}
	}
	if !found {
		t.Errorf("the proxied www.google.com beacon is not in the top 3")
	}
}

func ritaDir(t *testing.T) string {
	dir, _ := os.Getwd()
	for i := 0; i < 6; i++ {
		p := filepath.Join(dir, "..", "shared", "corpus", "detection", "zeek", "rita", "proxy")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	t.Skip("RITA proxy corpus not present")
	return ""
}
