package zscaler

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/conntest"
	"github.com/socbot/socbot/connectors/faults"
	"github.com/socbot/socbot/connectors/vendorhttp"
	"github.com/socbot/socbot/connectors/zscaler/fake"
)

const (
	testKey  = "Zk3yAbCdEfGh1234"
	testUser = "api-admin@corp.example"
	testPass = "zia-password-secret"
)

func suite(category string) conntest.Suite {
	return conntest.Suite{
		NewFake: func(clock socbot.Clock) conntest.Fake {
			return fake.New(fake.Options{APIKey: testKey, Username: testUser, Password: testPass, Clock: clock})
		},
		New: func(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (socbot.Connector, error) {
			return New(cfg, deps)
		},
		Config: func(base string) socbot.ConnectorConfig {
			return socbot.ConnectorConfig{Type: Type, BaseURL: base,
				Credentials: map[string]string{"api_key": testKey, "username": testUser, "password": testPass},
				Options:     map[string]string{"category_id": category}}
		},
		Spoil: func(cfg *socbot.ConnectorConfig) {
			cfg.Credentials = map[string]string{"api_key": testKey, "username": testUser, "password": "zia-wrong-password"}
		},
		Cases: []socbot.ContainmentRequest{
			{Kind: socbot.ActBlockDomain, Value: "evil.example"},
			{Kind: socbot.ActBlockURL, Value: "https://bad.example/login"},
			{Kind: socbot.ActBlockIP, Value: "203.0.113.7"},
		},
		RetryAfter: 3 * time.Second,
	}
}

func TestConformanceDenylist(t *testing.T) { conntest.Run(t, suite("")) }
func TestConformanceCategory(t *testing.T) { conntest.Run(t, suite("CUSTOM_01")) }

func env(t *testing.T, opt fake.Options) (*fake.Server, *Connector, *conntest.Clock) {
	t.Helper()
	clock := conntest.NewClock()
	opt.APIKey, opt.Username, opt.Password, opt.Clock = testKey, testUser, testPass, clock
	f := fake.New(opt)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(socbot.ConnectorConfig{BaseURL: srv.URL, Credentials: map[string]string{"api_key": testKey, "username": testUser, "password": testPass}}, vendorhttp.Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return f, c, clock
}

func blocks(vals ...string) []socbot.ContainmentRequest {
	var out []socbot.ContainmentRequest
	for _, v := range vals {
		out = append(out, socbot.ContainmentRequest{Kind: socbot.ActBlockDomain, Value: v})
	}
	return out
}

func TestOneActivationPerBatch(t *testing.T) {
	f, c, _ := env(t, fake.Options{})
	res, err := c.Apply(context.Background(), blocks("a.example", "b.example", "c.example", "d.example", "e.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != socbot.OutcomeApplied {
			t.Fatalf("%+v", r)
		}
	}
	if st := f.Stats(); st.Activations != 1 || st.Writes != 2 { // one ADD_TO_LIST + one activation
		t.Fatalf("5 adds: %+v, want one list write and exactly one activation", st)
	}
	if !f.Blocked(socbot.ActBlockDomain, "e.example") || f.Status() != "ACTIVE" {
		t.Fatal("not active after the batch")
	}
	// Re-block: nothing saved, status ACTIVE, so no activation.
	if _, err := c.Apply(context.Background(), blocks("a.example")); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Activations != 1 {
		t.Fatalf("re-block activated again: %+v", st)
	}
}

func TestSavedButNotActiveUntilActivated(t *testing.T) {
	f, c, _ := env(t, fake.Options{})
	// login, GET list, ADD succeed; the activation answers 503.
	f.Faults().Queue(faults.None, 3)
	f.Faults().Queue(faults.Server, 1)
	res, _ := c.Apply(context.Background(), blocks("evil.example"))
	if ve := conntest.VendorError(res, nil); ve == nil || !ve.Retryable {
		t.Fatalf("failed activation: %+v", res[0])
	}
	if !f.Saved("advanced", "evil.example") || f.Blocked(socbot.ActBlockDomain, "evil.example") || f.Status() != "PENDING" {
		t.Fatal("want the entry saved, PENDING and not enforced")
	}
	res, _ = c.Apply(context.Background(), blocks("evil.example"))
	if res[0].Outcome != socbot.OutcomeAlreadyPresent || !f.Blocked(socbot.ActBlockDomain, "evil.example") {
		t.Fatalf("retry must activate the pending change: %+v", res[0])
	}
}

func TestEditLockIsRetryable(t *testing.T) {
	f, c, _ := env(t, fake.Options{})
	f.QueueEditLock(1)
	res, _ := c.Apply(context.Background(), blocks("evil.example"))
	ve := conntest.VendorError(res, nil)
	if ve == nil || !ve.Retryable || ve.Status != 409 || ve.Code != "EDIT_LOCK_NOT_AVAILABLE" {
		t.Fatalf("409: %+v", ve)
	}
	res, _ = c.Apply(context.Background(), blocks("evil.example"))
	if res[0].Outcome != socbot.OutcomeApplied {
		t.Fatalf("after the lock: %+v", res[0])
	}
}

func TestSessionExpiryReLoginsOnce(t *testing.T) {
	f, c, _ := env(t, fake.Options{})
	if res, _ := c.Apply(context.Background(), blocks("a.example")); res[0].Outcome != socbot.OutcomeApplied {
		t.Fatal(res[0])
	}
	f.ExpireSessions()
	if res, _ := c.Apply(context.Background(), blocks("b.example")); res[0].Outcome != socbot.OutcomeApplied {
		t.Fatal(res[0])
	}
	if st := f.Stats(); st.Logins != 2 || st.AuthFailures != 1 {
		t.Fatalf("after expiry: %+v, want 2 logins and the one refused call", st)
	}
}

func TestRateBucketHeader(t *testing.T) {
	f, c, clock := env(t, fake.Options{RateLimits: true})
	if res, _ := c.Apply(context.Background(), blocks("a.example")); res[0].Outcome != socbot.OutcomeFailed {
		// ADD and activate are two POSTs in the same second: the second is throttled.
		t.Fatalf("want the activation throttled by the 1 POST/s bucket, got %+v", res[0])
	} else if ve := conntest.VendorError(res, nil); ve == nil || ve.RetryAfter != time.Second || !ve.Retryable {
		t.Fatalf("429 from the bucket: %+v", ve)
	}
	clock.Advance(2 * time.Second)
	if res, _ := c.Apply(context.Background(), blocks("a.example")); res[0].Outcome != socbot.OutcomeAlreadyPresent || !f.Blocked(socbot.ActBlockDomain, "a.example") {
		t.Fatalf("after the delay: %+v", res[0])
	}
}

func TestObfuscate(t *testing.T) {
	// n = 678901, r = 339450: key[6..]=ghijab then key[d+2] = f f l g h c.
	if got := Obfuscate("abcdefghijklmnop", 1712345678901); got != "ghijabfflghc" {
		t.Fatalf("Obfuscate = %q", got)
	}
	if fake.Obfuscate("abcdefghijklmnop", "1712345678901") != "ghijabfflghc" {
		t.Fatal("fake disagrees")
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		k        socbot.ActionKind
		in, want string
	}{
		{socbot.ActBlockURL, "https://Bad.Example/Login#x", "bad.example/Login"},
		{socbot.ActBlockURL, "http://bad.example", "bad.example"},
		{socbot.ActBlockDomain, "Evil.Example", "evil.example"},
		{socbot.ActBlockIP, "203.0.113.7", "203.0.113.7"},
	} {
		got, err := normalize(socbot.ContainmentRequest{Kind: tc.k, Value: tc.in})
		if err != nil || got != tc.want {
			t.Errorf("normalize(%s %q) = %q, %v; want %q", tc.k, tc.in, got, err, tc.want)
		}
	}
	if _, err := normalize(socbot.ContainmentRequest{Kind: socbot.ActBlockIP, Value: "10.0.0.0/8"}); err == nil {
		t.Error("CIDR accepted")
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		`{"blacklistUrls":["evil.example","203.0.113.7"]}`,
		`{"id":"CUSTOM_01","configuredName":"SOC-Block","customCategory":true,"urls":["evil.example"]}`,
		`{"status":"ACTIVE"}`,
		`{"message":"Rate Limit (1/SECOND) exceeded","Retry-After":"0 seconds"}`,
		`{"code":"EDIT_LOCK_NOT_AVAILABLE","message":"edit lock"}`,
		`{"authType":"ADMIN_LOGIN","obfuscateApiKey":true,"passwordExpiryTime":0,"passwordExpiryDays":0,"source":"API"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseAdvanced(b)
		_, _ = parseCategory(b)
		_, _ = parseActivation(b)
		_, _ = parseError(b)
		if d := bodyRetryAfter(b); d < 0 {
			t.Fatalf("negative delay %v", d)
		}
	})
}
