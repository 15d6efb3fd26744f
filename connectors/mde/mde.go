// Package mde is socbot's Microsoft Defender for Endpoint connector (spec §6.6, §9.1). It isolates a
// machine (found by id or computerDnsName) and releases it, reading the machine's isolation actions
// first because repeated calls are not idempotent and a duplicate can leave a stuck action; and it
// blocks IPs, domains and URLs on endpoints with indicators (submit-or-update) whose expirationTime
// carries the block's TTL natively. Unblock deletes only indicators socbot created.
package mde

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "mde"

// marker starts the description of every indicator socbot creates (ownership).
const marker = "socbot block"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one MDE tenant.
type Connector struct {
	http          *vendorhttp.Client
	base          string
	tokens        *vendorhttp.TokenSource
	isolationType string
	severity      string
}

var _ socbot.Connector = (*Connector)(nil)

// New builds an MDE connector. base_url defaults to https://api.securitycenter.microsoft.com.
// Credentials: tenant_id, client_id, client_secret. Options: login_url, isolation_type (Full |
// Selective, default Full), severity (High).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "mde.New"
	tenant, id, secret := cfg.Credentials["tenant_id"], cfg.Credentials["client_id"], cfg.Credentials["client_secret"]
	if tenant == "" || id == "" || secret == "" {
		return nil, socbot.FieldError(op, "credentials", "tenant_id, client_id and client_secret required")
	}
	base := cfg.BaseURL
	if base == "" {
		base = "https://api.securitycenter.microsoft.com"
	}
	login := cfg.Options["login_url"]
	if login == "" {
		login = "https://login.microsoftonline.com"
	}
	c := &Connector{isolationType: "Full", severity: "High", base: strings.TrimRight(base, "/")}
	c.http = vendorhttp.NewClient(Type, cfg, deps)
	c.tokens = vendorhttp.MicrosoftTokenSource(c.http, login, tenant, id, secret, "https://api.securitycenter.microsoft.com/.default")
	if v := cfg.Options["isolation_type"]; v != "" {
		if v != "Full" && v != "Selective" {
			return nil, socbot.FieldError(op, "options.isolation_type", "want Full or Selective, got %q", v)
		}
		c.isolationType = v
	}
	if v := cfg.Options["severity"]; v != "" {
		c.severity = v
	}
	return c, nil
}

// Type returns "mde".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActIsolateHost, socbot.ActReleaseHost, socbot.ActBlockIP, socbot.ActUnblockIP,
		socbot.ActBlockDomain, socbot.ActUnblockDomain, socbot.ActBlockURL, socbot.ActUnblockURL:
		return true
	}
	return false
}

type mdeError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseError(b []byte) (string, string) {
	var e mdeError
	_ = json.Unmarshal(b, &e)
	return e.Error.Code, e.Error.Message
}

// MachineAction is an MDE machine action.
type MachineAction struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	MachineID string `json:"machineId"`
	Created   string `json:"creationDateTimeUtc"`
}

type indicator struct {
	ID          string `json:"id"`
	Value       string `json:"indicatorValue"`
	Type        string `json:"indicatorType"`
	Action      string `json:"action"`
	Description string `json:"description"`
	Expiration  string `json:"expirationTime"`
}

type list[T any] struct {
	Value []T `json:"value"`
}

func parseActions(b []byte) ([]MachineAction, error) {
	var l list[MachineAction]
	return l.Value, json.Unmarshal(b, &l)
}

func parseAction(b []byte) (MachineAction, error) {
	var a MachineAction
	return a, json.Unmarshal(b, &a)
}

func parseIndicators(b []byte) ([]indicator, error) {
	var l list[indicator]
	return l.Value, json.Unmarshal(b, &l)
}

func parseMachines(b []byte) ([]struct{ ID string }, error) {
	var l list[struct {
		ID string `json:"id"`
	}]
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	out := make([]struct{ ID string }, len(l.Value))
	for i, v := range l.Value {
		out[i].ID = v.ID
	}
	return out, nil
}

// call sends a request; a 400 and a 404 come back as answers for the caller to map.
func (c *Connector) call(ctx context.Context, method, path string, body any) (*vendorhttp.Response, error) {
	r, err := c.tokens.DoBearer(ctx, func() (*http.Request, error) { return vendorhttp.NewRequest(method, c.base+path, body) })
	if err != nil {
		return nil, err
	}
	if r.Status >= 300 && r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
		code, msg := parseError(r.Body)
		ve := c.http.StatusError(r, code, msg)
		if r.Status == http.StatusForbidden {
			ve.Auth = true // missing application permission (Machine.Isolate, Ti.ReadWrite.All)
		}
		return nil, ve
	}
	return r, nil
}

func (c *Connector) answerError(r *vendorhttp.Response) error {
	code, msg := parseError(r.Body)
	return &socbot.VendorError{Connector: Type, Status: r.Status, Code: code, Msg: c.http.Redact(msg)}
}

var reMachineID = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// machineID resolves an id or a computerDnsName.
func (c *Connector) machineID(ctx context.Context, v string) (string, error) {
	v = strings.TrimSpace(v)
	if reMachineID.MatchString(v) {
		return strings.ToLower(v), nil
	}
	if v == "" || strings.ContainsAny(v, "' /") {
		return "", socbot.FieldError("mde.Apply", "value", "not a machine id or DNS name: %q", v)
	}
	r, err := c.call(ctx, http.MethodGet, "/api/machines?"+url.Values{"$filter": {"computerDnsName eq '" + v + "'"}}.Encode(), nil)
	if err != nil {
		return "", err
	}
	if r.Status != http.StatusOK {
		return "", c.answerError(r)
	}
	ms, err := parseMachines(r.Body)
	if err != nil {
		return "", c.http.Errorf("malformed", "unreadable machine list")
	}
	switch len(ms) {
	case 0:
		return "", &socbot.VendorError{Connector: Type, Status: 404, Code: "ResourceNotFound", Msg: "no machine named " + v}
	case 1:
		return ms[0].ID, nil
	}
	return "", &socbot.VendorError{Connector: Type, Code: "Ambiguous", Msg: fmt.Sprintf("%d machines named %s; give the machine id", len(ms), v)}
}

// isolation returns the latest live Isolate/Unisolate action of the machine (nil if none).
func (c *Connector) isolation(ctx context.Context, id string) (*MachineAction, error) {
	r, err := c.call(ctx, http.MethodGet, "/api/machineactions?"+url.Values{"$filter": {"machineId eq '" + id + "'"}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusOK {
		return nil, c.answerError(r)
	}
	acts, err := parseActions(r.Body)
	if err != nil {
		return nil, c.http.Errorf("malformed", "unreadable machine actions")
	}
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].Created < acts[j].Created })
	var last *MachineAction
	for i, a := range acts {
		switch a.Status {
		case "Failed", "Cancelled", "TimeOut":
			continue
		}
		if a.Type == "Isolate" || a.Type == "Unisolate" {
			last = &acts[i]
		}
	}
	return last, nil
}

func (c *Connector) host(ctx context.Context, r socbot.ContainmentRequest) socbot.ContainmentResult {
	id, err := c.machineID(ctx, r.Value)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	last, err := c.isolation(ctx, id)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	isolate := r.Kind == socbot.ActIsolateHost
	isolated := last != nil && last.Type == "Isolate"
	if isolate && isolated {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: last.ID, Detail: "isolation already " + strings.ToLower(last.Status)}
	}
	if !isolate && !isolated {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "machine not isolated"}
	}
	comment := r.Reference
	if comment == "" {
		comment = "soc:"
	}
	path, body := "/api/machines/"+id+"/isolate", map[string]string{"Comment": comment, "IsolationType": c.isolationType}
	if !isolate {
		path, body = "/api/machines/"+id+"/unisolate", map[string]string{"Comment": comment + " release"}
	}
	a, err := c.call(ctx, http.MethodPost, path, body)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	if a.Status != http.StatusCreated && a.Status != http.StatusOK {
		code, msg := parseError(a.Body)
		if strings.Contains(strings.ToLower(msg), "already in progress") {
			if isolate {
				return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, Detail: msg}
			}
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: msg}
		}
		return vendorhttp.Failed(&socbot.VendorError{Connector: Type, Status: a.Status, Code: code, Msg: c.http.Redact(msg)})
	}
	act, _ := parseAction(a.Body)
	if isolate {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: act.ID, Detail: "isolation requested (" + c.isolationType + "), action " + act.Status}
	}
	return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: act.ID, Detail: "release requested, action " + act.Status}
}

func indicatorOf(r socbot.ContainmentRequest) (value, typ string, err error) {
	v := strings.TrimSpace(r.Value)
	switch r.Kind {
	case socbot.ActBlockIP, socbot.ActUnblockIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", "", socbot.FieldError("mde.Apply", "value", "not a single IP address (MDE indicators take no CIDR): %q", r.Value)
		}
		return a.String(), "IpAddress", nil
	case socbot.ActBlockDomain, socbot.ActUnblockDomain:
		if v == "" || strings.ContainsAny(v, "/:@ '") || !strings.Contains(v, ".") {
			return "", "", socbot.FieldError("mde.Apply", "value", "not a domain: %q", r.Value)
		}
		return strings.ToLower(v), "DomainName", nil
	case socbot.ActBlockURL, socbot.ActUnblockURL:
		if v == "" || strings.ContainsAny(v, " '") {
			return "", "", socbot.FieldError("mde.Apply", "value", "not a URL: %q", r.Value)
		}
		return v, "Url", nil
	}
	return "", "", vendorhttp.Unsupported(Type, r.Kind)
}

func (c *Connector) indicators(ctx context.Context, value string) ([]indicator, error) {
	r, err := c.call(ctx, http.MethodGet, "/api/indicators?"+url.Values{"$filter": {"indicatorValue eq '" + value + "'"}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusOK {
		return nil, c.answerError(r)
	}
	l, err := parseIndicators(r.Body)
	if err != nil {
		return nil, c.http.Errorf("malformed", "unreadable indicator list")
	}
	return l, nil
}

func (c *Connector) indicator(ctx context.Context, r socbot.ContainmentRequest) socbot.ContainmentResult {
	value, typ, err := indicatorOf(r)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	have, err := c.indicators(ctx, value)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	now := c.http.Clock.Now()
	if r.Kind.IsForward() {
		var exp *time.Time
		if r.TTL > 0 {
			t := now.Add(r.TTL).UTC().Truncate(time.Second)
			exp = &t
		}
		for _, in := range have {
			if in.Type != typ || in.Action != "Block" {
				continue
			}
			// Present. Extend a shorter native expiry; never shorten one.
			cur, perr := time.Parse(time.RFC3339, in.Expiration)
			if exp == nil || in.Expiration == "" || perr != nil || !cur.Before(*exp) {
				out := socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: in.ID, Detail: "indicator already blocks " + value}
				if perr == nil && in.Expiration != "" {
					out.ExpiresAt = &cur
				}
				return out
			}
			res := c.post(ctx, r, value, typ, exp)
			if res.Outcome == socbot.OutcomeApplied {
				res.Outcome, res.Detail = socbot.OutcomeAlreadyPresent, "indicator already blocks "+value+"; expiry extended"
			}
			return res
		}
		return c.post(ctx, r, value, typ, exp)
	}
	removed := 0
	for _, in := range have {
		if in.Type != typ || !strings.HasPrefix(in.Description, marker) {
			continue // not ours
		}
		d, err := c.call(ctx, http.MethodDelete, "/api/indicators/"+url.PathEscape(in.ID), nil)
		if err != nil {
			return vendorhttp.Failed(err)
		}
		if d.Status == http.StatusBadRequest {
			return vendorhttp.Failed(c.answerError(d))
		}
		if d.Status != http.StatusNotFound {
			removed++
		}
	}
	if removed == 0 {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "no socbot indicator for " + value}
	}
	return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, Detail: fmt.Sprintf("%d indicator(s) deleted", removed)}
}

func (c *Connector) body(r socbot.ContainmentRequest, value, typ string, exp *time.Time) map[string]any {
	title := r.Reference
	if title == "" {
		title = "soc-blk-" + value
	}
	b := map[string]any{"indicatorValue": value, "indicatorType": typ, "action": "Block", "title": title,
		"description": marker + " soc-blk-" + value, "severity": c.severity, "generateAlert": true, "rbacGroupNames": []string{}}
	if exp != nil {
		b["expirationTime"] = exp.Format(time.RFC3339)
	}
	return b
}

func (c *Connector) post(ctx context.Context, r socbot.ContainmentRequest, value, typ string, exp *time.Time) socbot.ContainmentResult {
	a, err := c.call(ctx, http.MethodPost, "/api/indicators", c.body(r, value, typ, exp))
	if err != nil {
		return vendorhttp.Failed(err)
	}
	if a.Status != http.StatusOK && a.Status != http.StatusCreated {
		return vendorhttp.Failed(c.answerError(a))
	}
	var in indicator
	_ = json.Unmarshal(a.Body, &in)
	return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: in.ID, ExpiresAt: exp, Detail: "indicator " + typ + " Block"}
}

// Apply carries out each request in turn (MDE has no batch commit).
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	res := make([]socbot.ContainmentResult, len(reqs))
	for i, r := range reqs {
		switch r.Kind {
		case socbot.ActIsolateHost, socbot.ActReleaseHost:
			res[i] = c.host(ctx, r)
		default:
			res[i] = c.indicator(ctx, r)
		}
	}
	return res, nil
}

// Plan reads machine actions and indicators and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		ch := &out[i].Change
		switch r.Kind {
		case socbot.ActIsolateHost, socbot.ActReleaseHost:
			id, err := c.machineID(ctx, r.Value)
			if err != nil {
				*ch = vendorhttp.NoChange("refused: " + err.Error())
				continue
			}
			last, err := c.isolation(ctx, id)
			if err != nil {
				return nil, err
			}
			isolated := last != nil && last.Type == "Isolate"
			switch {
			case r.Kind == socbot.ActIsolateHost && isolated:
				*ch = vendorhttp.NoChange("machine already isolated")
			case r.Kind == socbot.ActIsolateHost:
				*ch = fmt.Sprintf("POST /api/machines/%s/isolate {\"IsolationType\":%q}", id, c.isolationType)
			case isolated:
				*ch = "POST /api/machines/" + id + "/unisolate"
			default:
				*ch = vendorhttp.NoChange("machine not isolated")
			}
		default:
			value, typ, err := indicatorOf(r)
			if err != nil {
				*ch = vendorhttp.NoChange("refused: " + err.Error())
				continue
			}
			have, err := c.indicators(ctx, value)
			if err != nil {
				return nil, err
			}
			present, ours := false, 0
			for _, in := range have {
				if in.Type == typ && in.Action == "Block" {
					present = true
				}
				if in.Type == typ && strings.HasPrefix(in.Description, marker) {
					ours++
				}
			}
			switch {
			case r.Kind.IsForward() && present:
				*ch = vendorhttp.NoChange("an indicator already blocks " + value)
			case r.Kind.IsForward():
				var exp *time.Time
				if r.TTL > 0 {
					t := c.http.Clock.Now().Add(r.TTL).UTC().Truncate(time.Second)
					exp = &t
				}
				js, _ := json.Marshal(c.body(r, value, typ, exp))
				*ch = "POST /api/indicators " + string(js)
			case ours > 0:
				*ch = fmt.Sprintf("DELETE /api/indicators/{id} for %d socbot indicator(s) of %s", ours, value)
			default:
				*ch = vendorhttp.NoChange("no socbot indicator for " + value)
			}
		}
	}
	return out, nil
}
