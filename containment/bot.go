package containment

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// Timeline records what happened to an incident (the lead's incident store implements it).
type Timeline interface {
	AddTimelineEntry(ctx context.Context, e socbot.TimelineEntry) error
}

// Notice is something people should hear about: an approval to give, an escalation, an outcome.
type Notice struct {
	TenantID   string `json:"tenant_id"`
	IncidentID int64  `json:"incident_id,omitempty"`
	ActionID   int64  `json:"action_id"`
	Event      string `json:"event"` // one of the Event* constants
	Subject    string `json:"subject"`
	Text       string `json:"text"`
	Escalation int    `json:"escalation,omitempty"` // 0 for the first round, then 1, 2, ...
}

// Containment notice events.
const (
	EventApprovalRequested = "containment.approval_requested"
	EventApprovalEscalated = "containment.approval_escalated"
	EventApplied           = "containment.applied"
	EventFailed            = "containment.failed"
	EventRemoved           = "containment.removed"
	EventDenied            = "containment.denied"
)

// Notifier delivers notices (the lead's notification outbox implements it).
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// IncidentPlaybooks runs the tenant's playbooks for an incident (playbook.Engine implements it).
type IncidentPlaybooks interface {
	OnIncident(ctx context.Context, inc socbot.Incident, alerts []socbot.Alert) error
}

// Config wires a Bot. Store and Resolver are required; the rest have defaults or may be nil.
type Config struct {
	Store     Store
	Resolver  Resolver
	Rails     *Rails    // default DefaultRails()
	Policies  *Policies // default NewPolicies(nil)
	Clock     socbot.Clock
	Log       *slog.Logger
	Timeline  Timeline
	Notifier  Notifier
	Playbooks IncidentPlaybooks
	Executor  ExecutorConfig
	TickEvery time.Duration // approval deadlines and expiry checks in Run (default 5s)
}

// Bot is the containment bot.
type Bot struct {
	store    Store
	res      Resolver
	rails    *Rails
	policies *Policies
	clock    socbot.Clock
	log      *slog.Logger
	timeline Timeline
	notifier Notifier
	books    IncidentPlaybooks
	exec     *Executor
	tick     time.Duration
}

// New builds the bot and its executor.
func New(cfg Config) *Bot {
	b := &Bot{store: cfg.Store, res: cfg.Resolver, rails: cfg.Rails, policies: cfg.Policies, clock: cfg.Clock,
		log: cfg.Log, timeline: cfg.Timeline, notifier: cfg.Notifier, books: cfg.Playbooks, tick: cfg.TickEvery}
	if b.rails == nil {
		b.rails = DefaultRails()
	}
	if b.policies == nil {
		b.policies = NewPolicies(nil)
	}
	if b.clock == nil {
		b.clock = socbot.SystemClock{}
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.tick <= 0 {
		b.tick = 5 * time.Second
	}
	ecfg := cfg.Executor
	user := ecfg.OnSettled
	ecfg.OnSettled = func(ctx context.Context, a Action) {
		b.settled(ctx, a)
		if user != nil {
			user(ctx, a)
		}
	}
	b.exec = NewExecutor(cfg.Store, cfg.Resolver, b.clock, b.log, ecfg)
	return b
}

// Executor returns the bot's executor.
func (b *Bot) Executor() *Executor { return b.exec }

// Store returns the bot's ledger.
func (b *Bot) Store() Store { return b.store }

// Resolver returns the bot's connector resolver.
func (b *Bot) Resolver() Resolver { return b.res }

// UsePlaybooks sets the playbook runner OnIncident hands incidents to.
func (b *Bot) UsePlaybooks(p IncidentPlaybooks) { b.books = p }

// Rails returns the bot's safety rails.
func (b *Bot) Rails() *Rails { return b.rails }

// Policies returns the bot's approval policies.
func (b *Bot) Policies() *Policies { return b.policies }

// Run runs the executor and the timers (approval escalation, expiry) until ctx ends.
func (b *Bot) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- b.exec.Run(ctx) }()
	t := time.NewTicker(b.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return ctx.Err()
		case <-t.C:
			if err := b.Tick(ctx); err != nil && ctx.Err() == nil {
				b.log.Error("containment tick failed", "err", err)
			}
		}
	}
}

// Request validates a request, runs the safety rails and the approval policy, and stores one action
// per connector (every tenant connector supporting the kind when ConnectorID is empty). A repeated
// request for a live action returns the existing action. Actions the rails refuse are stored as
// denied, with the refusal as Detail, and returned without an error.
func (b *Bot) Request(ctx context.Context, r Request) ([]Action, error) {
	return b.request(ctx, r, nil)
}

func (b *Bot) request(ctx context.Context, r Request, inc *socbot.Incident) ([]Action, error) {
	const op = "containment.Bot.Request"
	if r.TenantID == "" {
		return nil, socbot.FieldError(op, "tenant_id", "required")
	}
	if !r.Kind.Valid() {
		return nil, socbot.FieldError(op, "kind", "unknown action kind %q", r.Kind)
	}
	if r.RequestedBy == "" {
		return nil, socbot.FieldError(op, "requested_by", "required: who asks")
	}
	value := NormalizeValue(r.Kind, r.Value)
	ids := []string{r.ConnectorID}
	if r.ConnectorID == "" {
		var err error
		if ids, err = b.res.ConnectorIDs(ctx, r.TenantID, r.Kind); err != nil {
			return nil, socbot.E(op, err)
		}
		if len(ids) == 0 {
			return nil, socbot.E(op, socbot.KindNotFound, fmt.Sprintf("tenant %s has no connector that can %s", r.TenantID, r.Kind))
		}
	}
	now := b.clock.Now()
	var out []Action
	for _, id := range ids {
		a := Action{TenantID: r.TenantID, Kind: r.Kind, Value: value, ConnectorID: id, State: StateRequested,
			RequestedBy: r.RequestedBy, Reason: r.Reason, IncidentID: r.IncidentID, PlaybookStep: r.PlaybookStep,
			Confidence: r.Confidence, CrownJewel: r.CrownJewel, TTL: r.TTL, CreatedAt: now, UpdatedAt: now}
		if r.ConnectorID != "" {
			conn, err := b.res.Connector(ctx, r.TenantID, id)
			if err != nil {
				return out, socbot.E(op, err)
			}
			if !conn.Supports(r.Kind) {
				return out, socbot.E(op, socbot.KindUnsupported, fmt.Sprintf("connector %s (%s) cannot %s", id, conn.Type(), r.Kind))
			}
		}
		if err := b.rails.checkRequest(ctx, b.store, now, r.TenantID, r.Kind, value); err != nil {
			ref, ok := RefusalOf(err)
			if !ok {
				return out, socbot.E(op, err)
			}
			a.State = StateDenied
			a.Detail = "refused by safety rail " + ref.Rule + ": " + ref.Reason
		} else {
			b.decide(&a, r.MinApprovals, inc, now)
		}
		saved, created, err := b.store.CreateAction(ctx, a)
		if err != nil {
			return out, socbot.E(op, err)
		}
		out = append(out, saved)
		if !created {
			continue
		}
		b.created(ctx, saved)
	}
	return out, nil
}

// decide applies the tenant's approval policy: approved now, or awaiting approvals with a deadline.
// A policy that cannot be evaluated fails closed to two approvers.
func (b *Bot) decide(a *Action, minApprovals int, inc *socbot.Incident, now time.Time) {
	p := b.policies.For(a.TenantID)
	n, rule, err := p.Decide(PolicyInput{TenantID: a.TenantID, Action: *a, Incident: inc})
	if err != nil {
		n, rule = 2, "policy-error"
		a.Detail = "approval policy failed, two approvers needed: " + err.Error()
	}
	if minApprovals > n {
		n, rule = minApprovals, rule+"+playbook"
	}
	a.RequiredApprovals, a.PolicyRule = n, rule
	if n == 0 {
		a.State = StateApproved
		a.NextAttemptAt = now
		return
	}
	a.State = StateAwaitingApproval
	d := now.Add(p.Timeout)
	a.ApprovalDeadline = &d
}

func (b *Bot) created(ctx context.Context, a Action) {
	switch a.State {
	case StateApproved:
		b.note(ctx, a, "containment_requested", fmt.Sprintf("%s %s on %s requested by %s (automatic: %s)", a.Kind, a.Value, a.ConnectorID, a.RequestedBy, a.PolicyRule))
		b.exec.Wake()
	case StateAwaitingApproval:
		b.note(ctx, a, "containment_requested", fmt.Sprintf("%s %s on %s requested by %s: waiting for %d approver(s) (%s)", a.Kind, a.Value, a.ConnectorID, a.RequestedBy, a.RequiredApprovals, a.PolicyRule))
		b.notify(ctx, a, EventApprovalRequested, 0, fmt.Sprintf("Approval needed: %s %s", a.Kind, a.Value),
			fmt.Sprintf("%s asks to %s %s on connector %s: %s. %d distinct approver(s) needed before %s.", a.RequestedBy, a.Kind, a.Value, a.ConnectorID, a.Reason, a.RequiredApprovals, a.ApprovalDeadline.Format(time.RFC3339)))
	case StateDenied:
		b.note(ctx, a, "containment_refused", fmt.Sprintf("%s %s on %s not done: %s", a.Kind, a.Value, a.ConnectorID, a.Detail))
	}
}

// settled is called by the executor when an action reached applied, removed or failed.
func (b *Bot) settled(ctx context.Context, a Action) {
	switch a.State {
	case StateApplied, StateExpiring:
		b.note(ctx, a, "containment_applied", fmt.Sprintf("%s %s applied on %s", a.Kind, a.Value, a.ConnectorID))
		b.notify(ctx, a, EventApplied, 0, fmt.Sprintf("Contained: %s %s", a.Kind, a.Value), fmt.Sprintf("%s %s applied on connector %s.", a.Kind, a.Value, a.ConnectorID))
	case StateRemoved:
		b.note(ctx, a, "containment_removed", fmt.Sprintf("%s %s removed from %s: %s", a.Kind, a.Value, a.ConnectorID, a.Detail))
	case StateFailed:
		b.note(ctx, a, "containment_failed", fmt.Sprintf("%s %s on %s failed: %s", a.Kind, a.Value, a.ConnectorID, a.Detail))
		b.notify(ctx, a, EventFailed, 0, fmt.Sprintf("Containment failed: %s %s", a.Kind, a.Value), a.Detail)
	}
}

func (b *Bot) note(ctx context.Context, a Action, kind, text string) {
	if b.timeline == nil || a.IncidentID == 0 {
		return
	}
	data, _ := json.Marshal(map[string]any{"action_id": a.ID, "kind": a.Kind, "value": a.Value, "connector": a.ConnectorID, "state": a.State, "playbook_step": a.PlaybookStep})
	err := b.timeline.AddTimelineEntry(ctx, socbot.TimelineEntry{TenantID: a.TenantID, IncidentID: a.IncidentID, At: b.clock.Now(),
		Actor: "bot:containment", Kind: kind, Text: text, Data: data})
	if err != nil {
		b.log.Warn("containment timeline entry failed", "action", a.ID, "err", err)
	}
}

func (b *Bot) notify(ctx context.Context, a Action, event string, level int, subject, text string) {
	if b.notifier == nil {
		return
	}
	if err := b.notifier.Notify(ctx, Notice{TenantID: a.TenantID, IncidentID: a.IncidentID, ActionID: a.ID, Event: event,
		Subject: subject, Text: text, Escalation: level}); err != nil {
		b.log.Warn("containment notice failed", "action", a.ID, "event", event, "err", err)
	}
}

// Plan is a dry run: the rails' verdict and exactly what each connector would change. Nothing is
// stored and no vendor is changed.
func (b *Bot) Plan(ctx context.Context, r Request) ([]socbot.PlannedChange, error) {
	const op = "containment.Bot.Plan"
	if !r.Kind.Valid() {
		return nil, socbot.FieldError(op, "kind", "unknown action kind %q", r.Kind)
	}
	value := NormalizeValue(r.Kind, r.Value)
	if err := b.rails.checkRequest(ctx, b.store, b.clock.Now(), r.TenantID, r.Kind, value); err != nil {
		return nil, err
	}
	ids := []string{r.ConnectorID}
	if r.ConnectorID == "" {
		var err error
		if ids, err = b.res.ConnectorIDs(ctx, r.TenantID, r.Kind); err != nil {
			return nil, socbot.E(op, err)
		}
	}
	var out []socbot.PlannedChange
	for _, id := range ids {
		conn, err := b.res.Connector(ctx, r.TenantID, id)
		if err != nil {
			return out, socbot.E(op, err)
		}
		ch, err := conn.Plan(ctx, []socbot.ContainmentRequest{{Kind: r.Kind, Value: value, TTL: r.TTL, Reference: "soc:" + r.TenantID}})
		if err != nil {
			return out, socbot.E(op, "connector "+id, err)
		}
		for i := range ch {
			if ch[i].Connector == "" {
				ch[i].Connector = id
			}
		}
		out = append(out, ch...)
	}
	return out, nil
}

// Pending lists the actions waiting for approval in a tenant (every tenant for MSSP-wide principals
// when tenantID is empty).
func (b *Bot) Pending(ctx context.Context, p socbot.Principal, tenantID string) ([]Action, error) {
	const op = "containment.Bot.Pending"
	f := ActionFilter{TenantID: tenantID, States: []State{StateAwaitingApproval}}
	if tenantID == "" {
		if !p.MSSPWide() {
			f.TenantID = p.TenantID
		} else {
			f.AllTenants = true
		}
	} else if !p.CanAccessTenant(tenantID) {
		return nil, socbot.E(op, socbot.KindNotFound, "tenant not found")
	}
	if f.TenantID == "" && !f.AllTenants {
		return nil, socbot.FieldError(op, "tenant_id", "required")
	}
	return b.store.ListActions(ctx, f)
}

// Actions lists a tenant's actions (for the API and CLI).
func (b *Bot) Actions(ctx context.Context, p socbot.Principal, f ActionFilter) ([]Action, error) {
	if f.AllTenants && !p.MSSPWide() || !f.AllTenants && !p.CanAccessTenant(f.TenantID) {
		return nil, socbot.E("containment.Bot.Actions", socbot.KindNotFound, "tenant not found")
	}
	return b.store.ListActions(ctx, f)
}

func canDecide(p socbot.Principal) bool {
	return p.Role == socbot.RoleAdmin || p.Role == socbot.RoleAnalyst
}

// update reads an action, lets fn change it, and writes it, retrying when another writer got there
// first. fn returns an error to refuse the change.
func (b *Bot) update(ctx context.Context, tenantID string, id int64, fn func(a *Action, now time.Time) error) (Action, error) {
	for try := 0; ; try++ {
		a, err := b.store.GetAction(ctx, tenantID, id)
		if err != nil {
			return Action{}, err
		}
		now := b.clock.Now()
		if err := fn(&a, now); err != nil {
			return a, err
		}
		saved, err := b.store.UpdateActions(ctx, []Action{a})
		if err == nil {
			return saved[0], nil
		}
		if !socbot.IsKind(err, socbot.KindConflict) || try >= 5 {
			return Action{}, err
		}
	}
}

// Approve records p's approval. Approvers must be distinct people with the analyst or admin role who
// can see the tenant, and not the requester; once enough have approved the action is applied.
func (b *Bot) Approve(ctx context.Context, p socbot.Principal, tenantID string, id int64, comment string) (Action, error) {
	const op = "containment.Bot.Approve"
	if !p.CanAccessTenant(tenantID) {
		return Action{}, socbot.E(op, socbot.KindNotFound, "action not found")
	}
	if !canDecide(p) {
		return Action{}, socbot.E(op, socbot.KindForbidden, "role "+string(p.Role)+" cannot approve containment")
	}
	ctx = WithAudit(ctx, p, comment)
	a, err := b.update(ctx, tenantID, id, func(a *Action, now time.Time) error {
		if a.State != StateAwaitingApproval {
			return socbot.E(op, socbot.KindConflict, "action "+itoa(a.ID)+" is "+string(a.State)+", not awaiting approval")
		}
		if p.Name == a.RequestedBy {
			return socbot.E(op, socbot.KindForbidden, "the requester cannot approve their own request")
		}
		for _, who := range a.Approvers() {
			if who == p.Name {
				return socbot.E(op, socbot.KindConflict, p.Name+" already approved action "+itoa(a.ID)+"; another person must approve")
			}
		}
		a.Approvals = append(a.Approvals, Approval{By: p.Name, At: now, Approved: true, Comment: comment})
		a.UpdatedAt = now
		if len(a.Approvers()) >= a.RequiredApprovals {
			a.State = StateApproved
			a.NextAttemptAt = now
			a.ApprovalDeadline = nil
		}
		return nil
	})
	if err != nil {
		return a, err
	}
	if a.State == StateApproved {
		b.note(ctx, a, "containment_approved", fmt.Sprintf("%s %s on %s approved by %s", a.Kind, a.Value, a.ConnectorID, strings.Join(a.Approvers(), ", ")))
		b.exec.Wake()
	} else {
		b.note(ctx, a, "containment_approval", fmt.Sprintf("%s approved %s %s (%d of %d)", p.Name, a.Kind, a.Value, len(a.Approvers()), a.RequiredApprovals))
	}
	return a, nil
}

// Deny refuses an action waiting for approval.
func (b *Bot) Deny(ctx context.Context, p socbot.Principal, tenantID string, id int64, comment string) (Action, error) {
	const op = "containment.Bot.Deny"
	if !p.CanAccessTenant(tenantID) {
		return Action{}, socbot.E(op, socbot.KindNotFound, "action not found")
	}
	if !canDecide(p) {
		return Action{}, socbot.E(op, socbot.KindForbidden, "role "+string(p.Role)+" cannot deny containment")
	}
	ctx = WithAudit(ctx, p, comment)
	a, err := b.update(ctx, tenantID, id, func(a *Action, now time.Time) error {
		if a.State != StateAwaitingApproval && a.State != StateRequested {
			return socbot.E(op, socbot.KindConflict, "action "+itoa(a.ID)+" is "+string(a.State)+", not awaiting approval")
		}
		a.Approvals = append(a.Approvals, Approval{By: p.Name, At: now, Approved: false, Comment: comment})
		a.State = StateDenied
		a.Detail = "denied by " + p.Name
		if comment != "" {
			a.Detail += ": " + comment
		}
		a.UpdatedAt = now
		return nil
	})
	if err == nil {
		b.note(ctx, a, "containment_denied", fmt.Sprintf("%s %s on %s %s", a.Kind, a.Value, a.ConnectorID, a.Detail))
		b.notify(ctx, a, EventDenied, 0, fmt.Sprintf("Denied: %s %s", a.Kind, a.Value), a.Detail)
	}
	return a, err
}

// Remove undoes an applied action now (an analyst's unblock).
func (b *Bot) Remove(ctx context.Context, p socbot.Principal, tenantID string, id int64, reason string) (Action, error) {
	const op = "containment.Bot.Remove"
	if !p.CanAccessTenant(tenantID) {
		return Action{}, socbot.E(op, socbot.KindNotFound, "action not found")
	}
	if !canDecide(p) {
		return Action{}, socbot.E(op, socbot.KindForbidden, "role "+string(p.Role)+" cannot remove containment")
	}
	ctx = WithAudit(ctx, p, reason)
	a, err := b.update(ctx, tenantID, id, func(a *Action, now time.Time) error {
		switch a.State {
		case StateApplied:
			a.State = StateExpiring
			a.NextAttemptAt = now
		case StateApplying:
			a.Rollback = true
		default:
			return socbot.E(op, socbot.KindConflict, "action "+itoa(a.ID)+" is "+string(a.State)+", not applied")
		}
		a.Detail = "removal asked by " + p.Name + ": " + reason
		a.UpdatedAt = now
		return nil
	})
	if err == nil {
		b.exec.Wake()
	}
	return a, err
}

// OnIncident is the bot's entry for incident events: a false positive rolls back what was done for
// the incident; an open incident goes to the playbooks.
func (b *Bot) OnIncident(ctx context.Context, inc socbot.Incident, alerts []socbot.Alert) error {
	if inc.Status == socbot.StatusFalsePositive {
		_, err := b.Rollback(ctx, inc.TenantID, inc.ID, "incident closed as false positive")
		return err
	}
	if socbot.Closed(inc.Status) || b.books == nil {
		return nil
	}
	return b.books.OnIncident(ctx, inc, alerts)
}

// RequestForIncident is Request with the incident at hand, so that the approval policy sees it.
func (b *Bot) RequestForIncident(ctx context.Context, r Request, inc socbot.Incident) ([]Action, error) {
	r.IncidentID = inc.ID
	if r.Confidence == 0 {
		r.Confidence = inc.Confidence
	}
	return b.request(ctx, r, &inc)
}

// Rollback undoes every reversible action taken for an incident: pending ones are denied, applied
// ones are removed, in-flight ones are removed as soon as they land. It returns how many it touched.
func (b *Bot) Rollback(ctx context.Context, tenantID string, incidentID int64, reason string) (int, error) {
	if _, ok := AuditFrom(ctx); !ok {
		ctx = WithAudit(ctx, socbot.Bot("containment"), reason)
	}
	as, err := b.store.ListActions(ctx, ActionFilter{TenantID: tenantID, IncidentID: incidentID,
		States: []State{StateRequested, StateAwaitingApproval, StateApproved, StateApplying, StateApplied}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range as {
		if a.Kind.Inverse() == "" || !a.Kind.IsForward() {
			continue
		}
		_, err := b.update(ctx, tenantID, a.ID, func(a *Action, now time.Time) error {
			switch a.State {
			case StateRequested, StateAwaitingApproval, StateApproved:
				if a.State == StateApproved && a.LeaseOwner != "" {
					a.Rollback = true
					break
				}
				a.State = StateDenied
				a.Detail = "cancelled: " + reason
			case StateApplying:
				a.Rollback = true
				a.Detail = "rollback: " + reason
			case StateApplied:
				a.State = StateExpiring
				a.NextAttemptAt = now
				a.Detail = "rollback: " + reason
			default:
				return errSkip
			}
			a.UpdatedAt = now
			return nil
		})
		if err == errSkip {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		b.exec.Wake()
	}
	return n, nil
}

var errSkip = socbot.E("containment", socbot.KindConflict, "skip")

// Tick runs the timers: approval rounds that passed their deadline are escalated (and denied after
// the policy's last escalation), and applied actions past their expiry are removed.
func (b *Bot) Tick(ctx context.Context) error {
	now := b.clock.Now()
	late, err := b.store.ListActions(ctx, ActionFilter{AllTenants: true, States: []State{StateAwaitingApproval}, DeadlineBefore: now})
	if err != nil {
		return err
	}
	for _, a := range late {
		p := b.policies.For(a.TenantID)
		saved, err := b.update(ctx, a.TenantID, a.ID, func(a *Action, now time.Time) error {
			if a.State != StateAwaitingApproval || a.ApprovalDeadline == nil || a.ApprovalDeadline.After(now) {
				return errSkip
			}
			if a.Escalations < p.MaxEscalations {
				a.Escalations++
				d := now.Add(p.Timeout)
				a.ApprovalDeadline = &d
			} else {
				a.State = StateDenied
				a.Detail = fmt.Sprintf("approval timed out after %d escalation(s)", a.Escalations)
			}
			a.UpdatedAt = now
			return nil
		})
		if err == errSkip {
			continue
		}
		if err != nil {
			return err
		}
		if saved.State == StateDenied {
			b.note(ctx, saved, "containment_denied", fmt.Sprintf("%s %s on %s: %s", saved.Kind, saved.Value, saved.ConnectorID, saved.Detail))
			b.notify(ctx, saved, EventDenied, saved.Escalations, fmt.Sprintf("Approval timed out: %s %s", saved.Kind, saved.Value), saved.Detail)
		} else {
			b.notify(ctx, saved, EventApprovalEscalated, saved.Escalations, fmt.Sprintf("ESCALATED (%d): approval needed for %s %s", saved.Escalations, saved.Kind, saved.Value),
				fmt.Sprintf("Nobody decided on %s %s on %s in time; %d of %d approvals so far. New deadline %s.", saved.Kind, saved.Value, saved.ConnectorID, len(saved.Approvers()), saved.RequiredApprovals, saved.ApprovalDeadline.Format(time.RFC3339)))
		}
	}
	expired, err := b.store.ListActions(ctx, ActionFilter{AllTenants: true, States: []State{StateApplied}, ExpiresBefore: now.Add(time.Nanosecond)})
	if err != nil {
		return err
	}
	woke := false
	for _, a := range expired {
		saved, err := b.update(ctx, a.TenantID, a.ID, func(a *Action, now time.Time) error {
			if a.State != StateApplied || a.ExpiresAt == nil || a.ExpiresAt.After(now) {
				return errSkip
			}
			if a.NativeExpiry {
				a.State = StateRemoved
				a.RemovedAt = &now
				a.Detail = "expired at the vendor (native TTL)"
			} else {
				a.State = StateExpiring
				a.NextAttemptAt = now
				a.Detail = "expired"
			}
			a.UpdatedAt = now
			return nil
		})
		if err == errSkip {
			continue
		}
		if err != nil {
			return err
		}
		if saved.State == StateRemoved {
			b.note(ctx, saved, "containment_removed", fmt.Sprintf("%s %s on %s %s", saved.Kind, saved.Value, saved.ConnectorID, saved.Detail))
		}
		woke = true
	}
	if woke {
		b.exec.Wake()
	}
	return nil
}
