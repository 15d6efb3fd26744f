// Package faults injects vendor failures (429 throttling, 5xx, hangs) into socbot's fake vendor
// servers, so that connectors and the containment framework can be tested and benchmarked against
// an unreliable vendor. Every fake under connectors/<vendor>/fake embeds one Injector.
package faults

import (
	"io"
	"math/rand"
	"net/http"
	"sync"
	"time"
)

// Kind is one injected failure.
type Kind int

// Fault kinds. None means the request is served normally.
const (
	None    Kind = iota
	TooMany      // the vendor's throttling answer (429 with its delay signal)
	Server       // a 5xx answer
	Hang         // no answer until the client gives up (or HangFor passes)
)

func (k Kind) String() string {
	switch k {
	case TooMany:
		return "429"
	case Server:
		return "5xx"
	case Hang:
		return "hang"
	}
	return "none"
}

// Faults sets random fault rates (0..1 each, summed at most 1) for every request a fake serves.
// Seed makes the sequence reproducible. HangFor bounds a hang (default 30 s) so that a test server
// can always shut down.
type Faults struct {
	Rate429, Rate5xx, RateHang float64
	Seed                       int64
	HangFor                    time.Duration
}

// Injector decides, request by request, which fault (if any) a fake answers with. Queued faults
// (Queue) are served first, in order, before the random rates apply. Safe for concurrent use.
type Injector struct {
	mu     sync.Mutex
	cfg    Faults
	rng    *rand.Rand
	queue  []Kind
	counts [4]int
}

// Set replaces the random fault rates.
func (in *Injector) Set(f Faults) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.cfg = f
	in.rng = rand.New(rand.NewSource(f.Seed))
}

// Queue makes the next n requests fail with k.
func (in *Injector) Queue(k Kind, n int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := 0; i < n; i++ {
		in.queue = append(in.queue, k)
	}
}

// Next draws the fault for one request.
func (in *Injector) Next() Kind {
	in.mu.Lock()
	defer in.mu.Unlock()
	k := None
	if len(in.queue) > 0 {
		k, in.queue = in.queue[0], in.queue[1:]
	} else if in.rng != nil {
		x := in.rng.Float64()
		switch {
		case x < in.cfg.Rate429:
			k = TooMany
		case x < in.cfg.Rate429+in.cfg.Rate5xx:
			k = Server
		case x < in.cfg.Rate429+in.cfg.Rate5xx+in.cfg.RateHang:
			k = Hang
		}
	}
	in.counts[k]++
	return k
}

// Count returns how many requests were answered with k so far.
func (in *Injector) Count(k Kind) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.counts[k]
}

// Wait blocks a hanging request until its client goes away or HangFor passes.
func (in *Injector) Wait(r *http.Request) {
	in.mu.Lock()
	d := in.cfg.HangFor
	in.mu.Unlock()
	if d <= 0 {
		d = 30 * time.Second
	}
	// Read the body whole: only then does net/http watch the connection and cancel the request's
	// context when the client hangs up.
	_, _ = io.Copy(io.Discard, r.Body)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
	}
}
