// Package mimecast is socbot's Mimecast connector (API 2.0, spec §7). It blocks a sender
// organisation-wide with a Blocked Senders policy (persisting the policy id; unblock uses the [U]
// delete-policy endpoint, behind the option sender_unblock) and blocks URLs with TTP URL Protection
// managed URLs (delete by id). Mimecast answers HTTP 200 with failures in fail[], so every answer's
// fail[] is read; 429 carries X-RateLimit-Reset in milliseconds. Only policies and URLs whose
// description or comment starts with "socbot" are ever removed.
package mimecast

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "mimecast"

// marker starts the description/comment of everything socbot creates.
const marker = "socbot"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one Mimecast account.
type Connector struct {
	http          *vendorhttp.Client
	base          string
	tokens        *vendorhttp.TokenSource
	senderUnblock bool
}

var _ socbot.Connector = (*Connector)(nil)

// New builds a Mimecast connector. base_url defaults to https://api.services.mimecast.com.
// Credentials: client_id, client_secret. Options: sender_unblock ("false" turns off unblock_sender,
// which relies on the unverified delete-policy endpoint; default "true").
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	id, secret := cfg.Credentials["client_id"], cfg.Credentials["client_secret"]
	if id == "" || secret == "" {
		return nil, socbot.FieldError("mimecast.New", "credentials", "client_id and client_secret required")
	}
	base := cfg.BaseURL
	if base == "" {
		base = "https://api.services.mimecast.com"
	}
	hc := vendorhttp.NewClient(Type, cfg, deps)
	hc.RetryAfterFrom = RetryAfter
	return &Connector{http: hc, base: strings.TrimRight(base, "/"), senderUnblock: cfg.Options["sender_unblock"] != "false",
		tokens: &vendorhttp.TokenSource{Client: hc, URL: vendorhttp.JoinURL(base, "/oauth/token"),
			Form: url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}}}, nil
}

// RetryAfter reads X-RateLimit-Reset (milliseconds until one more call is allowed).
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	return vendorhttp.ParseRetryAfter(h.Get("Retry-After"), now)
}

// Type returns "mimecast".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActBlockSender, socbot.ActBlockURL, socbot.ActUnblockURL:
		return true
	case socbot.ActUnblockSender:
		return c.senderUnblock
	}
	return false
}

type failure struct {
	Key    json.RawMessage `json:"key"`
	Errors []struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"errors"`
}

type envelope struct {
	Meta struct {
		Status     int `json:"status"`
		Pagination struct {
			Next string `json:"next"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []json.RawMessage `json:"data"`
	Fail []failure         `json:"fail"`
}

type policyItem struct {
	ID     string `json:"id"`
	Option string `json:"option"`
	Policy struct {
		Description string `json:"description"`
		FromType    string `json:"fromType"`
		FromValue   string `json:"fromValue"`
	} `json:"policy"`
}

type urlItem struct {
	ID      string `json:"id"`
	Domain  string `json:"domain"`
	Path    string `json:"path"`
	Query   string `json:"queryString"`
	Action  string `json:"action"`
	Comment string `json:"comment"`
}

func parseEnvelope(b []byte) (envelope, error) {
	var e envelope
	return e, json.Unmarshal(b, &e)
}

func parseItems[T any](raw []json.RawMessage) []T {
	out := make([]T, 0, len(raw))
	for _, r := range raw {
		var v T
		if json.Unmarshal(r, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}

// failError turns the first fail[] entry into a VendorError.
func (c *Connector) failError(f failure) *socbot.VendorError {
	ve := &socbot.VendorError{Connector: Type, Code: "fail"}
	if len(f.Errors) > 0 {
		ve.Code, ve.Msg, ve.Retryable = f.Errors[0].Code, c.http.Redact(f.Errors[0].Message), f.Errors[0].Retryable
	}
	return ve
}

// call POSTs {"data": data} and returns the envelope; HTTP errors become VendorErrors, fail[] is
// left to the caller.
func (c *Connector) call(ctx context.Context, path string, data []any) (envelope, error) {
	r, err := c.tokens.DoBearer(ctx, func() (*http.Request, error) {
		return vendorhttp.NewRequest(http.MethodPost, c.base+path, map[string]any{"data": data})
	})
	if err != nil {
		return envelope{}, err
	}
	env, perr := parseEnvelope(r.Body)
	if r.Status >= 300 {
		code, msg := "", ""
		if perr == nil && len(env.Fail) > 0 && len(env.Fail[0].Errors) > 0 {
			code, msg = env.Fail[0].Errors[0].Code, env.Fail[0].Errors[0].Message
		}
		ve := c.http.StatusError(r, code, msg)
		if r.Status == http.StatusForbidden {
			ve.Auth = true
		}
		return env, ve
	}
	if perr != nil {
		return env, c.http.Errorf("malformed", "unreadable Mimecast envelope")
	}
	return env, nil
}

func senderOf(v string) (fromType, value string, err error) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case strings.Count(v, "@") == 1 && !strings.HasPrefix(v, "@") && !strings.HasSuffix(v, "@") && !strings.ContainsAny(v, " ,;"):
		return "individual_email_address", v, nil
	case !strings.Contains(v, "@") && strings.Contains(v, ".") && !strings.ContainsAny(v, " ,;/"):
		return "email_domain", v, nil
	}
	return "", "", socbot.FieldError("mimecast.Apply", "value", "not an e-mail address or domain: %q", v)
}

// ourPolicies lists the socbot block_sender policies for value.
func (c *Connector) ourPolicies(ctx context.Context, value string) ([]policyItem, error) {
	env, err := c.call(ctx, "/api/policy/blockedsenders/get-policy", []any{})
	if err != nil {
		return nil, err
	}
	if len(env.Fail) > 0 {
		return nil, c.failError(env.Fail[0])
	}
	var out []policyItem
	for _, p := range parseItems[policyItem](env.Data) {
		if p.Option == "block_sender" && strings.EqualFold(p.Policy.FromValue, value) && strings.HasPrefix(p.Policy.Description, marker) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (c *Connector) sender(ctx context.Context, r socbot.ContainmentRequest) socbot.ContainmentResult {
	fromType, value, err := senderOf(r.Value)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	have, err := c.ourPolicies(ctx, value)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	if r.Kind == socbot.ActBlockSender {
		if len(have) > 0 {
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: have[0].ID, Detail: "blocked-sender policy exists"}
		}
		env, err := c.call(ctx, "/api/policy/blockedsenders/create-policy", []any{map[string]any{"option": "block_sender",
			"policy": map[string]any{"description": strings.TrimSpace(marker + " " + r.Reference), "fromPart": "envelope_from", "fromType": fromType, "fromValue": value, "toType": "everyone"}}})
		if err != nil {
			return vendorhttp.Failed(err)
		}
		if len(env.Fail) > 0 {
			return vendorhttp.Failed(c.failError(env.Fail[0]))
		}
		items := parseItems[policyItem](env.Data)
		if len(items) == 0 {
			return vendorhttp.Failed(c.http.Errorf("malformed", "create-policy answered no policy"))
		}
		return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: items[0].ID, Detail: "blocked-sender policy created"}
	}
	if !c.senderUnblock {
		return vendorhttp.Failed(vendorhttp.Unsupported(Type, r.Kind))
	}
	if len(have) == 0 {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "no socbot blocked-sender policy"}
	}
	var ids []any
	for _, p := range have {
		ids = append(ids, map[string]string{"id": p.ID})
	}
	env, err := c.call(ctx, "/api/policy/blockedsenders/delete-policy", ids)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	for _, f := range env.Fail {
		if len(f.Errors) == 0 || !strings.Contains(f.Errors[0].Code, "not_found") {
			return vendorhttp.Failed(c.failError(f))
		}
	}
	return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, Detail: fmt.Sprintf("%d blocked-sender policy(ies) deleted", len(have))}
}

func urlOf(v string) (*url.URL, error) {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Hostname() == "" || strings.ContainsAny(v, " \t") {
		return nil, socbot.FieldError("mimecast.Apply", "value", "not a URL: %q", v)
	}
	u.Fragment, u.RawFragment = "", "" // Mimecast refuses #fragments
	return u, nil
}

// managed finds block entries for u; ours tells which carry the socbot marker.
func (c *Connector) managed(ctx context.Context, u *url.URL) (all, ours []urlItem, err error) {
	env, err := c.call(ctx, "/api/ttp/url/get-all-managed-urls", []any{map[string]any{"domainOrUrl": u.String(), "exactMatch": true}})
	if err != nil {
		return nil, nil, err
	}
	if len(env.Fail) > 0 {
		return nil, nil, c.failError(env.Fail[0])
	}
	for _, m := range parseItems[urlItem](env.Data) {
		if strings.EqualFold(m.Domain, u.Hostname()) && m.Path == u.Path && m.Query == u.RawQuery && m.Action == "block" {
			all = append(all, m)
			if strings.HasPrefix(m.Comment, marker) {
				ours = append(ours, m)
			}
		}
	}
	return all, ours, nil
}

func (c *Connector) blockURL(ctx context.Context, r socbot.ContainmentRequest) socbot.ContainmentResult {
	u, err := urlOf(r.Value)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	all, ours, err := c.managed(ctx, u)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	if r.Kind == socbot.ActBlockURL {
		if len(all) > 0 {
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: all[0].ID, Detail: "managed URL already blocks it"}
		}
		env, err := c.call(ctx, "/api/ttp/url/create-managed-url", []any{map[string]any{"url": u.String(), "action": "block", "matchType": "explicit",
			"comment": strings.TrimSpace(marker + " " + r.Reference), "disableLogClick": false, "disableRewrite": false, "disableUserAwareness": false}})
		if err != nil {
			return vendorhttp.Failed(err)
		}
		for _, f := range env.Fail {
			if len(f.Errors) > 0 && f.Errors[0].Code == "err_managed_url_exists" { // [U] duplicate signal
				return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, Detail: "managed URL already exists"}
			}
			return vendorhttp.Failed(c.failError(f))
		}
		items := parseItems[urlItem](env.Data)
		if len(items) == 0 {
			return vendorhttp.Failed(c.http.Errorf("malformed", "create-managed-url answered no entry"))
		}
		return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: items[0].ID, Detail: "managed URL (block) created"}
	}
	if len(ours) == 0 {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "no socbot managed URL"}
	}
	var ids []any
	for _, m := range ours {
		ids = append(ids, map[string]string{"id": m.ID})
	}
	env, err := c.call(ctx, "/api/ttp/url/delete-managed-url", ids)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	for _, f := range env.Fail {
		if len(f.Errors) == 0 || !strings.Contains(f.Errors[0].Code, "not_found") {
			return vendorhttp.Failed(c.failError(f))
		}
	}
	return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, Detail: fmt.Sprintf("%d managed URL(s) deleted", len(ours))}
}

// Apply carries out each request in turn.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	res := make([]socbot.ContainmentResult, len(reqs))
	for i, r := range reqs {
		switch {
		case !c.Supports(r.Kind):
			res[i] = vendorhttp.Failed(vendorhttp.Unsupported(Type, r.Kind))
		case r.Kind == socbot.ActBlockSender || r.Kind == socbot.ActUnblockSender:
			res[i] = c.sender(ctx, r)
		default:
			res[i] = c.blockURL(ctx, r)
		}
	}
	return res, nil
}

// Plan reads the policies and managed URLs and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		ch := &out[i].Change
		switch {
		case !c.Supports(r.Kind):
			*ch = vendorhttp.NoChange("refused: " + vendorhttp.Unsupported(Type, r.Kind).Error())
		case r.Kind == socbot.ActBlockSender || r.Kind == socbot.ActUnblockSender:
			fromType, value, err := senderOf(r.Value)
			if err != nil {
				*ch = vendorhttp.NoChange("refused: " + err.Error())
				continue
			}
			have, err := c.ourPolicies(ctx, value)
			if err != nil {
				return nil, err
			}
			switch {
			case r.Kind == socbot.ActBlockSender && len(have) > 0:
				*ch = vendorhttp.NoChange("blocked-sender policy exists")
			case r.Kind == socbot.ActBlockSender:
				*ch = fmt.Sprintf("POST /api/policy/blockedsenders/create-policy {option:block_sender, fromType:%s, fromValue:%s, toType:everyone}", fromType, value)
			case len(have) > 0:
				*ch = fmt.Sprintf("POST /api/policy/blockedsenders/delete-policy for %d policy(ies)", len(have))
			default:
				*ch = vendorhttp.NoChange("no socbot blocked-sender policy")
			}
		default:
			u, err := urlOf(r.Value)
			if err != nil {
				*ch = vendorhttp.NoChange("refused: " + err.Error())
				continue
			}
			all, ours, err := c.managed(ctx, u)
			if err != nil {
				return nil, err
			}
			switch {
			case r.Kind == socbot.ActBlockURL && len(all) > 0:
				*ch = vendorhttp.NoChange("managed URL already blocks it")
			case r.Kind == socbot.ActBlockURL:
				*ch = fmt.Sprintf("POST /api/ttp/url/create-managed-url {url:%s, action:block, matchType:explicit}", u)
			case len(ours) > 0:
				*ch = fmt.Sprintf("POST /api/ttp/url/delete-managed-url for %d entry(ies)", len(ours))
			default:
				*ch = vendorhttp.NoChange("no socbot managed URL")
			}
		}
	}
	return out, nil
}
