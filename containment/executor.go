package containment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

// ExecutorConfig tunes the executor. Zero values take the defaults shown.
type ExecutorConfig struct {
	Owner            string        // lease owner name; default a new id per executor
	Lease            time.Duration // how long a claim is held before another executor may take over (2m)
	BatchSize        int           // requests per connector call, one commit step each (100)
	ClaimLimit       int           // actions claimed per round (2000)
	MaxAttempts      int           // vendor attempts per direction before giving up (8)
	BaseBackoff      time.Duration // first retry delay (500ms); doubles per attempt, with jitter
	MaxBackoff       time.Duration // cap of the retry delay (60s)
	CallTimeout      time.Duration // one connector call, when the connector config has none (30s)
	BreakerThreshold int           // consecutive failed batches that open a connector's breaker (5)
	BreakerCooldown  time.Duration // how long an open breaker stays open (30s)
	Poll             time.Duration // idle wait of Run between rounds (1s); Wake cuts it short
	Seed             int64         // jitter seed (0: time-based)
	// OnSettled, if set, is called after an action's write when it reached applied, removed or
	// failed (the bot writes timeline entries and notifications from it; benchmarks take times).
	OnSettled func(ctx context.Context, a Action)
}

func (c *ExecutorConfig) defaults() {
	if c.Owner == "" {
		c.Owner = "executor-" + socbot.NewID()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defi := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Lease, 2*time.Minute)
	defi(&c.BatchSize, 100)
	defi(&c.ClaimLimit, 2000)
	defi(&c.MaxAttempts, 8)
	def(&c.BaseBackoff, 500*time.Millisecond)
	def(&c.MaxBackoff, 60*time.Second)
	def(&c.CallTimeout, 30*time.Second)
	defi(&c.BreakerThreshold, 5)
	def(&c.BreakerCooldown, 30*time.Second)
	def(&c.Poll, time.Second)
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano()
	}
}

// Executor applies approved actions and removes expiring ones, in batches per connector instance.
// Its state (what is due, what is in flight) lives in the Store; a new Executor over the same Store
// resumes a crashed one's work once its leases lapse, reading back in-doubt actions where the
// connector can (socbot.ConnectorChecker) and otherwise resending them, which the connectors'
// idempotent add ("already present" is success) makes safe.
type Executor struct {
	store Store
	res   Resolver
	clock socbot.Clock
	log   *slog.Logger
	cfg   ExecutorConfig

	mu        sync.Mutex
	rng       *rand.Rand
	breakers  map[string]*breaker
	notBefore map[string]time.Time // vendor throttling per connector
	wake      chan struct{}
}

type breaker struct {
	fails     int
	openUntil time.Time
}

// NewExecutor returns an executor over store.
func NewExecutor(store Store, res Resolver, clock socbot.Clock, log *slog.Logger, cfg ExecutorConfig) *Executor {
	cfg.defaults()
	if clock == nil {
		clock = socbot.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Executor{store: store, res: res, clock: clock, log: log, cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)),
		breakers: map[string]*breaker{}, notBefore: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// Owner is the executor's lease owner name.
func (e *Executor) Owner() string { return e.cfg.Owner }

// Wake makes a running Run start a round now (new work was approved).
func (e *Executor) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends: a round, then a wait of Poll (or until Wake) when there was nothing to do.
func (e *Executor) Run(ctx context.Context) error {
	for {
		n, err := e.RunOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			e.log.Error("containment executor round failed", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(e.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-e.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// RunOnce claims the work due now and carries it out, connectors in parallel, and returns how many
// actions it handled. A store error aborts the round; the leases it holds then lapse and the work
// is resumed later.
func (e *Executor) RunOnce(ctx context.Context) (int, error) {
	now := e.clock.Now()
	claimed, err := e.store.Claim(ctx, e.cfg.Owner, now, e.cfg.Lease, e.cfg.ClaimLimit)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	groups := map[string][]Action{}
	var order []string
	for _, a := range claimed {
		k := a.TenantID + "|" + a.ConnectorID
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], a)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(order))
	for i, k := range order {
		wg.Add(1)
		go func(i int, k string) {
			defer wg.Done()
			errs[i] = e.runConnector(ctx, k, groups[k])
		}(i, k)
	}
	wg.Wait()
	return len(claimed), errors.Join(errs...)
}

// blockedUntil returns when the connector may be called again (zero: now).
func (e *Executor) blockedUntil(key string, now time.Time) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	var until time.Time
	if b := e.breakers[key]; b != nil && now.Before(b.openUntil) {
		until = b.openUntil
	}
	if nb := e.notBefore[key]; now.Before(nb) && nb.After(until) {
		until = nb
	}
	return until
}

// BreakerOpen reports whether a connector's circuit breaker is open now.
func (e *Executor) BreakerOpen(tenantID, connectorID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.breakers[tenantID+"|"+connectorID]
	return b != nil && e.clock.Now().Before(b.openUntil)
}

func (e *Executor) record(key string, ok bool, retryAfter time.Duration, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.breakers[key]
	if b == nil {
		b = &breaker{}
		e.breakers[key] = b
	}
	if ok {
		b.fails = 0
	} else {
		b.fails++
		if b.fails >= e.cfg.BreakerThreshold {
			b.openUntil = now.Add(e.cfg.BreakerCooldown)
			b.fails = e.cfg.BreakerThreshold - 1 // half-open after the cooldown: one more failure reopens
			e.log.Warn("containment connector breaker open", "connector", key, "until", b.openUntil)
		}
	}
	if retryAfter > 0 {
		if nb := now.Add(retryAfter); nb.After(e.notBefore[key]) {
			e.notBefore[key] = nb
		}
	}
}

func (e *Executor) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Duration(e.rng.Int63n(int64(d)))
}

// delay is the wait before attempt n+1: the vendor's delay when it gave one (plus a little jitter so
// that many actions do not return at once), otherwise exponential backoff with equal jitter.
func (e *Executor) delay(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter + e.jitter(e.cfg.BaseBackoff/2)
	}
	d := e.cfg.BaseBackoff
	for i := 1; i < n && d < e.cfg.MaxBackoff; i++ {
		d *= 2
	}
	if d > e.cfg.MaxBackoff {
		d = e.cfg.MaxBackoff
	}
	return d/2 + e.jitter(d/2)
}

func (e *Executor) runConnector(ctx context.Context, key string, actions []Action) error {
	tenantID, connID, _ := cut(key)
	conn, err := e.res.Connector(ctx, tenantID, connID)
	if err != nil {
		msg := "connector " + connID + ": " + err.Error()
		return e.commit(ctx, actions, func(a *Action, now time.Time) {
			e.finishFailed(a, now, msg)
		})
	}
	timeout := e.cfg.CallTimeout
	if t, ok := conn.(interface{ CallTimeout() time.Duration }); ok && t.CallTimeout() > 0 {
		timeout = t.CallTimeout()
	}
	for start := 0; start < len(actions); start += e.cfg.BatchSize {
		end := min(start+e.cfg.BatchSize, len(actions))
		batch := actions[start:end]
		if until := e.blockedUntil(key, e.clock.Now()); !until.IsZero() {
			if err := e.release(ctx, actions[start:], until); err != nil {
				return err
			}
			return nil
		}
		if err := e.runBatch(ctx, key, conn, timeout, batch); err != nil {
			return err
		}
	}
	return nil
}

// release hands claimed actions back, due again at until (breaker open or vendor throttling).
func (e *Executor) release(ctx context.Context, actions []Action, until time.Time) error {
	return e.commit(ctx, actions, func(a *Action, now time.Time) {
		if a.State == StateApplying {
			a.State = StateApproved
		}
		a.NextAttemptAt = until.Add(e.jitter(e.cfg.BaseBackoff / 4))
		a.LeaseOwner, a.LeaseUntil = "", time.Time{}
		a.UpdatedAt = now
	})
}

func request(a Action) socbot.ContainmentRequest {
	k := a.Kind
	if a.State == StateExpiring {
		k = a.Kind.Inverse()
	}
	ref := "soc:" + a.TenantID
	if a.IncidentID != 0 {
		ref += "-" + itoa(a.IncidentID)
	}
	return socbot.ContainmentRequest{Kind: k, Value: a.Value, TTL: a.TTL, Reference: ref,
		IdempotencyKey: a.Key().String() + "#" + itoa(a.ID)}
}

func (e *Executor) runBatch(ctx context.Context, key string, conn socbot.Connector, timeout time.Duration, batch []Action) error {
	muts := map[int64]func(*Action, time.Time){}
	send := batch

	// Read back the in-doubt actions first where the connector can.
	checker, canCheck := conn.(socbot.ConnectorChecker)
	if canCheck {
		var doubt []Action
		send = nil
		for _, a := range batch {
			if a.InDoubt {
				doubt = append(doubt, a)
			} else {
				send = append(send, a)
			}
		}
		if len(doubt) > 0 {
			reqs := make([]socbot.ContainmentRequest, len(doubt))
			for i, a := range doubt {
				reqs[i] = request(a)
				reqs[i].Kind = a.Kind // the forward effect is what is checked
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			t0 := time.Now()
			present, err := checker.Check(cctx, reqs)
			cancel()
			took := time.Since(t0)
			if err == nil && len(present) != len(doubt) {
				err = fmt.Errorf("connector answered %d checks for %d requests", len(present), len(doubt))
			}
			for i, a := range doubt {
				switch {
				case err != nil:
					muts[a.ID] = e.retryMut("check", err, took, canCheck)
				case a.State == StateApplying && present[i]:
					muts[a.ID] = e.successMut("check", socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent,
						Detail: "found in effect after an interrupted attempt"}, took)
				case a.State == StateExpiring && !present[i]:
					muts[a.ID] = e.successMut("check", socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent,
						Detail: "found removed after an interrupted attempt"}, took)
				case a.attemptsOf("apply")+a.attemptsOf("remove")+a.attemptsOf("check") >= e.cfg.MaxAttempts:
					muts[a.ID] = e.finalMut("check", fmt.Errorf("gave up after %d attempts (read back: not done)", len(a.Attempts)+1), took)
				default:
					send = append(send, a)
				}
			}
		}
	}

	anyOK, anyFail := false, false
	var retryAfter time.Duration
	if len(send) > 0 {
		reqs := make([]socbot.ContainmentRequest, len(send))
		for i, a := range send {
			reqs[i] = request(a)
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		t0 := time.Now()
		results, berr := conn.Apply(cctx, reqs)
		cancel()
		took := time.Since(t0)
		if berr == nil && len(results) != len(reqs) {
			berr = fmt.Errorf("connector answered %d results for %d requests", len(results), len(reqs))
		}
		for i, a := range send {
			op := "apply"
			if a.State == StateExpiring {
				op = "remove"
			}
			res := socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: berr}
			if berr == nil {
				res = results[i]
				if res.Outcome == socbot.OutcomeFailed && res.Err == nil {
					res.Err = errors.New("connector reported failure: " + res.Detail)
				}
			}
			if res.Outcome != socbot.OutcomeFailed {
				anyOK = true
				muts[a.ID] = e.successMut(op, res, took)
				continue
			}
			final, ra := classify(res.Err)
			if !final {
				anyFail = true
				retryAfter = max(retryAfter, ra)
			}
			if final {
				muts[a.ID] = e.finalMut(op, res.Err, took)
			} else {
				muts[a.ID] = e.retryMut(op, res.Err, took, canCheck)
			}
		}
	}
	now := e.clock.Now()
	if anyOK || anyFail {
		e.record(key, anyOK, retryAfter, now)
	}
	return e.commit(ctx, batch, func(a *Action, now time.Time) {
		if m := muts[a.ID]; m != nil {
			m(a, now)
		}
	})
}

// classify says whether an error is final (no retry) and the vendor's requested delay.
func classify(err error) (final bool, retryAfter time.Duration) {
	var ve *socbot.VendorError
	if errors.As(err, &ve) {
		if ve.Auth || !ve.Retryable {
			return true, 0
		}
		return false, ve.RetryAfter
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false, 0
	}
	switch socbot.ErrorKind(err) {
	case socbot.KindInvalid, socbot.KindUnsupported, socbot.KindForbidden, socbot.KindUnauthenticated, socbot.KindNotFound:
		return true, 0
	}
	return false, 0
}

func attempt(a *Action, op string, now time.Time, took time.Duration, res socbot.ContainmentResult) {
	at := Attempt{N: len(a.Attempts) + 1, Op: op, At: now, Took: took, Outcome: res.Outcome}
	if res.Err != nil {
		at.Error = res.Err.Error()
		var ve *socbot.VendorError
		if errors.As(res.Err, &ve) {
			at.Status, at.Code, at.Retryable, at.RetryAfter = ve.Status, ve.Code, ve.Retryable, ve.RetryAfter
		} else {
			at.Retryable = true
		}
	}
	a.Attempts = append(a.Attempts, at)
}

func (a *Action) attemptsOf(op string) int {
	n := 0
	for _, at := range a.Attempts {
		if at.Op == op {
			n++
		}
	}
	return n
}

func (e *Executor) successMut(op string, res socbot.ContainmentResult, took time.Duration) func(*Action, time.Time) {
	return func(a *Action, now time.Time) {
		attempt(a, op, now, took, res)
		a.LeaseOwner, a.LeaseUntil, a.InDoubt = "", time.Time{}, false
		a.UpdatedAt = now
		if a.State == StateExpiring {
			a.State = StateRemoved
			a.RemovedAt = &now
			if a.Detail == "" {
				a.Detail = "removed (" + string(res.Outcome) + ")"
			}
			return
		}
		a.State = StateApplied
		a.AppliedAt = &now
		if res.VendorRef != "" {
			a.VendorRef = res.VendorRef
		}
		a.ExpiresAt, a.NativeExpiry = nil, false
		if res.ExpiresAt != nil {
			t := *res.ExpiresAt
			a.ExpiresAt, a.NativeExpiry = &t, true
		} else if a.TTL > 0 {
			t := now.Add(a.TTL)
			a.ExpiresAt = &t
		}
		if a.Rollback { // rolled back while in flight: undo now
			a.State = StateExpiring
			a.NextAttemptAt = now
		}
	}
}

// retryMut schedules another attempt, or gives up after MaxAttempts. An action whose outcome is in
// doubt on a connector that can read back gets up to MaxAttempts more rounds, so that the read-back
// settles it instead of a guess.
func (e *Executor) retryMut(op string, err error, took time.Duration, canCheck bool) func(*Action, time.Time) {
	return func(a *Action, now time.Time) {
		attempt(a, op, now, took, socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: err})
		a.LeaseOwner, a.LeaseUntil = "", time.Time{}
		a.UpdatedAt = now
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			a.InDoubt = true // the vendor may have acted before the call was cut off
		}
		_, ra := classify(err)
		n := a.attemptsOf(op) + a.attemptsOf("check")
		limit := e.cfg.MaxAttempts
		if a.InDoubt && canCheck {
			limit *= 2
		}
		if n >= limit {
			why := fmt.Sprintf("gave up after %d attempts: %v", n, err)
			switch {
			case a.InDoubt:
				why += " (outcome unknown: the vendor may have acted before the last call was cut off)"
			case mayHaveActed(a):
				// A 5xx or a lost answer after a call that changed something (a Graph user disabled
				// before revoking its sessions failed, say): part of it may be in effect.
				why += " (outcome unknown: an attempt failed after reaching the vendor, part of it may be in effect; check before asking again)"
			}
			e.finishFailed(a, now, why)
			return
		}
		if a.State == StateApplying {
			a.State = StateApproved
		}
		a.NextAttemptAt = now.Add(e.delay(a.attemptsOf(op)+a.attemptsOf("check"), ra))
	}
}

// mayHaveActed reports whether a failed attempt of the action may have left a change at the vendor:
// anything but a throttling answer (429) or a lock the vendor reported before acting (409).
func mayHaveActed(a *Action) bool {
	for _, at := range a.Attempts {
		if at.Outcome == socbot.OutcomeFailed && at.Status != 429 && at.Status != 409 {
			return true
		}
	}
	return false
}

func (e *Executor) finalMut(op string, err error, took time.Duration) func(*Action, time.Time) {
	return func(a *Action, now time.Time) {
		attempt(a, op, now, took, socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: err})
		e.finishFailed(a, now, err.Error())
	}
}

func (e *Executor) finishFailed(a *Action, now time.Time, why string) {
	if a.State == StateExpiring {
		why = "removal failed: " + why
	}
	a.State = StateFailed
	a.Detail = why
	a.LeaseOwner, a.LeaseUntil = "", time.Time{}
	a.UpdatedAt = now
}

// commit writes the mutated actions in one store write. If another writer changed some of them
// meanwhile (a rollback or denial), it re-reads them and applies the same change to the fresh copy,
// skipping any whose lease another executor has taken over.
func (e *Executor) commit(ctx context.Context, actions []Action, mut func(*Action, time.Time)) error {
	now := e.clock.Now()
	upd := make([]Action, 0, len(actions))
	for _, a := range actions {
		a = cloneAction(a)
		mut(&a, now)
		upd = append(upd, a)
	}
	for try := 0; ; try++ {
		saved, err := e.store.UpdateActions(ctx, upd)
		if err == nil {
			if e.cfg.OnSettled != nil {
				for _, a := range saved {
					if a.State == StateApplied || a.State == StateRemoved || a.State == StateFailed || (a.State == StateExpiring && a.Rollback && a.AppliedAt != nil && a.AppliedAt.Equal(now)) {
						e.cfg.OnSettled(ctx, a)
					}
				}
			}
			return nil
		}
		if !socbot.IsKind(err, socbot.KindConflict) || try >= 5 {
			return err
		}
		fresh := upd[:0:0]
		for _, a := range actions {
			f, gerr := e.store.GetAction(ctx, a.TenantID, a.ID)
			if gerr != nil {
				return gerr
			}
			if f.LeaseOwner != e.cfg.Owner {
				continue
			}
			mut(&f, now)
			fresh = append(fresh, f)
		}
		upd = fresh
		if len(upd) == 0 {
			return nil
		}
	}
}
