// Package fakes builds any vendor's fake server together with a matching connector configuration
// and a stream of distinct containment requests, so that the containment framework can run one
// benchmark or soak test across every vendor connector (for example with 30% injected faults) without
// knowing each vendor's credentials, seed data or value formats.
package fakes

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"

	awsfake "github.com/socbot/socbot/connectors/awsnfw/fake"
	waffake "github.com/socbot/socbot/connectors/awswaf/fake"
	csfake "github.com/socbot/socbot/connectors/crowdstrike/fake"
	fgtfake "github.com/socbot/socbot/connectors/fortigate/fake"
	mdefake "github.com/socbot/socbot/connectors/mde/fake"
	mcfake "github.com/socbot/socbot/connectors/mimecast/fake"
	graphfake "github.com/socbot/socbot/connectors/msgraph/fake"
	nskfake "github.com/socbot/socbot/connectors/netskope/fake"
	panfake "github.com/socbot/socbot/connectors/panos/fake"
	s1fake "github.com/socbot/socbot/connectors/sentinelone/fake"
	umbfake "github.com/socbot/socbot/connectors/umbrella/fake"
	ziafake "github.com/socbot/socbot/connectors/zscaler/fake"
)

// Fake is what every vendor fake offers.
type Fake interface {
	http.Handler
	Faults() *faults.Injector
	Blocked(kind socbot.ActionKind, value string) bool
	AuthFailures() int
	Writes() int
}

// Target is one vendor fake ready to serve.
type Target struct {
	Type string
	Fake Fake
	// Config returns a working connector configuration for the fake served at baseURL.
	Config func(baseURL string) socbot.ConnectorConfig
	// Request returns the i-th forward request (0 <= i < the n given to New); values are distinct.
	Request func(i int) socbot.ContainmentRequest
}

type builder func(clock socbot.Clock, n int, delay time.Duration) *Target

// Options tune the fakes for a benchmark.
type Options struct {
	Clock socbot.Clock // default: the system clock
	N     int          // distinct requests (hosts, users) to seed for
	// RetryAfter is the delay each fake's injected 429 asks for, in the vendor's own signal
	// (Retry-After, a body field, an epoch header, milliseconds). Zero keeps each fake's default
	// (2–10 s); a benchmark wants it small. AWS throttling carries no delay.
	RetryAfter time.Duration
}

var builders = map[string]builder{
	"panos":       panos,
	"fortigate":   fortigate,
	"zscaler":     zscaler,
	"netskope":    netskope,
	"umbrella":    umbrella,
	"msgraph":     msgraph,
	"mde":         mde,
	"crowdstrike": crowdstrike,
	"sentinelone": sentinelone,
	"mimecast":    mimecast,
	"awsnfw":      awsnfw,
	"awswaf":      awswaf,
}

// Types lists the vendor types with a fake.
func Types() []string {
	out := make([]string, 0, len(builders))
	for t := range builders {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// New builds the fake of a vendor type, seeded for n distinct requests (hosts, users).
func New(typ string, clock socbot.Clock, n int) (*Target, error) {
	return Build(typ, Options{Clock: clock, N: n})
}

// Build builds the fake of a vendor type with options.
func Build(typ string, o Options) (*Target, error) {
	b, ok := builders[typ]
	if !ok {
		return nil, socbot.E("fakes.Build", socbot.KindUnsupported, "no fake for connector type "+typ)
	}
	if o.Clock == nil {
		o.Clock = socbot.SystemClock{}
	}
	return b(o.Clock, o.N, o.RetryAfter), nil
}

// secs renders a delay as Retry-After seconds ("" keeps a fake's default).
func secs(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func ip(i int) string { return fmt.Sprintf("198.18.%d.%d", i/250, i%250+1) }

func domain(i int) string { return fmt.Sprintf("d%d.bench.example", i) }

func names(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

func cfg(typ, base string, creds, opts map[string]string) socbot.ConnectorConfig {
	return socbot.ConnectorConfig{ID: typ + "-bench", Type: typ, BaseURL: base, Credentials: creds, Options: opts}
}

func panos(clock socbot.Clock, n int, delay time.Duration) *Target {
	const key = "LUFRPT1-bench-key=="
	return &Target{Type: "panos", Fake: panfake.New(panfake.Options{Key: key, Clock: clock, RetryAfter: secs(delay)}),
		Config: func(b string) socbot.ConnectorConfig {
			return cfg("panos", b, map[string]string{"api_key": key}, map[string]string{"commit_poll_interval": "20ms"})
		},
		Request: func(i int) socbot.ContainmentRequest {
			if i%4 == 0 { // an address object: staged and committed
				return socbot.ContainmentRequest{Kind: socbot.ActBlockDomain, Value: domain(i), Reference: "soc:bench"}
			}
			return socbot.ContainmentRequest{Kind: socbot.ActBlockIP, Value: ip(i), Reference: "soc:bench"}
		}}
}

func fortigate(clock socbot.Clock, n int, delay time.Duration) *Target {
	const tok = "fgt-bench-token-0001"
	return &Target{Type: "fortigate", Fake: fgtfake.New(fgtfake.Options{Token: tok, Clock: clock, RetryAfter: secs(delay)}),
		Config: func(b string) socbot.ConnectorConfig {
			return cfg("fortigate", b, map[string]string{"api_token": tok}, nil)
		},
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActBlockIP, Value: ip(i)}
		}}
}

func zscaler(clock socbot.Clock, n int, delay time.Duration) *Target {
	creds := map[string]string{"api_key": "ZbenchKey0123456", "username": "bench@corp.example", "password": "zia-bench-pass"}
	return &Target{Type: "zscaler", Fake: ziafake.New(ziafake.Options{APIKey: creds["api_key"], Username: creds["username"], Password: creds["password"], Clock: clock, RetryAfterBody: bodyDelay(delay)}),
		Config: func(b string) socbot.ConnectorConfig { return cfg("zscaler", b, creds, nil) },
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActBlockDomain, Value: domain(i)}
		}}
}

func netskope(clock socbot.Clock, n int, delay time.Duration) *Target {
	const tok = "nsk-bench-token-0001"
	return &Target{Type: "netskope", Fake: nskfake.New(nskfake.Options{Token: tok, Lists: []string{"soc-block"}, Clock: clock, RetryAfter: secs(delay)}),
		Config: func(b string) socbot.ConnectorConfig {
			return cfg("netskope", b, map[string]string{"api_token": tok}, nil)
		},
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActBlockDomain, Value: domain(i)}
		}}
}

func umbrella(clock socbot.Clock, n int, delay time.Duration) *Target {
	creds := map[string]string{"api_key": "umb-bench-key", "api_secret": "umb-bench-secret"}
	return &Target{Type: "umbrella", Fake: umbfake.New(umbfake.Options{Key: creds["api_key"], Secret: creds["api_secret"], Lists: map[string]int{"soc-block": 1}, Clock: clock, RetryAfter: secs(delay)}),
		Config: func(b string) socbot.ConnectorConfig { return cfg("umbrella", b, creds, nil) },
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActBlockDomain, Value: domain(i)}
		}}
}

var msCreds = map[string]string{"tenant_id": "bench-tenant-0001", "client_id": "bench-client-0001", "client_secret": "bench~secret~0001"}

func msgraph(clock socbot.Clock, n int, delay time.Duration) *Target {
	users := names("u%d@corp.example", n)
	return &Target{Type: "msgraph",
		Fake: graphfake.New(graphfake.Options{Tenant: msCreds["tenant_id"], ClientID: msCreds["client_id"], ClientSecret: msCreds["client_secret"], Users: users, Clock: clock, RetryAfter: secs(delay)}),
		Config: func(b string) socbot.ConnectorConfig {
			return cfg("msgraph", b, msCreds, map[string]string{"login_url": b})
		},
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActDisableUser, Value: users[i]}
		}}
}

func mde(clock socbot.Clock, n int, delay time.Duration) *Target {
	hosts := names("host%d.corp.example", n)
	return &Target{Type: "mde",
		Fake: mdefake.New(mdefake.Options{Tenant: msCreds["tenant_id"], ClientID: msCreds["client_id"], ClientSecret: msCreds["client_secret"], Machines: hosts, Clock: clock, RetryAfter: secs(delay)}),
		Config: func(b string) socbot.ConnectorConfig {
			return cfg("mde", b, msCreds, map[string]string{"login_url": b})
		},
		Request: func(i int) socbot.ContainmentRequest {
			if i%2 == 0 {
				return socbot.ContainmentRequest{Kind: socbot.ActIsolateHost, Value: hosts[i], Reference: "soc:bench"}
			}
			return socbot.ContainmentRequest{Kind: socbot.ActBlockIP, Value: ip(i), Reference: "soc:bench"}
		}}
}

func crowdstrike(clock socbot.Clock, n int, delay time.Duration) *Target {
	creds := map[string]string{"client_id": "cs-bench-id", "client_secret": "cs-bench-secret"}
	hosts := names("host%d", n)
	return &Target{Type: "crowdstrike", Fake: csfake.New(csfake.Options{ClientID: creds["client_id"], ClientSecret: creds["client_secret"], Hosts: hosts, Clock: clock, RetryIn: delay}),
		Config: func(b string) socbot.ConnectorConfig { return cfg("crowdstrike", b, creds, nil) },
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActIsolateHost, Value: hosts[i]}
		}}
}

func sentinelone(clock socbot.Clock, n int, delay time.Duration) *Target {
	const tok = "s1-bench-token-0001"
	hosts := names("host%d", n)
	return &Target{Type: "sentinelone", Fake: s1fake.New(s1fake.Options{Token: tok, Agents: hosts, Clock: clock, RetryAfter: secs(delay)}),
		Config: func(b string) socbot.ConnectorConfig {
			return cfg("sentinelone", b, map[string]string{"api_token": tok}, nil)
		},
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActIsolateHost, Value: hosts[i]}
		}}
}

func mimecast(clock socbot.Clock, n int, delay time.Duration) *Target {
	creds := map[string]string{"client_id": "mc-bench-id", "client_secret": "mc-bench-secret"}
	return &Target{Type: "mimecast", Fake: mcfake.New(mcfake.Options{ClientID: creds["client_id"], ClientSecret: creds["client_secret"], Clock: clock, ResetMillis: millis(delay)}),
		Config: func(b string) socbot.ConnectorConfig { return cfg("mimecast", b, creds, nil) },
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActBlockSender, Value: fmt.Sprintf("s%d@evil.example", i), Reference: "soc:bench"}
		}}
}

func awsnfw(clock socbot.Clock, n int, delay time.Duration) *Target {
	creds := map[string]string{"access_key_id": "AKIABENCH000000000001", "secret_access_key": "benchSecretKey000000000000000000000000001"}
	return &Target{Type: "awsnfw",
		Fake: awsfake.New(awsfake.Options{AccessKey: creds["access_key_id"], SecretKey: creds["secret_access_key"], Region: "us-east-1", Capacity: 4*n + 16,
			Groups: map[string]string{"soc-deny-domains": "domains", "soc-deny-ips": "rules"}, Clock: clock}),
		Config: func(b string) socbot.ConnectorConfig {
			return cfg("awsnfw", b, creds, map[string]string{"region": "us-east-1"})
		},
		Request: func(i int) socbot.ContainmentRequest {
			if i%2 == 0 {
				return socbot.ContainmentRequest{Kind: socbot.ActBlockDomain, Value: domain(i)}
			}
			return socbot.ContainmentRequest{Kind: socbot.ActBlockIP, Value: ip(i)}
		}}
}

func awswaf(clock socbot.Clock, n int, delay time.Duration) *Target {
	creds := map[string]string{"access_key_id": "AKIABENCHWAF00000001", "secret_access_key": "benchWafSecret00000000000000000000000001"}
	const id = "bench-ipset-0001"
	return &Target{Type: "awswaf",
		Fake: waffake.New(waffake.Options{AccessKey: creds["access_key_id"], SecretKey: creds["secret_access_key"], Region: "us-east-1",
			IPSets: map[string]string{"soc-block": id}, Clock: clock}),
		Config: func(b string) socbot.ConnectorConfig {
			return cfg("awswaf", b, creds, map[string]string{"region": "us-east-1", "ipset_name": "soc-block", "ipset_id": id})
		},
		Request: func(i int) socbot.ContainmentRequest {
			return socbot.ContainmentRequest{Kind: socbot.ActBlockIP, Value: ip(i)}
		}}
}

func bodyDelay(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return secs(d) + " seconds"
}

func millis(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}
