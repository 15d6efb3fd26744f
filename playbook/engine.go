package playbook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
)

// Containment is what the engine asks of the containment bot (containment.Bot implements it).
type Containment interface {
	RequestForIncident(ctx context.Context, r containment.Request, inc socbot.Incident) ([]containment.Action, error)
	Plan(ctx context.Context, r containment.Request) ([]socbot.PlannedChange, error)
}

// Enricher looks observables up again (the lead's enrichment pipeline implements it).
type Enricher interface {
	EnrichObservables(ctx context.Context, tenantID string, obs []socbot.Observable) ([]socbot.Enrichment, error)
}

// Notifier sends a playbook's message to one of the tenant's channels (the lead's notification
// outbox implements it).
type Notifier interface {
	NotifyIncident(ctx context.Context, tenantID string, incidentID int64, channel, subject, body string) error
}

// Timeline records step outcomes on the incident (the lead's incident store implements it; the
// same method as containment.Timeline).
type Timeline interface {
	AddTimelineEntry(ctx context.Context, e socbot.TimelineEntry) error
}

// Run states.
const (
	RunRunning = "running"
	RunWaiting = "waiting"
	RunDone    = "done"
	RunFailed  = "failed"
)

// Outcome is what one step did.
type Outcome struct {
	Step   string         `json:"step"`
	Kind   string         `json:"kind"`
	Status string         `json:"status"` // done, skipped, failed, planned, waiting
	Text   string         `json:"text"`
	Data   map[string]any `json:"data,omitempty"`
	At     time.Time      `json:"at"`
}

// Run is one execution of one playbook version for one incident. Runs are idempotent per
// (tenant, playbook, version, incident): a redelivered incident event does not start a second run.
type Run struct {
	ID           string              `json:"id"`
	TenantID     string              `json:"tenant_id"`
	Playbook     string              `json:"playbook"`
	Version      int                 `json:"version"`
	IncidentID   int64               `json:"incident_id"`
	State        string              `json:"state"`
	Cursor       int                 `json:"cursor"` // next step index
	ResumeAt     time.Time           `json:"resume_at"`
	MinApprovals int                 `json:"min_approvals"`
	Outcomes     []Outcome           `json:"outcomes"`
	DryRun       bool                `json:"dry_run"`
	Incident     socbot.Incident     `json:"incident"`
	Alerts       []socbot.Alert      `json:"alerts,omitempty"`
	Enrichment   []socbot.Enrichment `json:"enrichment,omitempty"`
	StartedAt    time.Time           `json:"started_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
}

// RunStore keeps runs, so that waits survive a restart (the lead's SQL store can implement it).
type RunStore interface {
	// CreateRun stores a new run unless one exists for the same tenant, playbook, version and incident.
	CreateRun(ctx context.Context, r Run) (created bool, err error)
	PutRun(ctx context.Context, r Run) error
	// DueRuns lists waiting runs whose ResumeAt is at or before now.
	DueRuns(ctx context.Context, now time.Time) ([]Run, error)
}

// MemRuns is an in-memory RunStore.
type MemRuns struct {
	mu   sync.Mutex
	runs map[string]Run
}

var _ RunStore = (*MemRuns)(nil)

// NewMemRuns returns an empty run store.
func NewMemRuns() *MemRuns { return &MemRuns{runs: map[string]Run{}} }

func runKey(r Run) string {
	return fmt.Sprintf("%s|%s|%d|%d", r.TenantID, r.Playbook, r.Version, r.IncidentID)
}

// CreateRun implements RunStore.
func (m *MemRuns) CreateRun(_ context.Context, r Run) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[runKey(r)]; ok {
		return false, nil
	}
	m.runs[runKey(r)] = r
	return true, nil
}

// PutRun implements RunStore.
func (m *MemRuns) PutRun(_ context.Context, r Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[runKey(r)] = r
	return nil
}

// DueRuns implements RunStore.
func (m *MemRuns) DueRuns(_ context.Context, now time.Time) ([]Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Run
	for _, r := range m.runs {
		if r.State == RunWaiting && !r.ResumeAt.After(now) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResumeAt.Before(out[j].ResumeAt) })
	return out, nil
}

// Runs lists every run (tests, CLI).
func (m *MemRuns) Runs() []Run {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Run
	for _, r := range m.runs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return runKey(out[i]) < runKey(out[j]) })
	return out
}

// Config wires an Engine. Library is required; the rest may be nil (a nil Containment makes contain
// steps fail, a nil Enricher makes enrich steps no-ops that say so).
type Config struct {
	Library     *Library
	Containment Containment
	Enricher    Enricher
	Notifier    Notifier
	Timeline    Timeline
	Runs        RunStore // default NewMemRuns()
	Clock       socbot.Clock
	Log         *slog.Logger
}

// Engine runs playbooks.
type Engine struct {
	lib   *Library
	cont  Containment
	enr   Enricher
	notif Notifier
	tl    Timeline
	runs  RunStore
	clock socbot.Clock
	log   *slog.Logger
}

var _ containment.IncidentPlaybooks = (*Engine)(nil)

// NewEngine builds an engine.
func NewEngine(cfg Config) *Engine {
	e := &Engine{lib: cfg.Library, cont: cfg.Containment, enr: cfg.Enricher, notif: cfg.Notifier, tl: cfg.Timeline,
		runs: cfg.Runs, clock: cfg.Clock, log: cfg.Log}
	if e.runs == nil {
		e.runs = NewMemRuns()
	}
	if e.clock == nil {
		e.clock = socbot.SystemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

// OnIncident starts every triggered playbook of the incident's tenant that has not run for it yet.
func (e *Engine) OnIncident(ctx context.Context, inc socbot.Incident, alerts []socbot.Alert) error {
	_, err := e.Start(ctx, inc, alerts, false)
	return err
}

// Start evaluates the triggers and runs the matching playbooks until they end or wait. With dryRun
// nothing is changed anywhere: contain steps ask the connectors for a plan, notify steps only
// render, waits do not wait, and nothing goes to the timeline or the run store.
func (e *Engine) Start(ctx context.Context, inc socbot.Incident, alerts []socbot.Alert, dryRun bool) ([]Run, error) {
	var out []Run
	vars := Vars(inc, alerts, nil)
	for _, p := range e.lib.For(inc.TenantID) {
		ok, err := evalBool(p.trigger, vars)
		if err != nil {
			e.log.Warn("playbook trigger failed", "playbook", p.Name, "err", err)
			continue
		}
		if !ok {
			continue
		}
		now := e.clock.Now()
		r := Run{ID: socbot.NewID(), TenantID: inc.TenantID, Playbook: p.Name, Version: p.Version, IncidentID: inc.ID,
			State: RunRunning, DryRun: dryRun, Incident: inc, Alerts: alerts, StartedAt: now, UpdatedAt: now}
		if !dryRun {
			created, err := e.runs.CreateRun(ctx, r)
			if err != nil {
				return out, err
			}
			if !created {
				continue
			}
			e.record(ctx, r, p, "playbook_started", fmt.Sprintf("playbook %s v%d started", p.Name, p.Version), nil)
		}
		r, err = e.advance(ctx, p, r)
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Tick resumes waiting runs that are due.
func (e *Engine) Tick(ctx context.Context) error {
	due, err := e.runs.DueRuns(ctx, e.clock.Now())
	if err != nil {
		return err
	}
	for _, r := range due {
		p, ok := e.lib.Version(r.TenantID, r.Playbook, r.Version)
		if !ok {
			r.State = RunFailed
			r.Outcomes = append(r.Outcomes, Outcome{Status: "failed", Text: fmt.Sprintf("playbook %s v%d no longer exists", r.Playbook, r.Version), At: e.clock.Now()})
			_ = e.runs.PutRun(ctx, r)
			continue
		}
		r.State = RunRunning
		if _, err := e.advance(ctx, p, r); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) record(ctx context.Context, r Run, p *Playbook, kind, text string, data map[string]any) {
	if r.DryRun || e.tl == nil || r.IncidentID == 0 {
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	data["playbook"], data["version"], data["run"] = p.Name, p.Version, r.ID
	b, _ := json.Marshal(data)
	if err := e.tl.AddTimelineEntry(ctx, socbot.TimelineEntry{TenantID: r.TenantID, IncidentID: r.IncidentID, At: e.clock.Now(),
		Actor: "playbook:" + p.Name, Kind: kind, Text: text, Data: b}); err != nil {
		e.log.Warn("playbook timeline entry failed", "playbook", p.Name, "err", err)
	}
}

// advance runs steps from the cursor until the run ends or waits, saving it after each step.
func (e *Engine) advance(ctx context.Context, p *Playbook, r Run) (Run, error) {
	vars := Vars(r.Incident, r.Alerts, r.Enrichment)
	steps := map[string]any{}
	for _, o := range r.Outcomes {
		if o.Step != "" {
			m := map[string]any{"status": o.Status, "kind": o.Kind}
			for k, v := range o.Data {
				m[k] = v
			}
			steps[o.Step] = m
		}
	}
	vars["steps"] = steps
	for r.Cursor < len(p.Steps) {
		s := &p.Steps[r.Cursor]
		next := r.Cursor + 1
		o := Outcome{Step: s.ID, Kind: s.Kind(), Status: "done", At: e.clock.Now()}
		run := true
		if s.guard != nil {
			ok, err := evalBool(s.guard, vars)
			if err != nil {
				o.Status, o.Text, run = "failed", "if: "+err.Error(), false
			} else if !ok {
				o.Status, o.Text, run = "skipped", "condition not met: "+s.If, false
			}
		}
		if run {
			var jump int
			jump, o = e.step(ctx, p, s, &r, vars, o)
			if jump >= 0 {
				next = jump
			}
		}
		r.Outcomes = append(r.Outcomes, o)
		m := map[string]any{"status": o.Status, "kind": o.Kind}
		for k, v := range o.Data {
			m[k] = v
		}
		steps[s.ID] = m
		e.record(ctx, r, p, "playbook_step", fmt.Sprintf("%s step %s (%s): %s", p.Name, s.ID, o.Status, o.Text), map[string]any{"step": s.ID, "status": o.Status})
		r.Cursor = next
		r.UpdatedAt = e.clock.Now()
		if o.Status == "waiting" {
			r.State = RunWaiting
			if !r.DryRun {
				if err := e.runs.PutRun(ctx, r); err != nil {
					return r, err
				}
			}
			return r, nil
		}
		if !r.DryRun {
			if err := e.runs.PutRun(ctx, r); err != nil {
				return r, err
			}
		}
	}
	r.State = RunDone
	for _, o := range r.Outcomes {
		if o.Status == "failed" {
			r.State = RunFailed
		}
	}
	if !r.DryRun {
		e.record(ctx, r, p, "playbook_finished", fmt.Sprintf("playbook %s v%d %s", p.Name, p.Version, r.State), nil)
		if err := e.runs.PutRun(ctx, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// step carries out one step and returns the index to jump to (-1: the next step) and the outcome.
func (e *Engine) step(ctx context.Context, p *Playbook, s *Step, r *Run, vars map[string]any, o Outcome) (int, Outcome) {
	switch {
	case s.Enrich != nil:
		obs := allObservables(r.Alerts)
		if s.values != nil {
			vals, err := evalStrings(s.values, vars)
			if err != nil {
				o.Status, o.Text = "failed", "observables: "+err.Error()
				return -1, o
			}
			keep := map[string]bool{}
			for _, v := range vals {
				keep[v] = true
			}
			var sel []socbot.Observable
			for _, ob := range obs {
				if keep[ob.Value] {
					sel = append(sel, ob)
				}
			}
			obs = sel
		}
		if r.DryRun || e.enr == nil {
			o.Status = "planned"
			if !r.DryRun {
				o.Status = "skipped"
			}
			o.Text = fmt.Sprintf("would enrich %d observable(s)", len(obs))
			if !r.DryRun {
				o.Text = fmt.Sprintf("no enricher configured; %d observable(s) not enriched", len(obs))
			}
			o.Data = map[string]any{"count": int64(len(obs))}
			return -1, o
		}
		ens, err := e.enr.EnrichObservables(ctx, r.TenantID, obs)
		if err != nil {
			o.Status, o.Text = "failed", "enrichment: "+err.Error()
			return -1, o
		}
		r.Enrichment = append(r.Enrichment, ens...)
		malicious := 0
		for _, en := range ens {
			if en.Verdict == socbot.VerdictMalicious {
				malicious++
			}
		}
		fresh := Vars(r.Incident, r.Alerts, r.Enrichment)
		vars["observables"] = fresh["observables"]
		o.Text = fmt.Sprintf("enriched %d observable(s): %d finding(s), %d malicious", len(obs), len(ens), malicious)
		o.Data = map[string]any{"count": int64(len(ens)), "malicious": int64(malicious)}
	case s.Contain != nil:
		return -1, e.contain(ctx, p, s, r, vars, o)
	case s.Notify != nil:
		ch := s.Notify.Channel
		if ch == "" {
			ch = "soc"
		}
		subject := render(s.subj, vars)
		if subject == "" {
			subject = fmt.Sprintf("[%s] %s", p.Name, r.Incident.Title)
		}
		body := render(s.tmpl, vars)
		o.Data = map[string]any{"channel": ch, "subject": subject, "body": body}
		switch {
		case r.DryRun:
			o.Status, o.Text = "planned", fmt.Sprintf("would notify %s: %s", ch, subject)
		case e.notif == nil:
			o.Status, o.Text = "skipped", "no notifier configured"
		default:
			if err := e.notif.NotifyIncident(ctx, r.TenantID, r.IncidentID, ch, subject, body); err != nil {
				o.Status, o.Text = "failed", "notify "+ch+": "+err.Error()
			} else {
				o.Text = "notified " + ch + ": " + subject
			}
		}
	case s.Approval != nil:
		if s.Approval.Approvers > r.MinApprovals {
			r.MinApprovals = s.Approval.Approvers
		}
		o.Text = fmt.Sprintf("later containment needs at least %d distinct approver(s)", r.MinApprovals)
		if s.Approval.Reason != "" {
			o.Text += ": " + s.Approval.Reason
		}
		o.Data = map[string]any{"approvers": int64(r.MinApprovals)}
		if r.DryRun {
			o.Status = "planned"
		}
	case s.Wait != nil:
		if r.DryRun {
			o.Status, o.Text = "planned", "would wait "+s.wait.String()
			return -1, o
		}
		r.ResumeAt = e.clock.Now().Add(s.wait)
		o.Status, o.Text = "waiting", "waiting until "+r.ResumeAt.Format(time.RFC3339)
	case s.Branch != nil:
		ok, err := evalBool(s.cond, vars)
		if err != nil {
			o.Status, o.Text = "failed", "branch.if: "+err.Error()
			return -1, o
		}
		target := s.Branch.Else
		if ok {
			target = s.Branch.Then
		}
		o.Data = map[string]any{"taken": ok}
		switch target {
		case "":
			o.Text = fmt.Sprintf("%v: continue", ok)
			return -1, o
		case "end":
			o.Text = fmt.Sprintf("%v: end", ok)
			return len(p.Steps), o
		default:
			o.Text = fmt.Sprintf("%v: go to %s", ok, target)
			return p.index[target], o
		}
	}
	return -1, o
}

func allObservables(alerts []socbot.Alert) []socbot.Observable {
	seen := map[string]bool{}
	var out []socbot.Observable
	for _, a := range alerts {
		for _, o := range a.Observables {
			if !seen[o.Key()] {
				seen[o.Key()] = true
				out = append(out, o)
			}
		}
	}
	return out
}

func (e *Engine) contain(ctx context.Context, p *Playbook, s *Step, r *Run, vars map[string]any, o Outcome) Outcome {
	c := s.Contain
	kind := containActions[c.Action]
	values, err := evalStrings(s.values, vars)
	if err != nil {
		o.Status, o.Text = "failed", "values: "+err.Error()
		return o
	}
	max := c.MaxValues
	if max == 0 {
		max = 20
	}
	if len(values) == 0 {
		o.Status, o.Text = "skipped", "no values to "+c.Action
		o.Data = map[string]any{"count": int64(0)}
		return o
	}
	if len(values) > max {
		o.Status, o.Text = "failed", fmt.Sprintf("%d values to %s, more than max_values %d: refusing a broad action", len(values), c.Action, max)
		return o
	}
	crown := map[string]bool{}
	if obs, ok := vars["observables"].([]any); ok {
		for _, x := range obs {
			m := x.(map[string]any)
			if cj, _ := m["crown_jewel"].(bool); cj {
				crown[m["value"].(string)] = true
			}
		}
	}
	reason := c.Reason
	if reason == "" {
		reason = fmt.Sprintf("playbook %s for incident %d", p.Name, r.Incident.Number)
	}
	connectors := c.Connectors
	if len(connectors) == 0 {
		connectors = []string{""}
	}
	var lines []string
	counts := map[string]int64{}
	for _, v := range values {
		for _, cid := range connectors {
			req := containment.Request{TenantID: r.TenantID, Kind: kind, Value: v, ConnectorID: cid, TTL: s.ttl,
				RequestedBy: "playbook:" + p.Name, Reason: reason, IncidentID: r.IncidentID, PlaybookStep: p.Ref(s.ID),
				Confidence: r.Incident.Confidence, CrownJewel: crown[v], MinApprovals: r.MinApprovals}
			if e.cont == nil {
				if r.DryRun {
					lines = append(lines, fmt.Sprintf("would %s %s on %s", kind, v, orAll(cid)))
					counts["planned"]++
					continue
				}
				counts["failed"]++
				lines = append(lines, fmt.Sprintf("%s %s: no containment bot configured", kind, v))
				continue
			}
			if r.DryRun {
				changes, err := e.cont.Plan(ctx, req)
				if err != nil {
					counts["refused"]++
					lines = append(lines, fmt.Sprintf("would not %s %s: %v", kind, v, err))
					continue
				}
				for _, ch := range changes {
					lines = append(lines, fmt.Sprintf("%s: %s", ch.Connector, ch.Change))
				}
				if len(changes) == 0 {
					lines = append(lines, fmt.Sprintf("would %s %s: no connector supports it", kind, v))
				}
				counts["planned"] += int64(len(changes))
				continue
			}
			as, err := e.cont.RequestForIncident(ctx, req, r.Incident)
			if err != nil {
				counts["failed"]++
				lines = append(lines, fmt.Sprintf("%s %s: %v", kind, v, err))
				continue
			}
			for _, a := range as {
				counts[string(a.State)]++
				l := fmt.Sprintf("%s %s on %s: %s", kind, v, a.ConnectorID, a.State)
				if a.State == containment.StateAwaitingApproval {
					l += fmt.Sprintf(" (%d approver(s))", a.RequiredApprovals)
				}
				if a.State == containment.StateDenied {
					l += " (" + a.Detail + ")"
				}
				lines = append(lines, l)
			}
		}
	}
	o.Text = strings.Join(lines, "; ")
	o.Data = map[string]any{"count": int64(len(values))}
	for k, v := range counts {
		o.Data[k] = v
	}
	if r.DryRun {
		o.Status = "planned"
	} else if counts["failed"] > 0 && counts["failed"] == int64(len(values)*len(connectors)) {
		o.Status = "failed"
	}
	return o
}

func orAll(id string) string {
	if id == "" {
		return "every connector that supports it"
	}
	return id
}
