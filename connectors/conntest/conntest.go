// Package conntest is the conformance suite every socbot vendor connector passes against its fake
// server: block, block again (AlreadyPresent), unblock, unblock again (AlreadyAbsent), a dry-run Plan
// that reads but never writes, an authentication failure that is not retried, throttling that
// carries the vendor's delay, retryable 5xx and hangs, and credentials that never leak into errors,
// results, plans or logs. Vendor-specific behaviour (commit batching, concurrency tokens) is tested
// in each connector's own package.
package conntest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Fake is what the suite needs from a vendor's fake server.
type Fake interface {
	http.Handler
	Faults() *faults.Injector
	// Blocked reports whether the action is in force at the vendor (committed/activated/deployed
	// state where the vendor stages changes).
	Blocked(kind socbot.ActionKind, value string) bool
	AuthFailures() int // requests refused for bad credentials so far
	Writes() int       // state-changing calls served so far
}

// Suite describes one connector for the conformance run.
type Suite struct {
	// NewFake builds the fake (seeded with whatever the cases need), using clock.
	NewFake func(clock socbot.Clock) Fake
	// New builds the connector under test.
	New func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error)
	// Config returns a working configuration for a fake served at baseURL.
	Config func(baseURL string) socbot.ConnectorConfig
	// Spoil makes cfg's credentials wrong.
	Spoil func(cfg *socbot.ConnectorConfig)
	// Cases are forward actions (block, isolate, disable); the suite also applies their inverses.
	Cases []socbot.ContainmentRequest
	// RetryAfter is the delay the fake's injected 429 asks for, as the connector must report it.
	RetryAfter time.Duration
}

// Clock is a settable test clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 5, 19, 13, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var _ socbot.Clock = (*Clock)(nil)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Env is one running fake with a connector factory bound to it.
type Env struct {
	T      *testing.T
	Fake   Fake
	Server *httptest.Server
	Clock  *Clock
	Logs   *syncBuffer
	suite  *Suite
	texts  []string // every error, detail and plan text produced, checked for secrets
}

// Start runs the fake on a loopback test server until the test ends.
func Start(t *testing.T, s *Suite) *Env {
	t.Helper()
	clock := NewClock()
	f := s.NewFake(clock)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &Env{T: t, Fake: f, Server: srv, Clock: clock, Logs: &syncBuffer{}, suite: s}
}

// Connector builds a connector against the fake; spoil gives it bad credentials.
func (e *Env) Connector(spoil bool, timeout time.Duration) socbot.Connector {
	e.T.Helper()
	cfg := e.suite.Config(e.Server.URL)
	if spoil {
		e.suite.Spoil(&cfg)
	}
	cfg.Timeout = timeout
	log := slog.New(slog.NewTextHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := e.suite.New(cfg, vendorhttp.Deps{Logger: log, Clock: e.Clock})
	if err != nil {
		e.T.Fatalf("building connector: %v", err)
	}
	return c
}

// Apply runs reqs and records every text produced for the secrets check.
func (e *Env) Apply(c socbot.Connector, reqs ...socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	e.T.Helper()
	res, err := c.Apply(context.Background(), reqs)
	if err != nil {
		e.texts = append(e.texts, err.Error())
	} else if len(res) != len(reqs) {
		e.T.Fatalf("Apply returned %d results for %d requests", len(res), len(reqs))
	}
	for _, r := range res {
		e.texts = append(e.texts, r.Detail, r.VendorRef)
		if r.Err != nil {
			e.texts = append(e.texts, r.Err.Error())
		}
	}
	return res, err
}

// Plan runs a dry run and records its text.
func (e *Env) Plan(c socbot.Connector, reqs ...socbot.ContainmentRequest) []socbot.PlannedChange {
	e.T.Helper()
	pl, err := c.Plan(context.Background(), reqs)
	if err != nil {
		e.T.Fatalf("Plan: %v", err)
	}
	for _, p := range pl {
		e.texts = append(e.texts, p.Change)
	}
	return pl
}

// Want checks that every result has outcome want.
func (e *Env) Want(res []socbot.ContainmentResult, err error, want socbot.ContainmentOutcome) {
	e.T.Helper()
	if err != nil {
		e.T.Fatalf("Apply: batch error %v, want %s", err, want)
	}
	for i, r := range res {
		if r.Outcome != want {
			e.T.Fatalf("result %d: outcome %s (%v), want %s", i, r.Outcome, r.Err, want)
		}
	}
}

// VendorError returns the vendor error of a failed Apply (batch error or first failed result).
func VendorError(res []socbot.ContainmentResult, err error) *socbot.VendorError {
	var ve *socbot.VendorError
	if err != nil && errors.As(err, &ve) {
		return ve
	}
	for _, r := range res {
		if r.Outcome == socbot.OutcomeFailed && r.Err != nil && errors.As(r.Err, &ve) {
			return ve
		}
	}
	return nil
}

// Inverse returns the undo request of r.
func Inverse(r socbot.ContainmentRequest) socbot.ContainmentRequest {
	r.Kind = r.Kind.Inverse()
	return r
}

// Run executes the whole conformance suite.
func Run(t *testing.T, s Suite) {
	env := Start(t, &s)
	good := env.Connector(false, 5*time.Second)

	t.Run("lifecycle", func(t *testing.T) {
		env.T = t
		for _, c := range s.Cases {
			env.lifecycle(good, c)
		}
	})
	t.Run("batch", func(t *testing.T) {
		env.T = t
		if len(s.Cases) < 2 {
			t.Skip("one case only")
		}
		res, err := env.Apply(good, s.Cases...)
		env.Want(res, err, socbot.OutcomeApplied)
		for _, c := range s.Cases {
			if !env.Fake.Blocked(c.Kind, c.Value) {
				t.Fatalf("%s %s not in force after a batch", c.Kind, c.Value)
			}
		}
		var inv []socbot.ContainmentRequest
		for _, c := range s.Cases {
			inv = append(inv, Inverse(c))
		}
		res, err = env.Apply(good, inv...)
		env.Want(res, err, socbot.OutcomeRemoved)
	})
	t.Run("auth_failure_not_retried", func(t *testing.T) {
		env.T = t
		bad := env.Connector(true, 5*time.Second)
		before := env.Fake.AuthFailures()
		res, err := env.Apply(bad, s.Cases[0])
		ve := VendorError(res, err)
		if ve == nil {
			t.Fatalf("bad credentials: want a VendorError, got results %+v err %v", res, err)
		}
		if !ve.Auth || ve.Retryable {
			t.Fatalf("bad credentials: Auth=%v Retryable=%v, want Auth and not retryable (%v)", ve.Auth, ve.Retryable, ve)
		}
		if got := env.Fake.AuthFailures() - before; got != 1 {
			t.Fatalf("the fake refused %d calls, want exactly 1 (no retry on auth errors)", got)
		}
		if env.Fake.Blocked(s.Cases[0].Kind, s.Cases[0].Value) {
			t.Fatalf("bad credentials changed the vendor state")
		}
	})
	t.Run("throttled_429_carries_delay", func(t *testing.T) {
		env.T = t
		c := s.Cases[0]
		env.Fake.Faults().Queue(faults.TooMany, 1)
		res, err := env.Apply(good, c)
		ve := VendorError(res, err)
		if ve == nil || !ve.Retryable || ve.Auth {
			t.Fatalf("429: want a retryable VendorError, got %+v / %v", ve, err)
		}
		if ve.RetryAfter != s.RetryAfter {
			t.Fatalf("429: RetryAfter %v, want the vendor's %v", ve.RetryAfter, s.RetryAfter)
		}
		res, err = env.Apply(good, c) // the framework's retry
		if err != nil || res[0].Outcome == socbot.OutcomeFailed {
			t.Fatalf("retry after 429 failed: %v %+v", err, res)
		}
		res, err = env.Apply(good, Inverse(c))
		env.Want(res, err, socbot.OutcomeRemoved)
	})
	t.Run("server_error_retryable", func(t *testing.T) {
		env.T = t
		c := s.Cases[0]
		env.Fake.Faults().Queue(faults.Server, 1)
		res, err := env.Apply(good, c)
		ve := VendorError(res, err)
		if ve == nil || !ve.Retryable || ve.Auth {
			t.Fatalf("5xx: want a retryable VendorError, got %+v / %v", ve, err)
		}
		res, err = env.Apply(good, c)
		if err != nil || res[0].Outcome == socbot.OutcomeFailed {
			t.Fatalf("retry after 5xx failed: %v %+v", err, res)
		}
		res, err = env.Apply(good, Inverse(c))
		env.Want(res, err, socbot.OutcomeRemoved)
	})
	t.Run("hang_times_out_retryable", func(t *testing.T) {
		env.T = t
		c := s.Cases[0]
		quick := env.Connector(false, 200*time.Millisecond)
		env.Fake.Faults().Queue(faults.Hang, 1)
		res, err := env.Apply(quick, c)
		ve := VendorError(res, err)
		if ve == nil || !ve.Retryable {
			t.Fatalf("hang: want a retryable VendorError, got %+v / %v", ve, err)
		}
		res, err = env.Apply(quick, c)
		if err != nil || res[0].Outcome == socbot.OutcomeFailed {
			t.Fatalf("retry after hang failed: %v %+v", err, res)
		}
		res, err = env.Apply(quick, Inverse(c))
		env.Want(res, err, socbot.OutcomeRemoved)
	})
	t.Run("credentials_never_leak", func(t *testing.T) {
		env.T = t
		cfg := s.Config(env.Server.URL)
		bad := cfg
		s.Spoil(&bad)
		logs := env.Logs.String()
		if !strings.Contains(logs, "vendor call") {
			t.Fatalf("no vendor call was logged at debug level; the leak check would prove nothing")
		}
		for _, creds := range []map[string]string{cfg.Credentials, bad.Credentials} {
			for k, v := range creds {
				if len(v) < 4 {
					continue
				}
				if strings.Contains(logs, v) {
					t.Errorf("credential %q appears in the logs", k)
				}
				for _, txt := range env.texts {
					if strings.Contains(txt, v) {
						t.Errorf("credential %q appears in %q", k, txt)
					}
				}
			}
		}
	})
}

// Check reports a fatal error when want is false.
func (e *Env) check(want bool, format string, args ...any) {
	e.T.Helper()
	if !want {
		e.T.Fatalf(format, args...)
	}
}

func (e *Env) lifecycle(c socbot.Connector, req socbot.ContainmentRequest) {
	e.T.Helper()
	inv := Inverse(req)
	w := e.Fake.Writes()
	pl := e.Plan(c, req)
	e.check(len(pl) == 1 && !strings.HasPrefix(pl[0].Change, "no change") && pl[0].Change != "",
		"%s %s: plan before block = %+v, want one change", req.Kind, req.Value, pl)
	e.check(e.Fake.Writes() == w, "%s: Plan wrote to the vendor", req.Kind)

	res, err := e.Apply(c, req)
	e.Want(res, err, socbot.OutcomeApplied)
	e.check(e.Fake.Blocked(req.Kind, req.Value), "%s %s: not in force after Apply", req.Kind, req.Value)
	res, err = e.Apply(c, req)
	e.Want(res, err, socbot.OutcomeAlreadyPresent)
	e.check(e.Fake.Blocked(req.Kind, req.Value), "%s %s: lost after a repeated Apply", req.Kind, req.Value)

	pl = e.Plan(c, req)
	e.check(len(pl) == 1 && strings.HasPrefix(pl[0].Change, "no change"), "%s: plan after block = %+v, want no change", req.Kind, pl)
	pl = e.Plan(c, inv)
	e.check(len(pl) == 1 && !strings.HasPrefix(pl[0].Change, "no change"), "%s: plan of the undo = %+v, want a change", inv.Kind, pl)

	res, err = e.Apply(c, inv)
	e.Want(res, err, socbot.OutcomeRemoved)
	e.check(!e.Fake.Blocked(req.Kind, req.Value), "%s %s: still in force after %s", req.Kind, req.Value, inv.Kind)
	res, err = e.Apply(c, inv)
	e.Want(res, err, socbot.OutcomeAlreadyAbsent)
	pl = e.Plan(c, inv)
	e.check(len(pl) == 1 && strings.HasPrefix(pl[0].Change, "no change"), "%s: plan after undo = %+v, want no change", inv.Kind, pl)
}
