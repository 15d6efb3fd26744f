package panos

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/faults"
	"github.com/socbot/socbot/connectors/panos/fake"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

const testKey = "LUFRPT1-panos-secret-key=="

func suite(ipMethod string, opt fake.Options) conntest.Suite {
	return conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake {
			o := opt
			o.Key, o.Clock = testKey, clock
			return fake.New(o)
		},
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: func(base string) socbot.ConnectorConfig {
			return socbot.ConnectorConfig{Type: Type, BaseURL: base, Credentials: map[string]string{"api_key": testKey},
				Options: map[string]string{"ip_method": ipMethod, "commit_poll_interval": "5ms"}}
		},
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"api_key": "LUFRPT1-wrong-key-0000=="}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActBlockIP, Value: "203.0.113.7", TTL: time.Hour, Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockDomain, Value: "evil.example", Reference: "soc:CASE-1"},
			{Kind: socbot.ActBlockIP, Value: "198.51.100.0/24", Reference: "soc:CASE-1"},
		},
		RetryAfter: 2 * time.Second,
	}
}

func TestConformanceDAG(t *testing.T)     { conntest.Run(t, suite("dag", fake.Options{})) }
func TestConformanceAddress(t *testing.T) { conntest.Run(t, suite("address", fake.Options{})) }
func TestConformanceAddressCode7(t *testing.T) {
	conntest.Run(t, suite("address", fake.Options{MissingDeleteCode7: true, CommitPolls: 3}))
}

func newEnv(t *testing.T, opt fake.Options, options map[string]string) (*fake.Server, *Connector) {
	t.Helper()
	opt.Key = testKey
	f := fake.New(opt)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	o := map[string]string{"commit_poll_interval": "5ms"}
	for k, v := range options {
		o[k] = v
	}
	c, err := New(socbot.ConnectorConfig{Type: Type, BaseURL: srv.URL, Credentials: map[string]string{"api_key": testKey}, Options: o, Timeout: 2 * time.Second}, vendorhttp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func TestCommitBatching(t *testing.T) {
	f, c := newEnv(t, fake.Options{CommitPolls: 2}, nil)
	var reqs []socbot.ContainmentRequest
	for _, d := range []string{"a.evil.example", "b.evil.example", "c.evil.example", "d.evil.example", "e.evil.example"} {
		reqs = append(reqs, socbot.ContainmentRequest{Kind: socbot.ActBlockDomain, Value: d, Reference: "soc:CASE-2"})
	}
	res, err := c.Apply(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Outcome != socbot.OutcomeApplied {
			t.Fatalf("req %d: %s %v", i, r.Outcome, r.Err)
		}
		if !f.Running("soc-blocklist", ObjectName(reqs[i].Value)) {
			t.Fatalf("%s not in the running config after Apply", reqs[i].Value)
		}
	}
	if st := f.Stats(); st.Commits != 1 || st.JobPolls < 3 {
		t.Fatalf("5 adds: %d commits and %d job polls, want exactly 1 commit polled to FIN", st.Commits, st.JobPolls)
	}
	// Block again: nothing staged, so no commit at all.
	if _, err := c.Apply(context.Background(), reqs); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Commits != 1 {
		t.Fatalf("re-block committed again: %d commits", st.Commits)
	}
	// DAG registrations never commit.
	if _, err := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "192.0.2.10"}, {Kind: socbot.ActBlockIP, Value: "192.0.2.11"}}); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Commits != 1 || st.UserIDCalls != 1 {
		t.Fatalf("2 DAG blocks: %d commits, %d user-id calls; want 1 commit total and one user-id message", st.Commits, st.UserIDCalls)
	}
}

func TestStagedChangesInvisibleUntilCommit(t *testing.T) {
	f, c := newEnv(t, fake.Options{}, map[string]string{"ip_method": "address"})
	// set object, set member, then the commit call fails with a 5xx: staged but not running.
	f.Faults().Queue(faults.None, 4) // get group, show group, set address, set member
	f.Faults().Queue(faults.Server, 1)
	req := socbot.ContainmentRequest{Kind: socbot.ActBlockIP, Value: "203.0.113.9", Reference: "soc:CASE-3"}
	res, err := c.Apply(context.Background(), []socbot.ContainmentRequest{req})
	if err != nil {
		t.Fatal(err)
	}
	ve := conntest.VendorError(res, nil)
	if ve == nil || !ve.Retryable {
		t.Fatalf("commit 5xx: want a retryable failure, got %+v", res[0])
	}
	name := ObjectName(req.Value)
	if !f.Candidate("soc-blocklist", name) || f.Running("soc-blocklist", name) {
		t.Fatalf("want the object staged in the candidate and not running (candidate %v running %v)", f.Candidate("soc-blocklist", name), f.Running("soc-blocklist", name))
	}
	pl, err := c.Plan(context.Background(), []socbot.ContainmentRequest{req})
	if err != nil || !strings.Contains(pl[0].Change, "staged but not committed") {
		t.Fatalf("plan of a staged block = %+v %v", pl, err)
	}
	// The framework's retry: already in the candidate, so only the commit remains.
	res, err = c.Apply(context.Background(), []socbot.ContainmentRequest{req})
	if err != nil || res[0].Outcome != socbot.OutcomeAlreadyPresent {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if !f.Running("soc-blocklist", name) || f.RunningValue(name) != "203.0.113.9/32" {
		t.Fatalf("retry did not commit the staged object")
	}
}

func TestCommitFailureFailsStagedRequests(t *testing.T) {
	f, c := newEnv(t, fake.Options{FailCommit: true}, nil)
	res, err := c.Apply(context.Background(), []socbot.ContainmentRequest{
		{Kind: socbot.ActBlockDomain, Value: "evil.example"},
		{Kind: socbot.ActBlockIP, Value: "203.0.113.7"}, // DAG: unaffected by the commit
	})
	if err != nil {
		t.Fatal(err)
	}
	ve := conntest.VendorError(res[:1], nil)
	if ve == nil || ve.Retryable || ve.Code != "commit-FAIL" {
		t.Fatalf("failed commit job: want a non-retryable commit-FAIL, got %+v", res[0])
	}
	if res[1].Outcome != socbot.OutcomeApplied || !f.Registered("203.0.113.7", "soc-block") {
		t.Fatalf("DAG request: %+v", res[1])
	}
}

func TestDAGTimeoutIsNativeTTL(t *testing.T) {
	clock := conntest.NewClock()
	f := fake.New(fake.Options{Key: testKey, Clock: clock})
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := New(socbot.ConnectorConfig{BaseURL: srv.URL, Credentials: map[string]string{"api_key": testKey}}, vendorhttp.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.7", TTL: 90 * time.Minute}})
	if err != nil || res[0].Outcome != socbot.OutcomeApplied {
		t.Fatalf("%+v %v", res, err)
	}
	want := clock.Now().Add(90 * time.Minute)
	if res[0].ExpiresAt == nil || !res[0].ExpiresAt.Equal(want) || !f.RegisteredExpiry("203.0.113.7", "soc-block").Equal(want) {
		t.Fatalf("expiry: result %v fake %v, want %v", res[0].ExpiresAt, f.RegisteredExpiry("203.0.113.7", "soc-block"), want)
	}
	clock.Advance(91 * time.Minute)
	if f.Blocked(socbot.ActBlockIP, "203.0.113.7") {
		t.Fatalf("registration outlived its timeout")
	}
	if got := ttlSeconds(60 * 24 * time.Hour); got != 2592000 {
		t.Fatalf("TTL over 30 days: timeout %d, want the 2592000 cap", got)
	}
}

func TestKeygen(t *testing.T) {
	f := fake.New(fake.Options{Key: testKey, User: "socbot", Password: "pan-password-123"})
	srv := httptest.NewServer(f)
	defer srv.Close()
	mk := func(pw string) *Connector {
		c, err := New(socbot.ConnectorConfig{BaseURL: srv.URL, Credentials: map[string]string{"username": "socbot", "password": pw}}, vendorhttp.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	res, err := mk("pan-password-123").Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.8"}})
	if err != nil || res[0].Outcome != socbot.OutcomeApplied {
		t.Fatalf("keygen path: %+v %v", res, err)
	}
	res, _ = mk("wrong-password-1").Apply(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "203.0.113.8"}})
	ve := conntest.VendorError(res, nil)
	if ve == nil || !ve.Auth || strings.Contains(ve.Error(), "wrong-password-1") {
		t.Fatalf("bad password: %+v", res[0])
	}
}

func TestObjectName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.7", "soc-blk-203.0.113.7"},
		{"198.51.100.0/24", "soc-blk-198.51.100.0_24"},
		{"2001:db8::1", "soc-blk-2001_db8__1"},
		{"Evil.Example", "soc-blk-evil.example"},
	} {
		if got := ObjectName(tc.in); got != tc.want {
			t.Errorf("ObjectName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := ObjectName(strings.Repeat("a", 70) + ".example")
	if len(long) > 63 || !strings.HasPrefix(long, "soc-blk-") {
		t.Errorf("long name %q", long)
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`<response status="success"><result><key>KEY</key></result></response>`,
		`<response status="success" code="20"><msg>command succeeded</msg></response>`,
		`<response status="success" code="19"><result><msg><line>Commit job enqueued with jobid 4</line></msg><job>4</job></result></response>`,
		`<response status="success" code="19"><msg>There are no changes to commit.</msg></response>`,
		`<response status="success"><result><job><id>4</id><type>Commit</type><status>FIN</status><result>OK</result><progress>100</progress><details><line>ok</line></details></job></result></response>`,
		`<response status="error"><msg><line><uid-response><version>2.0</version><payload><register><entry ip="203.0.113.7" message="tag soc-block already exists, ignore"/></register></payload></uid-response></line></msg></response>`,
		`<response status="success"><result><entry ip="203.0.113.7"><tag><member>soc-block</member></tag></entry></result></response>`,
		`<response status="success"><result total-count="1" count="1"><entry name="soc-blk-203.0.113.7"><ip-netmask>203.0.113.7/32</ip-netmask></entry></result></response>`,
		`<response status="error" code="403"><result><msg>Invalid credentials.</msg></result></response>`,
		`<response status="error" code="10"><msg><line>Reference count not zero</line></msg></response>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseResponse(b)
		if err != nil {
			return
		}
		_ = r.message()
		_ = r.uid()
		_ = r.jobID()
	})
}
