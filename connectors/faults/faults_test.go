package faults

import "testing"

func TestQueueThenRates(t *testing.T) {
	var in Injector
	in.Queue(TooMany, 2)
	in.Queue(Hang, 1)
	for i, want := range []Kind{TooMany, TooMany, Hang, None} {
		if got := in.Next(); got != want {
			t.Fatalf("request %d: %v, want %v", i, got, want)
		}
	}
	in.Set(Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 42})
	n := 20000
	for i := 0; i < n; i++ {
		in.Next()
	}
	for _, k := range []Kind{TooMany, Server, Hang} {
		got := float64(in.Count(k)) / float64(n)
		if got < 0.08 || got > 0.12 {
			t.Errorf("%v rate %.3f, want about 0.10", k, got)
		}
	}
}

func TestSeedReproducible(t *testing.T) {
	var a, b Injector
	a.Set(Faults{Rate429: 0.3, Seed: 9})
	b.Set(Faults{Rate429: 0.3, Seed: 9})
	for i := 0; i < 1000; i++ {
		if a.Next() != b.Next() {
			t.Fatalf("same seed diverged at %d", i)
		}
	}
}
