// Package fortigate is socbot's Fortinet FortiGate connector (FortiOS REST API v2, spec §2). It blocks
// IPs, CIDRs and domains with address objects soc-blk-<value> appended to an address group through
// the group's member child table (no read-modify-write of the whole list), or, with ip_mode=banned,
// puts single IPs in the quarantine (banned IP) list with a native expiry. FortiOS applies CMDB
// writes at once: there is no commit step.
package fortigate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "fortigate"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one FortiGate VDOM.
type Connector struct {
	http           *vendorhttp.Client
	base           string
	token          string
	vdom           string
	ipMode         string
	group, group6  string
	maxBanDuration time.Duration
}

var _ socbot.Connector = (*Connector)(nil)

// New builds a FortiGate connector. Credentials: api_token. Options: vdom (root), ip_mode (address |
// banned, default address), group (soc-blocklist), group6 (soc-blocklist6).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "fortigate.New"
	if cfg.BaseURL == "" {
		return nil, socbot.FieldError(op, "base_url", "required")
	}
	c := &Connector{http: vendorhttp.NewClient(Type, cfg, deps), base: vendorhttp.JoinURL(cfg.BaseURL, "/api/v2/"),
		token: cfg.Credentials["api_token"], vdom: get(cfg, "vdom", "root"), ipMode: get(cfg, "ip_mode", "address"),
		group: get(cfg, "group", "soc-blocklist"), group6: get(cfg, "group6", "soc-blocklist6")}
	if c.token == "" {
		return nil, socbot.FieldError(op, "credentials.api_token", "required")
	}
	if c.ipMode != "address" && c.ipMode != "banned" {
		return nil, socbot.FieldError(op, "options.ip_mode", "want address or banned, got %q", c.ipMode)
	}
	return c, nil
}

func get(cfg socbot.ConnectorConfig, k, def string) string {
	if v := cfg.Options[k]; v != "" {
		return v
	}
	return def
}

// Type returns "fortigate".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActBlockIP, socbot.ActUnblockIP, socbot.ActBlockDomain, socbot.ActUnblockDomain:
		return true
	}
	return false
}

// envelope is the FortiOS answer (§2.1).
type envelope struct {
	Status     string          `json:"status"`
	HTTPStatus int             `json:"http_status"`
	Error      json.Number     `json:"error"`
	Mkey       json.RawMessage `json:"mkey"`
	Revision   string          `json:"revision"`
	Results    json.RawMessage `json:"results"`
	Size       int             `json:"size"`
	Matched    int             `json:"matched_count"`
}

type addrObject struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Subnet  string `json:"subnet"`
	FQDN    string `json:"fqdn"`
	IP6     string `json:"ip6"`
	Comment string `json:"comment"`
}

type bannedEntry struct {
	IP      string `json:"ip_address"`
	Expires int64  `json:"expires"`
}

// parseEnvelope decodes an answer; results stays raw.
func parseEnvelope(b []byte) (*envelope, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

func parseObjects(raw json.RawMessage) ([]addrObject, error) {
	var out []addrObject
	if len(raw) == 0 {
		return nil, nil
	}
	return out, json.Unmarshal(raw, &out)
}

func parseBanned(raw json.RawMessage) ([]bannedEntry, error) {
	var out []bannedEntry
	if len(raw) == 0 {
		return nil, nil
	}
	return out, json.Unmarshal(raw, &out)
}

// answer is a classified FortiOS answer.
type answer struct {
	status int
	code   int64 // negative CLI error, 0 if none
	env    *envelope
}

func (c *Connector) call(ctx context.Context, method, path string, body any) (*answer, error) {
	u := c.base + path
	if strings.Contains(u, "?") {
		u += "&vdom=" + url.QueryEscape(c.vdom)
	} else {
		u += "?vdom=" + url.QueryEscape(c.vdom)
	}
	req, err := vendorhttp.NewRequest(method, u, body)
	if err != nil {
		return nil, c.http.Errorf("request", err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	r, err := c.http.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	a := &answer{status: r.Status}
	a.env, _ = parseEnvelope(r.Body)
	if a.env != nil {
		a.code, _ = a.env.Error.Int64()
	}
	switch {
	case r.Status == http.StatusOK:
		if a.env == nil {
			return nil, c.http.Errorf("malformed", "unreadable JSON answer")
		}
		return a, nil
	case r.Status == http.StatusNotFound, r.Status == http.StatusInternalServerError && a.code < 0:
		return a, nil // the caller maps -3 and -5; others become errors there
	}
	code := ""
	if a.code != 0 {
		code = fmt.Sprint(a.code)
	}
	ve := c.http.StatusError(r, code, "")
	if r.Status == http.StatusForbidden {
		ve.Auth, ve.Msg = true, "forbidden: API profile permission or trusted host"
	}
	return nil, ve
}

func (c *Connector) cliError(a *answer, what string) error {
	return &socbot.VendorError{Connector: Type, Status: a.status, Code: fmt.Sprint(a.code), Msg: what + " failed with CLI error " + fmt.Sprint(a.code)}
}

// target is one request resolved to FortiOS terms.
type target struct {
	table, grpTable, group string
	name                   string
	obj                    map[string]any
	want                   string // subnet/fqdn/ip6 as FortiOS stores it
	banIP                  string
}

func (c *Connector) resolve(r socbot.ContainmentRequest) (target, error) {
	v := strings.TrimSpace(r.Value)
	t := target{name: ObjectName(v), table: "address", grpTable: "addrgrp", group: c.group}
	comment := r.Reference
	switch r.Kind {
	case socbot.ActBlockIP, socbot.ActUnblockIP:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return t, socbot.FieldError("fortigate.Apply", "value", "not an IP or CIDR: %q", r.Value)
			}
			p = netip.PrefixFrom(a, a.BitLen())
			if c.ipMode == "banned" {
				t.banIP = a.String()
				return t, nil
			}
		}
		p = p.Masked()
		if p.Addr().Is4() {
			mask := netipMask(p.Bits())
			t.want = p.Addr().String() + " " + mask
			t.obj = map[string]any{"name": t.name, "type": "ipmask", "subnet": t.want, "comment": comment}
		} else {
			t.table, t.grpTable, t.group = "address6", "addrgrp6", c.group6
			t.want = p.String()
			t.obj = map[string]any{"name": t.name, "type": "ipprefix", "ip6": t.want, "comment": comment}
		}
	case socbot.ActBlockDomain, socbot.ActUnblockDomain:
		if v == "" || strings.ContainsAny(v, "/:@ ") || !strings.Contains(v, ".") {
			return t, socbot.FieldError("fortigate.Apply", "value", "not a domain: %q", r.Value)
		}
		t.want = strings.ToLower(v)
		t.obj = map[string]any{"name": t.name, "type": "fqdn", "fqdn": t.want, "comment": comment}
	default:
		return t, vendorhttp.Unsupported(Type, r.Kind)
	}
	return t, nil
}

func netipMask(bits int) string {
	m := uint32(0)
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&255, m>>8&255, m&255)
}

// ObjectName is the owned object name soc-blk-<value> (FortiOS allows 79 characters); a "/" of a
// CIDR becomes "_" so that the name is one URL path segment.
func ObjectName(v string) string {
	n := "soc-blk-" + strings.ReplaceAll(strings.ToLower(strings.TrimSpace(v)), "/", "_")
	if len(n) > 79 {
		n = n[:79]
	}
	return n
}

// Apply carries out each request; FortiOS has no commit, so requests are independent.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	res := make([]socbot.ContainmentResult, len(reqs))
	for i, r := range reqs {
		t, err := c.resolve(r)
		if err != nil {
			res[i] = vendorhttp.Failed(err)
			continue
		}
		switch {
		case t.banIP != "" && r.Kind.IsForward():
			res[i] = c.ban(ctx, t.banIP, r.TTL)
		case t.banIP != "":
			res[i] = c.unban(ctx, t.banIP)
		case r.Kind.IsForward():
			res[i] = c.block(ctx, t)
		default:
			res[i] = c.unblock(ctx, t)
		}
	}
	return res, nil
}

func (c *Connector) block(ctx context.Context, t target) socbot.ContainmentResult {
	existed := false
	a, err := c.call(ctx, http.MethodPost, "cmdb/firewall/"+t.table, t.obj)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	switch {
	case a.status == http.StatusOK:
	case a.code == -5: // the object exists: it must be ours and say the same thing
		existed = true
		g, err := c.call(ctx, http.MethodGet, "cmdb/firewall/"+t.table+"/"+url.PathEscape(t.name), nil)
		if err != nil {
			return vendorhttp.Failed(err)
		}
		if g.status != http.StatusOK {
			return vendorhttp.Failed(c.cliError(g, "reading existing "+t.name))
		}
		objs, _ := parseObjects(g.env.Results)
		if len(objs) != 1 || !sameValue(objs[0], t.want) {
			return vendorhttp.Failed(&socbot.VendorError{Connector: Type, Code: "-5", Msg: t.name + " exists with a different address; not touching it"})
		}
	default:
		return vendorhttp.Failed(c.cliError(a, "creating "+t.name))
	}
	m, err := c.call(ctx, http.MethodPost, "cmdb/firewall/"+t.grpTable+"/"+url.PathEscape(t.group)+"/member", map[string]string{"name": t.name})
	if err != nil {
		return vendorhttp.Failed(err)
	}
	switch {
	case m.status == http.StatusOK:
		return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: t.name, Detail: "address object added to " + t.group}
	case m.code == -5:
		if existed {
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: t.name, Detail: t.name + " already in " + t.group}
		}
		return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: t.name, Detail: "address object added to " + t.group}
	default:
		return vendorhttp.Failed(c.cliError(m, "adding "+t.name+" to "+t.group))
	}
}

func sameValue(o addrObject, want string) bool {
	return strings.EqualFold(o.Subnet, want) || strings.EqualFold(o.FQDN, want) || strings.EqualFold(o.IP6, want)
}

func (c *Connector) unblock(ctx context.Context, t target) socbot.ContainmentResult {
	removed := false
	m, err := c.call(ctx, http.MethodDelete, "cmdb/firewall/"+t.grpTable+"/"+url.PathEscape(t.group)+"/member/"+url.PathEscape(t.name), nil)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	switch {
	case m.status == http.StatusOK:
		removed = true
	case m.status == http.StatusNotFound:
	default:
		return vendorhttp.Failed(c.cliError(m, "removing "+t.name+" from "+t.group))
	}
	a, err := c.call(ctx, http.MethodDelete, "cmdb/firewall/"+t.table+"/"+url.PathEscape(t.name), nil)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	switch {
	case a.status == http.StatusOK:
		removed = true
	case a.status == http.StatusNotFound:
	default:
		return vendorhttp.Failed(c.cliError(a, "deleting "+t.name+" (still referenced by a policy or another group?)"))
	}
	if !removed {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "no " + t.name}
	}
	return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: t.name, Detail: t.name + " removed"}
}

func (c *Connector) bannedList(ctx context.Context) (map[string]bool, error) {
	a, err := c.call(ctx, http.MethodGet, "monitor/user/banned", nil)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK {
		return nil, c.cliError(a, "listing banned IPs")
	}
	list, err := parseBanned(a.env.Results)
	if err != nil {
		return nil, c.http.Errorf("malformed", "unreadable banned list")
	}
	out := map[string]bool{}
	for _, e := range list {
		out[e.IP] = true
	}
	return out, nil
}

func (c *Connector) ban(ctx context.Context, ip string, ttl time.Duration) socbot.ContainmentResult {
	list, err := c.bannedList(ctx)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	if list[ip] {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: ip, Detail: "already banned"}
	}
	exp := int64(0)
	if ttl > 0 {
		exp = int64((ttl + time.Second - 1) / time.Second)
	}
	a, err := c.call(ctx, http.MethodPost, "monitor/user/banned/add_users", map[string]any{"ip_addresses": []string{ip}, "expiry": exp})
	if err != nil {
		return vendorhttp.Failed(err)
	}
	if a.status != http.StatusOK {
		return vendorhttp.Failed(c.cliError(a, "banning "+ip))
	}
	out := socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: ip, Detail: "banned (quarantine)"}
	if exp > 0 {
		out.ExpiresAt = vendorhttp.ExpiresAt(c.http.Clock.Now(), time.Duration(exp)*time.Second)
	}
	return out
}

func (c *Connector) unban(ctx context.Context, ip string) socbot.ContainmentResult {
	list, err := c.bannedList(ctx)
	if err != nil {
		return vendorhttp.Failed(err)
	}
	if !list[ip] {
		return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "not banned"}
	}
	a, err := c.call(ctx, http.MethodPost, "monitor/user/banned/clear_users", map[string]any{"ip_addresses": []string{ip}})
	if err != nil {
		return vendorhttp.Failed(err)
	}
	if a.status != http.StatusOK {
		return vendorhttp.Failed(c.cliError(a, "clearing "+ip))
	}
	return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: ip, Detail: "cleared from quarantine"}
}

// Plan reads the group members (or the banned list) and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	out := make([]socbot.PlannedChange, len(reqs))
	var banned map[string]bool
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		t, err := c.resolve(r)
		if err != nil {
			out[i].Change = vendorhttp.NoChange("refused: " + err.Error())
			continue
		}
		if t.banIP != "" {
			if banned == nil {
				if banned, err = c.bannedList(ctx); err != nil {
					return nil, err
				}
			}
			switch {
			case r.Kind.IsForward() && banned[t.banIP]:
				out[i].Change = vendorhttp.NoChange(t.banIP + " already banned")
			case r.Kind.IsForward():
				out[i].Change = fmt.Sprintf("POST /api/v2/monitor/user/banned/add_users {\"ip_addresses\":[%q],\"expiry\":%d}", t.banIP, int64(r.TTL/time.Second))
			case banned[t.banIP]:
				out[i].Change = fmt.Sprintf("POST /api/v2/monitor/user/banned/clear_users {\"ip_addresses\":[%q]}", t.banIP)
			default:
				out[i].Change = vendorhttp.NoChange(t.banIP + " not banned")
			}
			continue
		}
		m, err := c.call(ctx, http.MethodGet, "cmdb/firewall/"+t.grpTable+"/"+url.PathEscape(t.group)+"/member/"+url.PathEscape(t.name), nil)
		if err != nil {
			return nil, err
		}
		o, err := c.call(ctx, http.MethodGet, "cmdb/firewall/"+t.table+"/"+url.PathEscape(t.name), nil)
		if err != nil {
			return nil, err
		}
		member, object := m.status == http.StatusOK, o.status == http.StatusOK
		switch {
		case r.Kind.IsForward() && member:
			out[i].Change = vendorhttp.NoChange(t.name + " already in " + t.group)
		case r.Kind.IsForward():
			js, _ := json.Marshal(t.obj)
			out[i].Change = ""
			if !object {
				out[i].Change = "POST /api/v2/cmdb/firewall/" + t.table + " " + string(js) + "; "
			}
			out[i].Change += fmt.Sprintf("POST /api/v2/cmdb/firewall/%s/%s/member {\"name\":%q}", t.grpTable, t.group, t.name)
		case member || object:
			out[i].Change = fmt.Sprintf("DELETE /api/v2/cmdb/firewall/%s/%s/member/%s; DELETE /api/v2/cmdb/firewall/%s/%s", t.grpTable, t.group, t.name, t.table, t.name)
		default:
			out[i].Change = vendorhttp.NoChange("no " + t.name)
		}
	}
	return out, nil
}
