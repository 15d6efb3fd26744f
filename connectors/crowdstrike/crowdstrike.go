// Package crowdstrike is socbot's CrowdStrike Falcon connector (spec §9.2). It gets an OAuth2 token
// (POST /oauth2/token answers 201), resolves a host by agent id or hostname, reads its containment
// status first (a repeat contain is not reliably idempotent), then contains it or lifts containment
// with the devices-actions endpoint, checking the per-id errors a 2xx can carry. Falcon's 429 carries
// X-RateLimit-RetryAfter as an epoch-seconds timestamp, turned into a delay here. The spec lists no
// IOC management endpoints, so this connector only isolates hosts.
package crowdstrike

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "crowdstrike"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one Falcon cloud (CID).
type Connector struct {
	http   *vendorhttp.Client
	base   string
	tokens *vendorhttp.TokenSource
}

var _ socbot.Connector = (*Connector)(nil)

// New builds a Falcon connector. base_url defaults to https://api.crowdstrike.com (US-1).
// Credentials: client_id, client_secret (scopes Hosts: Read and Write).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	id, secret := cfg.Credentials["client_id"], cfg.Credentials["client_secret"]
	if id == "" || secret == "" {
		return nil, socbot.FieldError("crowdstrike.New", "credentials", "client_id and client_secret required")
	}
	base := cfg.BaseURL
	if base == "" {
		base = "https://api.crowdstrike.com"
	}
	hc := vendorhttp.NewClient(Type, cfg, deps)
	hc.RetryAfterFrom = RetryAfter
	return &Connector{http: hc, base: strings.TrimRight(base, "/"),
		tokens: &vendorhttp.TokenSource{Client: hc, URL: vendorhttp.JoinURL(base, "/oauth2/token"), Form: url.Values{"client_id": {id}, "client_secret": {secret}}}}, nil
}

// RetryAfter reads X-RateLimit-RetryAfter, an epoch-seconds timestamp, as a delay from now; it falls
// back to a standard Retry-After.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("X-RateLimit-RetryAfter")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if d := time.Unix(n, 0).Sub(now); d > 0 {
				return d
			}
			return 0
		}
	}
	return vendorhttp.ParseRetryAfter(h.Get("Retry-After"), now)
}

// Type returns "crowdstrike".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	return k == socbot.ActIsolateHost || k == socbot.ActReleaseHost
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type envelope struct {
	Meta      json.RawMessage `json:"meta"`
	Resources json.RawMessage `json:"resources"`
	Errors    []apiError      `json:"errors"`
}

type deviceState struct {
	DeviceID string `json:"device_id"`
	Hostname string `json:"hostname"`
	Status   string `json:"status"`
}

func parseEnvelope(b []byte) (envelope, error) {
	var e envelope
	return e, json.Unmarshal(b, &e)
}

func parseIDs(raw json.RawMessage) ([]string, error) {
	var ids []string
	return ids, json.Unmarshal(raw, &ids)
}

func parseStates(raw json.RawMessage) ([]deviceState, error) {
	var s []deviceState
	return s, json.Unmarshal(raw, &s)
}

func (e envelope) message() string {
	var parts []string
	for _, x := range e.Errors {
		parts = append(parts, fmt.Sprintf("%d %s", x.Code, x.Message))
	}
	return strings.Join(parts, "; ")
}

// call sends a request and decodes the envelope; HTTP errors become VendorErrors.
func (c *Connector) call(ctx context.Context, method, path string, body any) (envelope, int, error) {
	r, err := c.tokens.DoBearer(ctx, func() (*http.Request, error) { return vendorhttp.NewRequest(method, c.base+path, body) })
	if err != nil {
		return envelope{}, 0, err
	}
	env, perr := parseEnvelope(r.Body)
	if r.Status >= 300 {
		code := ""
		if len(env.Errors) > 0 {
			code = strconv.Itoa(env.Errors[0].Code)
		}
		ve := c.http.StatusError(r, code, env.message())
		if r.Status == http.StatusForbidden {
			ve.Auth = true // API client lacks the Hosts scope
		}
		return env, r.Status, ve
	}
	if perr != nil {
		return env, r.Status, c.http.Errorf("malformed", "unreadable Falcon answer")
	}
	return env, r.Status, nil
}

var reAID = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

func (c *Connector) aid(ctx context.Context, v string) (string, error) {
	v = strings.TrimSpace(v)
	if reAID.MatchString(v) {
		return strings.ToLower(v), nil
	}
	if v == "" || strings.ContainsAny(v, "'\" ") {
		return "", socbot.FieldError("crowdstrike.Apply", "value", "not an agent id or hostname: %q", v)
	}
	env, _, err := c.call(ctx, http.MethodGet, "/devices/queries/devices/v1?"+url.Values{"filter": {"hostname:'" + v + "'"}}.Encode(), nil)
	if err != nil {
		return "", err
	}
	ids, err := parseIDs(env.Resources)
	if err != nil {
		return "", c.http.Errorf("malformed", "unreadable device query")
	}
	switch len(ids) {
	case 0:
		return "", &socbot.VendorError{Connector: Type, Status: 404, Msg: "no host named " + v}
	case 1:
		return ids[0], nil
	}
	return "", &socbot.VendorError{Connector: Type, Code: "ambiguous", Msg: fmt.Sprintf("%d hosts named %s; give the agent id", len(ids), v)}
}

func (c *Connector) status(ctx context.Context, aid string) (string, error) {
	env, _, err := c.call(ctx, http.MethodPost, "/devices/entities/devices/v2", map[string][]string{"ids": {aid}})
	if err != nil {
		return "", err
	}
	st, err := parseStates(env.Resources)
	if err != nil {
		return "", c.http.Errorf("malformed", "unreadable device state")
	}
	for _, s := range st {
		if s.DeviceID == aid {
			return s.Status, nil
		}
	}
	return "", &socbot.VendorError{Connector: Type, Status: 404, Msg: "device " + aid + " not found: " + env.message()}
}

func contained(status string) bool { return status == "contained" || status == "containment_pending" }

func (c *Connector) apply(ctx context.Context, r socbot.ContainmentRequest) socbot.ContainmentResult {
	if !c.Supports(r.Kind) {
		return vendorhttp.Failed(vendorhttp.Unsupported(Type, r.Kind))
	}
	aid, err := c.aid(ctx, r.Value)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	st, err := c.status(ctx, aid)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	isolate := r.Kind == socbot.ActIsolateHost
	switch {
	case isolate && contained(st):
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: aid, Detail: "host already " + st}
	case !isolate && !contained(st):
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, VendorRef: aid, Detail: "host " + st}
	}
	action := "contain"
	if !isolate {
		action = "lift_containment"
	}
	env, status, err := c.call(ctx, http.MethodPost, "/devices/entities/devices-actions/v2?action_name="+action, map[string][]string{"ids": {aid}})
	if err != nil {
		if status == http.StatusConflict { // [U] duplicate contain answered as a conflict
			if isolate {
				return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: aid, Detail: env.message()}
			}
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, VendorRef: aid, Detail: env.message()}
		}
		return vendorhttp.Failed(err)
	}
	var ok bool
	var res []struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(env.Resources, &res)
	for _, x := range res {
		ok = ok || x.ID == aid
	}
	if !ok {
		for _, e := range env.Errors {
			if e.Code == http.StatusConflict {
				if isolate {
					return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: aid, Detail: e.Message}
				}
				return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, VendorRef: aid, Detail: e.Message}
			}
		}
		return vendorhttp.Failed(&socbot.VendorError{Connector: Type, Status: status, Msg: c.http.Redact(action + " not accepted for " + aid + ": " + env.message())})
	}
	if isolate {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: aid, Detail: "containment requested"}
	}
	return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: aid, Detail: "containment lift requested"}
}

// Apply carries out each request in turn.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	res := make([]socbot.ContainmentResult, len(reqs))
	for i, r := range reqs {
		res[i] = c.apply(ctx, r)
	}
	return res, nil
}

// Plan reads each host's status and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		if !c.Supports(r.Kind) {
			out[i].Change = vendorhttp.NoChange("refused: " + vendorhttp.Unsupported(Type, r.Kind).Error())
			continue
		}
		aid, err := c.aid(ctx, r.Value)
		if err != nil {
			out[i].Change = vendorhttp.NoChange("refused: " + err.Error())
			continue
		}
		st, err := c.status(ctx, aid)
		if err != nil {
			return nil, err
		}
		switch isolate := r.Kind == socbot.ActIsolateHost; {
		case isolate && contained(st):
			out[i].Change = vendorhttp.NoChange("host already " + st)
		case isolate:
			out[i].Change = `POST /devices/entities/devices-actions/v2?action_name=contain {"ids":["` + aid + `"]}`
		case contained(st):
			out[i].Change = `POST /devices/entities/devices-actions/v2?action_name=lift_containment {"ids":["` + aid + `"]}`
		default:
			out[i].Change = vendorhttp.NoChange("host " + st)
		}
	}
	return out, nil
}
