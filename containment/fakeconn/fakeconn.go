// Package fakeconn is an in-memory containment connector for tests, benchmarks and demos: it keeps
// what is blocked in a map, answers like a vendor (idempotent add and remove, one commit per batch),
// injects the vendor faults the containment framework must survive (429 with a delay, 5xx, hangs
// past the caller's timeout, sometimes after the change was made) and counts every effect so that a
// test can prove nothing was applied twice and nothing was lost. It registers connector type
// "memory".
package fakeconn

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

// Type is the connector type this package registers.
const Type = "memory"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		c := New(cfg.ID)
		if v := cfg.Options["fault_rate"]; v != "" {
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || r > 1 {
				return nil, socbot.FieldError("fakeconn.New", "options.fault_rate", "must be a number from 0 to 1")
			}
			c.SetFaults(Faults{Rate429: r / 3, Rate5xx: r / 3, RateHang: r / 3, RetryAfter: 50 * time.Millisecond, Seed: 1})
		}
		c.timeout = cfg.Timeout
		return c, nil
	})
}

// Faults are per-call fault rates (summed at most 1).
type Faults struct {
	Rate429, Rate5xx, RateHang float64
	RetryAfter                 time.Duration // the delay a 429 asks for
	Seed                       int64
	// HangApplies is the share of hangs that happen after the change was made (0..1).
	HangApplies float64
}

// Conn is one fake connector instance.
type Conn struct {
	id      string
	timeout time.Duration

	mu            sync.Mutex
	faults        Faults
	rng           *rand.Rand
	nonIdempotent bool
	unsupported   map[socbot.ActionKind]bool
	present       map[string]bool
	creations     map[string]int
	removals      map[string]int
	calls         int
	commits       int
	faultCount    map[string]int
	down          bool
	onApply       func(socbot.ContainmentRequest)
}

var (
	_ socbot.Connector        = (*Conn)(nil)
	_ socbot.ConnectorChecker = (*Conn)(nil)
)

// New returns a fake connector with no faults.
func New(id string) *Conn {
	return &Conn{id: id, present: map[string]bool{}, creations: map[string]int{}, removals: map[string]int{},
		unsupported: map[socbot.ActionKind]bool{}, faultCount: map[string]int{}}
}

// SetFaults sets the fault rates.
func (c *Conn) SetFaults(f Faults) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = f
	c.rng = rand.New(rand.NewSource(f.Seed))
}

// SetNonIdempotent makes a repeated add create the effect again (like an EDR isolate call that
// queues a second action), so that double application becomes visible in Creations.
func (c *Conn) SetNonIdempotent(v bool) { c.mu.Lock(); c.nonIdempotent = v; c.mu.Unlock() }

// SetDown makes every call fail with a 503 until set back.
func (c *Conn) SetDown(v bool) { c.mu.Lock(); c.down = v; c.mu.Unlock() }

// Unsupport makes the connector refuse a kind (and its inverse).
func (c *Conn) Unsupport(k socbot.ActionKind) { c.mu.Lock(); c.unsupported[k] = true; c.mu.Unlock() }

// OnApply sets a hook called for each request that changes state (benchmarks take times with it).
func (c *Conn) OnApply(f func(socbot.ContainmentRequest)) { c.mu.Lock(); c.onApply = f; c.mu.Unlock() }

// CallTimeout is the configured per-call timeout (the executor honours it).
func (c *Conn) CallTimeout() time.Duration { return c.timeout }

// Type implements socbot.Connector.
func (c *Conn) Type() string { return Type }

// Supports implements socbot.Connector.
func (c *Conn) Supports(k socbot.ActionKind) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := k
	if !k.IsForward() {
		f = k.Inverse()
	}
	return k.Valid() && !c.unsupported[f]
}

func key(r socbot.ContainmentRequest) string {
	f := r.Kind
	if !f.IsForward() {
		f = f.Inverse()
	}
	return string(f) + ":" + r.Value
}

func (c *Conn) draw() string {
	if c.down {
		return "5xx"
	}
	if c.rng == nil {
		return ""
	}
	x := c.rng.Float64()
	switch {
	case x < c.faults.Rate429:
		return "429"
	case x < c.faults.Rate429+c.faults.Rate5xx:
		return "5xx"
	case x < c.faults.Rate429+c.faults.Rate5xx+c.faults.RateHang:
		if c.rng.Float64() < c.faults.HangApplies {
			return "hang-after"
		}
		return "hang"
	}
	return ""
}

// Apply implements socbot.Connector: one commit per batch.
func (c *Conn) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	c.mu.Lock()
	c.calls++
	fault := c.draw()
	if fault != "" {
		c.faultCount[fault]++
	}
	switch fault {
	case "429":
		ra := c.faults.RetryAfter
		c.mu.Unlock()
		out := make([]socbot.ContainmentResult, len(reqs))
		for i := range out {
			out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: &socbot.VendorError{Connector: c.id,
				Status: 429, Msg: "rate limit exceeded", Retryable: true, RetryAfter: ra}}
		}
		return out, nil
	case "5xx":
		c.mu.Unlock()
		return nil, &socbot.VendorError{Connector: c.id, Status: 503, Msg: "service unavailable", Retryable: true}
	case "hang":
		c.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	out := make([]socbot.ContainmentResult, len(reqs))
	var applied []socbot.ContainmentRequest
	for i, r := range reqs {
		f := r.Kind
		if !f.IsForward() {
			f = f.Inverse()
		}
		if c.unsupported[f] || !r.Kind.Valid() {
			out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: socbot.E("fakeconn.Apply", socbot.KindUnsupported, "unsupported kind "+string(r.Kind))}
			continue
		}
		k := key(r)
		if r.Kind.IsForward() {
			if c.present[k] && !c.nonIdempotent {
				out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: k}
				continue
			}
			c.present[k] = true
			c.creations[k]++
			out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: k}
			applied = append(applied, r)
		} else {
			if !c.present[k] {
				out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent}
				continue
			}
			delete(c.present, k)
			c.removals[k]++
			out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved}
			applied = append(applied, r)
		}
	}
	c.commits++
	hook := c.onApply
	c.mu.Unlock()
	if hook != nil {
		for _, r := range applied {
			hook(r)
		}
	}
	if fault == "hang-after" { // the vendor did it, but the answer never arrives
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return out, nil
}

// Plan implements socbot.Connector.
func (c *Conn) Plan(_ context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		change := "add " + key(r)
		switch {
		case r.Kind.IsForward() && c.present[key(r)]:
			change = "none: " + key(r) + " already present"
		case !r.Kind.IsForward() && c.present[key(r)]:
			change = "remove " + key(r)
		case !r.Kind.IsForward():
			change = "none: " + key(r) + " not present"
		}
		if r.TTL > 0 && r.Kind.IsForward() {
			change += fmt.Sprintf(" ttl=%s", r.TTL)
		}
		out[i] = socbot.PlannedChange{Connector: c.id, Kind: r.Kind, Value: r.Value, Change: change}
	}
	return out, nil
}

// Check implements socbot.ConnectorChecker.
func (c *Conn) Check(ctx context.Context, reqs []socbot.ContainmentRequest) ([]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, &socbot.VendorError{Connector: c.id, Status: 503, Msg: "service unavailable", Retryable: true}
	}
	out := make([]bool, len(reqs))
	for i, r := range reqs {
		out[i] = c.present[key(r)]
	}
	return out, nil
}

// Present reports whether the forward effect of kind on value is in place.
func (c *Conn) Present(kind socbot.ActionKind, value string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.present[key(socbot.ContainmentRequest{Kind: kind, Value: value})]
}

// Stats are the connector's counters.
type Stats struct {
	Calls, Commits int
	Present        int
	Created        int            // effects created, counting repeats
	DoubleApplied  int            // creations beyond the first per value
	Faults         map[string]int // injected faults by kind
}

// Stats returns the counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Calls: c.calls, Commits: c.commits, Present: len(c.present), Faults: map[string]int{}}
	for _, n := range c.creations {
		s.Created += n
		if n > 1 {
			s.DoubleApplied += n - 1
		}
	}
	for k, v := range c.faultCount {
		s.Faults[k] = v
	}
	return s
}

// Creations is how many times the effect for value was created.
func (c *Conn) Creations(kind socbot.ActionKind, value string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creations[key(socbot.ContainmentRequest{Kind: kind, Value: value})]
}
