// Package sentinelone is socbot's SentinelOne connector (management API v2.1, spec §9.3). It
// isolates a host by disconnecting its agent from the network and releases it by reconnecting it,
// reading networkStatus first. An empty SentinelOne filter acts on every agent of the account, so
// every action filter is built by Filter, which refuses anything but a non-empty list of explicit
// agent ids, and a hostname that matches more than one agent is refused too.
package sentinelone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "sentinelone"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one SentinelOne management console.
type Connector struct {
	http  *vendorhttp.Client
	base  string
	token string
}

var _ socbot.Connector = (*Connector)(nil)

// New builds a SentinelOne connector. base_url: https://<tenant>.sentinelone.net. Credentials:
// api_token (a service user's API token).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "sentinelone.New"
	if cfg.BaseURL == "" {
		return nil, socbot.FieldError(op, "base_url", "required")
	}
	c := &Connector{http: vendorhttp.NewClient(Type, cfg, deps), base: vendorhttp.JoinURL(cfg.BaseURL, "/web/api/v2.1"), token: cfg.Credentials["api_token"]}
	if c.token == "" {
		return nil, socbot.FieldError(op, "credentials.api_token", "required")
	}
	return c, nil
}

// Type returns "sentinelone".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	return k == socbot.ActIsolateHost || k == socbot.ActReleaseHost
}

var reAgentID = regexp.MustCompile(`^[0-9]{6,24}$`)

// Filter builds the action filter for explicit agent ids. It refuses an empty list or any empty or
// malformed id, because SentinelOne applies an action with an empty filter to every agent.
func Filter(ids []string) (map[string]any, error) {
	if len(ids) == 0 {
		return nil, socbot.FieldError("sentinelone.Filter", "filter.ids", "refusing an action without agent ids: an empty filter acts on every agent")
	}
	for _, id := range ids {
		if !reAgentID.MatchString(id) {
			return nil, socbot.FieldError("sentinelone.Filter", "filter.ids", "refusing agent id %q", id)
		}
	}
	return map[string]any{"ids": ids}, nil
}

type apiError struct {
	Errors []struct {
		Code   int    `json:"code"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

type agent struct {
	ID            string `json:"id"`
	ComputerName  string `json:"computerName"`
	NetworkStatus string `json:"networkStatus"`
}

type agentPage struct {
	Data       []agent `json:"data"`
	Pagination struct {
		NextCursor *string `json:"nextCursor"`
		TotalItems int     `json:"totalItems"`
	} `json:"pagination"`
}

type affected struct {
	Data struct {
		Affected int `json:"affected"`
	} `json:"data"`
}

func parseAgents(b []byte) (agentPage, error) {
	var p agentPage
	return p, json.Unmarshal(b, &p)
}

func parseAffected(b []byte) (affected, error) {
	var a affected
	return a, json.Unmarshal(b, &a)
}

func parseError(b []byte) (string, string) {
	var e apiError
	if json.Unmarshal(b, &e) != nil || len(e.Errors) == 0 {
		return "", ""
	}
	return fmt.Sprint(e.Errors[0].Code), strings.TrimSpace(e.Errors[0].Title + ": " + e.Errors[0].Detail)
}

func (c *Connector) call(ctx context.Context, method, path string, body any) (*vendorhttp.Response, error) {
	req, err := vendorhttp.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, c.http.Errorf("request", err.Error())
	}
	req.Header.Set("Authorization", "ApiToken "+c.token)
	r, err := c.http.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if r.Status >= 300 {
		code, msg := parseError(r.Body)
		ve := c.http.StatusError(r, code, msg)
		if r.Status == http.StatusForbidden {
			ve.Auth = true
		}
		return nil, ve
	}
	return r, nil
}

// agent resolves an agent id or a computer name to exactly one agent.
func (c *Connector) agent(ctx context.Context, v string) (agent, error) {
	v = strings.TrimSpace(v)
	q := url.Values{"limit": {"10"}}
	if reAgentID.MatchString(v) {
		q.Set("ids", v)
	} else if v != "" && !strings.ContainsAny(v, ", ") {
		q.Set("computerName", v)
	} else {
		return agent{}, socbot.FieldError("sentinelone.Apply", "value", "not an agent id or computer name: %q", v)
	}
	r, err := c.call(ctx, http.MethodGet, "/agents?"+q.Encode(), nil)
	if err != nil {
		return agent{}, err
	}
	p, err := parseAgents(r.Body)
	if err != nil {
		return agent{}, c.http.Errorf("malformed", "unreadable agent list")
	}
	switch len(p.Data) {
	case 0:
		return agent{}, &socbot.VendorError{Connector: Type, Status: 404, Msg: "no agent " + v}
	case 1:
		return p.Data[0], nil
	}
	return agent{}, &socbot.VendorError{Connector: Type, Code: "ambiguous", Msg: fmt.Sprintf("%d agents match %s; refusing to act on more than one, give the agent id", len(p.Data), v)}
}

func disconnected(st string) bool { return st == "disconnected" || st == "disconnecting" }

func (c *Connector) apply(ctx context.Context, r socbot.ContainmentRequest) socbot.ContainmentResult {
	if !c.Supports(r.Kind) {
		return vendorhttp.Failed(vendorhttp.Unsupported(Type, r.Kind))
	}
	a, err := c.agent(ctx, r.Value)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	isolate := r.Kind == socbot.ActIsolateHost
	switch {
	case isolate && disconnected(a.NetworkStatus):
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: a.ID, Detail: "agent already " + a.NetworkStatus}
	case !isolate && !disconnected(a.NetworkStatus):
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, VendorRef: a.ID, Detail: "agent " + a.NetworkStatus}
	}
	filter, err := Filter([]string{a.ID})
	if err != nil {
		return vendorhttp.Failed(err)
	}
	action := "disconnect"
	if !isolate {
		action = "connect"
	}
	resp, err := c.call(ctx, http.MethodPost, "/agents/actions/"+action, map[string]any{"filter": filter, "data": map[string]any{}})
	if err != nil {
		return vendorhttp.Failed(err)
	}
	n, err := parseAffected(resp.Body)
	if err != nil {
		return vendorhttp.Failed(c.http.Errorf("malformed", "unreadable action answer"))
	}
	if n.Data.Affected == 0 { // [U] a repeat answers affected 0: confirm through networkStatus
		again, err := c.agent(ctx, a.ID)
		if err != nil {
			return vendorhttp.Failed(err)
		}
		if disconnected(again.NetworkStatus) == isolate {
			if isolate {
				return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: a.ID, Detail: "agent " + again.NetworkStatus}
			}
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, VendorRef: a.ID, Detail: "agent " + again.NetworkStatus}
		}
		return vendorhttp.Failed(&socbot.VendorError{Connector: Type, Code: "affected-0", Msg: action + " affected no agent; status " + again.NetworkStatus, Retryable: true})
	}
	if isolate {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: a.ID, Detail: "network disconnect requested"}
	}
	return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: a.ID, Detail: "network reconnect requested"}
}

// Apply carries out each request in turn, one agent per action.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	res := make([]socbot.ContainmentResult, len(reqs))
	for i, r := range reqs {
		res[i] = c.apply(ctx, r)
	}
	return res, nil
}

// Plan reads each agent's networkStatus and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		if !c.Supports(r.Kind) {
			out[i].Change = vendorhttp.NoChange("refused: " + vendorhttp.Unsupported(Type, r.Kind).Error())
			continue
		}
		a, err := c.agent(ctx, r.Value)
		if err != nil {
			out[i].Change = vendorhttp.NoChange("refused: " + err.Error())
			continue
		}
		switch isolate := r.Kind == socbot.ActIsolateHost; {
		case isolate && disconnected(a.NetworkStatus):
			out[i].Change = vendorhttp.NoChange("agent already " + a.NetworkStatus)
		case isolate:
			out[i].Change = `POST /web/api/v2.1/agents/actions/disconnect {"filter":{"ids":["` + a.ID + `"]},"data":{}}`
		case disconnected(a.NetworkStatus):
			out[i].Change = `POST /web/api/v2.1/agents/actions/connect {"filter":{"ids":["` + a.ID + `"]},"data":{}}`
		default:
			out[i].Change = vendorhttp.NoChange("agent " + a.NetworkStatus)
		}
	}
	return out, nil
}
