// Package storetest is the one test suite every implementation of socbot.Store must pass. The SQLite
// and PostgreSQL runs both call Run, so the two engines are held to the same behaviour.
package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

// Instance is one fresh, empty store for a test, with a way to run raw SQL on it (to tamper with the
// audit log the way an attacker with database access would).
type Instance struct {
	Store  socbot.Store
	Engine string
	Exec   func(query string, args ...any) error
	Clock  *Clock
}

// Clock is a settable clock shared by an Instance's store and the test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var _ socbot.Clock = (*Clock)(nil)

// extra are suite tests that other bots' files add with Add (their tables live in the same store).
var extra []struct {
	name string
	fn   func(t *testing.T, in Instance)
}

// Add registers another test of the suite; a bot's storetest file calls it from init, so that its
// tables are tested on both engines too.
func Add(name string, fn func(t *testing.T, in Instance)) {
	extra = append(extra, struct {
		name string
		fn   func(t *testing.T, in Instance)
	}{name, fn})
}

// Run runs every test of the suite; newInstance must return a fresh empty store each call.
func Run(t *testing.T, newInstance func(t *testing.T) Instance) {
	tests := []struct {
		name string
		fn   func(t *testing.T, in Instance)
	}{
		{"Tenants", testTenants},
		{"Tokens", testTokens},
		{"Users", testUsers},
		{"Assets", testAssets},
		{"ListIndicators", testListIndicators},
		{"Rules", testRules},
		{"TriageIncidents", testTriageIncidents},
		{"IncidentNumbersConcurrent", testIncidentNumbersConcurrent},
		{"AlertsRoundTrip", testAlertsRoundTrip},
		{"ProcessedMessages", testProcessed},
		{"PruneProcessed", testPruneProcessed},
		{"Merge", testMerge},
		{"UpdateIncident", testUpdateIncident},
		{"Notifications", testNotifications},
		{"Escalation", testEscalation},
		{"QueueStats", testQueueStats},
		{"TriageState", testTriageState},
		{"Audit", testAudit},
		{"AuditTamper", testAuditTamper},
		{"TenantIsolation", testTenantIsolation},
	}
	tests = append(tests, extra...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := newInstance(t)
			tc.fn(t, in)
		})
	}
}

var admin = socbot.Principal{Role: socbot.RoleAdmin, Name: "test:admin"}

func ctx() context.Context { return context.Background() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tenant(t *testing.T, s socbot.Store, name string) socbot.Tenant {
	t.Helper()
	tn := socbot.Tenant{Name: name}
	must(t, s.CreateTenant(ctx(), &tn, admin))
	return tn
}

func wantKind(t *testing.T, err error, k socbot.Kind) {
	t.Helper()
	if socbot.ErrorKind(err) != k {
		t.Fatalf("want error of kind %v, got %v", k, err)
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if got := socbot.ErrorField(err); got != field {
		t.Fatalf("want error about field %q, got %q (%v)", field, got, err)
	}
}

// newIncident creates an incident through a triage transaction.
func newIncident(t *testing.T, in Instance, tenantID, title string, p socbot.Priority, entities ...string) socbot.Incident {
	t.Helper()
	now := in.Clock.Now()
	due := now.Add(time.Hour)
	res := now.Add(4 * time.Hour)
	inc := socbot.Incident{TenantID: tenantID, Title: title, Priority: p, Queue: socbot.DefaultQueue, AlertCount: 1,
		FirstSeen: now, LastSeen: now, CreatedAt: now, UpdatedAt: now, AckDue: &due, ResolveDue: &res}
	must(t, in.Store.TriageTx(ctx(), func(tx socbot.TriageTx) error {
		if err := tx.CreateIncident(&inc); err != nil {
			return err
		}
		if len(entities) > 0 {
			if err := tx.AddEntities(tenantID, inc.ID, entities, now); err != nil {
				return err
			}
		}
		return tx.Notify(tenantID, socbot.EventIncidentCreated, inc, "")
	}))
	inc.Entities = entities
	return inc
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func sliceEq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}
