package playbook

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/containment/fakeconn"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type timeline struct {
	mu      sync.Mutex
	entries []socbot.TimelineEntry
}

func (t *timeline) AddTimelineEntry(_ context.Context, e socbot.TimelineEntry) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries = append(t.entries, e)
	return nil
}

func (t *timeline) texts() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var s []string
	for _, e := range t.entries {
		s = append(s, e.Kind+": "+e.Text)
	}
	return strings.Join(s, "\n")
}

type notifier struct{ sent []string }

func (n *notifier) NotifyIncident(_ context.Context, tenantID string, incidentID int64, channel, subject, body string) error {
	n.sent = append(n.sent, channel+"|"+subject+"|"+body)
	return nil
}

type enricher struct{}

func (enricher) EnrichObservables(_ context.Context, _ string, obs []socbot.Observable) ([]socbot.Enrichment, error) {
	var out []socbot.Enrichment
	for _, o := range obs {
		if o.Value == "203.0.113.66" {
			out = append(out, socbot.Enrichment{Enricher: "intel", Observable: o.Key(), Verdict: socbot.VerdictMalicious, Score: 90})
		}
	}
	return out, nil
}

type rig struct {
	clock *clock
	tl    *timeline
	nt    *notifier
	bot   *containment.Bot
	eng   *Engine
	runs  *MemRuns
	fw    *fakeconn.Conn
	edr   *fakeconn.Conn
	store *containment.MemStore
}

func newRig(t *testing.T) *rig {
	r := &rig{clock: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, tl: &timeline{}, nt: &notifier{}, runs: NewMemRuns()}
	r.store = containment.NewMemStore()
	conns := containment.NewConnectors(r.store, nil, r.clock)
	r.fw, r.edr = fakeconn.New("fw"), fakeconn.New("edr")
	r.edr.Unsupport(socbot.ActBlockIP)
	r.fw.Unsupport(socbot.ActIsolateHost)
	r.fw.Unsupport(socbot.ActDisableUser)
	conns.Add("acme", "fw", r.fw)
	conns.Add("acme", "edr", r.edr)
	r.bot = containment.New(containment.Config{Store: r.store, Resolver: conns, Clock: r.clock, Timeline: r.tl})
	lib := NewLibrary()
	pbs, err := Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pbs {
		if err := lib.Add("", p); err != nil {
			t.Fatal(err)
		}
	}
	r.eng = NewEngine(Config{Library: lib, Containment: r.bot, Enricher: enricher{}, Notifier: r.nt, Timeline: r.tl, Runs: r.runs, Clock: r.clock})
	r.bot.UsePlaybooks(r.eng)
	return r
}

func c2Incident(conf int) (socbot.Incident, []socbot.Alert) {
	inc := socbot.Incident{ID: 42, Number: 7, TenantID: "acme", Title: "Beacon to 203.0.113.66", Priority: socbot.P2, Status: socbot.StatusNew, Confidence: conf}
	a := socbot.Alert{UID: "a1", TenantID: "acme", Title: "C2 beacon", Category: "c2"}
	a.AddObservable(socbot.ObsIP, "203.0.113.66", socbot.AsDestination)
	a.AddObservable(socbot.ObsIP, "10.0.0.5", socbot.AsSource)
	a.AddObservable(socbot.ObsHost, "ws-042", socbot.AsTarget)
	a.Enrichment = []socbot.Enrichment{{Enricher: "intel", Observable: "ip:203.0.113.66", Verdict: socbot.VerdictSuspicious, Score: 60}}
	return inc, []socbot.Alert{a}
}

func TestC2PlaybookBlocksAutomatically(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	inc, alerts := c2Incident(90)
	if err := r.bot.OnIncident(ctx, inc, alerts); err != nil {
		t.Fatal(err)
	}
	runs := r.runs.Runs()
	if len(runs) != 1 || runs[0].Playbook != "c2-address" || runs[0].State != RunDone {
		t.Fatalf("runs: %+v", runs)
	}
	var seq []string
	for _, o := range runs[0].Outcomes {
		seq = append(seq, o.Step+"="+o.Status)
	}
	if got := strings.Join(seq, ","); got != "enrich=done,confident=done,block-ip-now=done,done=done,block-domain=skipped,tell-soc=done" {
		t.Fatalf("steps: %s", got)
	}
	as, _ := r.store.ListActions(ctx, containment.ActionFilter{TenantID: "acme"})
	if len(as) != 1 || as[0].Value != "203.0.113.66" || as[0].ConnectorID != "fw" || as[0].State != containment.StateApproved || as[0].PlaybookStep != "c2-address@v1/block-ip-now" {
		t.Fatalf("actions: %+v", as)
	}
	if _, err := r.bot.Executor().RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.fw.Present(socbot.ActBlockIP, "203.0.113.66") {
		t.Fatal("not blocked")
	}
	tl := r.tl.texts()
	for _, want := range []string{"playbook_started: playbook c2-address v1 started", "playbook_step: c2-address step block-ip-now (done): block_ip 203.0.113.66 on fw: approved",
		"containment_applied: block_ip 203.0.113.66 applied on fw", "playbook_finished: playbook c2-address v1 done"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	if len(r.nt.sent) != 1 || !strings.Contains(r.nt.sent[0], "C2 blocked for incident 7") || !strings.Contains(r.nt.sent[0], "203.0.113.66") {
		t.Fatalf("notices: %v", r.nt.sent)
	}
	// A redelivered incident event starts no second run.
	if err := r.bot.OnIncident(ctx, inc, alerts); err != nil {
		t.Fatal(err)
	}
	if len(r.runs.Runs()) != 1 {
		t.Fatal("second run for the same incident")
	}
	// Closing it as a false positive rolls the block back.
	inc.Status = socbot.StatusFalsePositive
	if err := r.bot.OnIncident(ctx, inc, alerts); err != nil {
		t.Fatal(err)
	}
	if _, err := r.bot.Executor().RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if r.fw.Present(socbot.ActBlockIP, "203.0.113.66") {
		t.Fatal("false positive not rolled back")
	}
}

func TestC2PlaybookAsksWhenUnsure(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	inc, alerts := c2Incident(65)
	alerts[0].Enrichment = nil
	// The enricher then finds the address malicious with score 90: the branch takes the fast path.
	if err := r.bot.OnIncident(ctx, inc, alerts); err != nil {
		t.Fatal(err)
	}
	// Without malicious or suspicious evidence the trigger does not fire at all.
	if len(r.runs.Runs()) != 0 {
		t.Fatalf("triggered without evidence: %+v", r.runs.Runs())
	}
	inc.ID, inc.Number = 43, 8
	alerts[0].Enrichment = []socbot.Enrichment{{Enricher: "intel", Observable: "ip:203.0.113.77", Verdict: socbot.VerdictSuspicious}}
	alerts[0].Observables = []socbot.Observable{{Type: socbot.ObsIP, Value: "203.0.113.77", Role: socbot.AsDestination}}
	if err := r.bot.OnIncident(ctx, inc, alerts); err != nil {
		t.Fatal(err)
	}
	as, _ := r.store.ListActions(ctx, containment.ActionFilter{TenantID: "acme", IncidentID: 43})
	if len(as) != 1 || as[0].State != containment.StateAwaitingApproval || as[0].PlaybookStep != "c2-address@v1/block-ip-approved" || as[0].RequiredApprovals != 1 {
		t.Fatalf("actions: %+v", as)
	}
}

func TestWaitAndResume(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	inc := socbot.Incident{ID: 50, Number: 9, TenantID: "acme", Title: "MFA fatigue", Category: "identity", Confidence: 95, Priority: socbot.P1}
	a := socbot.Alert{UID: "x", Techniques: []string{"T1621"}}
	a.AddObservable(socbot.ObsUser, "jdoe@acme.example", socbot.AsTarget)
	if err := r.bot.OnIncident(ctx, inc, []socbot.Alert{a}); err != nil {
		t.Fatal(err)
	}
	runs := r.runs.Runs()
	if len(runs) != 1 || runs[0].Playbook != "compromised-account" || runs[0].State != RunWaiting {
		t.Fatalf("runs: %+v", runs)
	}
	as, _ := r.store.ListActions(ctx, containment.ActionFilter{TenantID: "acme", IncidentID: 50})
	if len(as) != 1 || as[0].Kind != socbot.ActDisableUser || as[0].RequiredApprovals != 2 || as[0].State != containment.StateAwaitingApproval {
		t.Fatalf("disable action: %+v", as)
	}
	r.clock.Advance(10 * time.Minute)
	_ = r.eng.Tick(ctx)
	if len(r.nt.sent) != 0 {
		t.Fatal("resumed before the wait ended")
	}
	r.clock.Advance(6 * time.Minute)
	if err := r.eng.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if runs := r.runs.Runs(); runs[0].State != RunDone || len(r.nt.sent) != 1 || !strings.HasPrefix(r.nt.sent[0], "client|") {
		t.Fatalf("after the wait: %+v %v", runs[0].State, r.nt.sent)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	inc, alerts := c2Incident(90)
	runs, err := r.eng.Start(ctx, inc, alerts, true)
	if err != nil || len(runs) != 1 {
		t.Fatal(runs, err)
	}
	var block string
	for _, o := range runs[0].Outcomes {
		if o.Step == "block-ip-now" {
			block = o.Status + " " + o.Text
		}
	}
	if !strings.HasPrefix(block, "planned fw: add block_ip:203.0.113.66 ttl=24h0m0s") {
		t.Fatalf("plan: %q", block)
	}
	as, _ := r.store.ListActions(ctx, containment.ActionFilter{TenantID: "acme"})
	if len(as) != 0 || len(r.runs.Runs()) != 0 || len(r.tl.entries) != 0 || len(r.nt.sent) != 0 {
		t.Fatal("dry run changed something")
	}
}
