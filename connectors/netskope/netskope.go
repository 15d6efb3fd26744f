// Package netskope is socbot's Netskope connector (REST API v2 URL lists, spec §4). It keeps one URL
// list (default name soc-block, created on first use), appends blocked URLs and domains with PATCH
// …/append, removes them by writing the filtered full list with PUT (the API has no remove action and
// no concurrency token, so writes to one list are serialized in the connector), and deploys once per
// batch: Netskope enforces nothing until POST /policy/urllist/deploy. Deploy applies every pending
// URL-list change of the tenant.
package netskope

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "netskope"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one Netskope tenant.
type Connector struct {
	http     *vendorhttp.Client
	base     string
	token    string
	listName string
	allowIP  bool

	mu     sync.Mutex // serializes read-modify-write of the list
	listID int
}

var _ socbot.Connector = (*Connector)(nil)

// New builds a Netskope connector. Credentials: api_token (Read+Write on the URL list endpoint).
// Options: list_name (soc-block), list_id (skip the lookup), allow_ip ("true": IP entries, a
// limited-availability feature).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "netskope.New"
	if cfg.BaseURL == "" {
		return nil, socbot.FieldError(op, "base_url", "required")
	}
	c := &Connector{http: vendorhttp.NewClient(Type, cfg, deps), base: vendorhttp.JoinURL(cfg.BaseURL, "/api/v2/policy/urllist"),
		token: cfg.Credentials["api_token"], listName: cfg.Options["list_name"], allowIP: cfg.Options["allow_ip"] == "true"}
	if c.token == "" {
		return nil, socbot.FieldError(op, "credentials.api_token", "required")
	}
	if c.listName == "" {
		c.listName = "soc-block"
	}
	if strings.ContainsAny(c.listName, `<>/!@#$%^&*(){};+=,?.|:'"`) {
		return nil, socbot.FieldError(op, "options.list_name", "characters Netskope refuses in %q", c.listName)
	}
	if v := cfg.Options["list_id"]; v != "" {
		id, err := strconv.Atoi(v)
		if err != nil {
			return nil, socbot.FieldError(op, "options.list_id", "not a number: %q", v)
		}
		c.listID = id
	}
	return c, nil
}

// Type returns "netskope".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActBlockDomain, socbot.ActUnblockDomain, socbot.ActBlockURL, socbot.ActUnblockURL:
		return true
	case socbot.ActBlockIP, socbot.ActUnblockIP:
		return c.allowIP
	}
	return false
}

// List is a Netskope URL list.
type List struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Data struct {
		URLs []string `json:"urls"`
		Type string   `json:"type"`
	} `json:"data"`
	Pending    int    `json:"pending"`
	ModifyType string `json:"modify_type"`
}

func parseList(b []byte) (List, error) {
	var l List
	return l, json.Unmarshal(b, &l)
}

func parseLists(b []byte) ([]List, error) {
	var l []List
	return l, json.Unmarshal(b, &l)
}

type apiError struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func parseError(b []byte) string {
	var e apiError
	_ = json.Unmarshal(b, &e)
	return e.Message
}

func (c *Connector) call(ctx context.Context, method, path string, body any) (*vendorhttp.Response, error) {
	req, err := vendorhttp.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, c.http.Errorf("request", err.Error())
	}
	req.Header.Set("Netskope-Api-Token", c.token)
	r, err := c.http.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if r.Status >= 300 {
		ve := c.http.StatusError(r, "", parseError(r.Body))
		if r.Status == http.StatusForbidden {
			ve.Auth = true // token scope or IP allowlist
		}
		return nil, ve
	}
	return r, nil
}

// normalize turns a value into a list entry: no scheme, lower-case host.
func (c *Connector) normalize(r socbot.ContainmentRequest) (string, error) {
	v := strings.TrimSpace(r.Value)
	switch r.Kind {
	case socbot.ActBlockIP, socbot.ActUnblockIP:
		if !c.allowIP {
			return "", vendorhttp.Unsupported(Type, r.Kind)
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", socbot.FieldError("netskope.Apply", "value", "not an IP address: %q", r.Value)
		}
		return a.String(), nil
	case socbot.ActBlockDomain, socbot.ActUnblockDomain, socbot.ActBlockURL, socbot.ActUnblockURL:
		low := strings.ToLower(v)
		for _, p := range []string{"https://", "http://"} {
			if strings.HasPrefix(low, p) {
				v = v[len(p):]
			}
		}
		if v == "" || strings.ContainsAny(v, " \t") {
			return "", socbot.FieldError("netskope.Apply", "value", "not a URL or domain: %q", r.Value)
		}
		if r.Kind == socbot.ActBlockDomain || r.Kind == socbot.ActUnblockDomain {
			if strings.ContainsAny(v, "/@") || !strings.Contains(v, ".") {
				return "", socbot.FieldError("netskope.Apply", "value", "not a domain: %q", r.Value)
			}
		}
		host, rest, ok := strings.Cut(v, "/")
		if ok {
			return strings.ToLower(host) + "/" + rest, nil
		}
		return strings.ToLower(v), nil
	}
	return "", vendorhttp.Unsupported(Type, r.Kind)
}

// current returns the list (pending copy), or nil when it does not exist yet.
func (c *Connector) current(ctx context.Context) (*List, error) {
	if c.listID == 0 {
		r, err := c.call(ctx, http.MethodGet, "?field=id,name", nil)
		if err != nil {
			return nil, err
		}
		lists, err := parseLists(r.Body)
		if err != nil {
			return nil, c.http.Errorf("malformed", "unreadable URL list index")
		}
		for _, l := range lists {
			if l.Name == c.listName {
				c.listID = l.ID
			}
		}
		if c.listID == 0 {
			return nil, nil
		}
	}
	r, err := c.call(ctx, http.MethodGet, "/"+strconv.Itoa(c.listID), nil)
	if err != nil {
		return nil, err
	}
	l, err := parseList(r.Body)
	if err != nil {
		return nil, c.http.Errorf("malformed", "unreadable URL list")
	}
	return &l, nil
}

// Apply reads the list once, writes it once (append, or a filtered PUT when anything is removed),
// and deploys once.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make([]socbot.ContainmentResult, len(reqs))
	entries := make([]string, len(reqs))
	var live []int
	for i, r := range reqs {
		e, err := c.normalize(r)
		if err != nil {
			res[i] = vendorhttp.Failed(err)
			continue
		}
		entries[i], live = e, append(live, i)
	}
	if len(live) == 0 {
		return res, nil
	}
	failAll := func(err error, idx []int) {
		for _, i := range idx {
			res[i] = vendorhttp.Failed(err)
		}
	}
	l, err := c.current(ctx)
	if err != nil {
		failAll(err, live)
		return res, nil
	}
	have := map[string]bool{}
	var urls []string
	pending := false
	if l != nil {
		urls, pending = l.Data.URLs, l.Pending != 0
		for _, u := range urls {
			have[strings.ToLower(u)] = true
		}
	}
	var adds, rems []string
	var changedIdx []int
	addSet, remSet := map[string]bool{}, map[string]bool{}
	for _, i := range live {
		e := strings.ToLower(entries[i])
		switch fwd := reqs[i].Kind.IsForward(); {
		case fwd && have[e]:
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: c.listName, Detail: "already in URL list " + c.listName}
		case fwd:
			if !addSet[e] {
				adds = append(adds, entries[i])
			}
			addSet[e] = true
			changedIdx = append(changedIdx, i)
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: c.listName, Detail: "added to URL list " + c.listName + " and deployed"}
		case have[e]:
			rems, remSet[e] = append(rems, e), true
			changedIdx = append(changedIdx, i)
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: c.listName, Detail: "removed from URL list " + c.listName + " and deployed"}
		default:
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "not in URL list " + c.listName}
		}
	}
	changed := len(changedIdx) > 0
	if changed {
		var err error
		switch {
		case l == nil:
			var r *vendorhttp.Response
			r, err = c.call(ctx, http.MethodPost, "", map[string]any{"name": c.listName, "data": map[string]any{"type": "exact", "urls": adds}})
			if err == nil {
				created, perr := parseLists(r.Body)
				if perr != nil || len(created) != 1 {
					err = c.http.Errorf("malformed", "list creation answered no list")
				} else {
					c.listID = created[0].ID
				}
			}
		case len(rems) == 0:
			_, err = c.call(ctx, http.MethodPatch, "/"+strconv.Itoa(l.ID)+"/append", map[string]any{"data": map[string]any{"type": "exact", "urls": adds}})
		default:
			full := []string{}
			for _, u := range urls {
				if !remSet[strings.ToLower(u)] {
					full = append(full, u)
				}
			}
			full = append(full, adds...)
			typ := l.Data.Type
			if typ == "" {
				typ = "exact"
			}
			_, err = c.call(ctx, http.MethodPut, "/"+strconv.Itoa(l.ID), map[string]any{"name": l.Name, "data": map[string]any{"type": typ, "urls": full}})
		}
		if err != nil {
			failAll(err, changedIdx)
			return res, nil
		}
	}
	if changed || pending {
		if _, err := c.call(ctx, http.MethodPost, "/deploy", map[string]any{}); err != nil {
			for _, i := range live {
				if res[i].Outcome != socbot.OutcomeFailed {
					res[i] = vendorhttp.Failed(err)
				}
			}
		}
	}
	return res, nil
}

// Plan reads the list and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	pending := false
	id := "(new list " + c.listName + ")"
	if l != nil {
		pending, id = l.Pending != 0, strconv.Itoa(l.ID)
		for _, u := range l.Data.URLs {
			have[strings.ToLower(u)] = true
		}
	}
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		e, err := c.normalize(r)
		present := err == nil && have[strings.ToLower(e)]
		switch {
		case err != nil:
			out[i].Change = vendorhttp.NoChange("refused: " + err.Error())
		case r.Kind.IsForward() == present && pending:
			out[i].Change = "POST /api/v2/policy/urllist/deploy (list " + id + " has undeployed changes)"
		case r.Kind.IsForward() && present:
			out[i].Change = vendorhttp.NoChange(e + " already in " + c.listName)
		case r.Kind.IsForward() && l == nil:
			out[i].Change = fmt.Sprintf("POST /api/v2/policy/urllist {\"name\":%q,\"data\":{\"type\":\"exact\",\"urls\":[%q]}}; POST /api/v2/policy/urllist/deploy", c.listName, e)
		case r.Kind.IsForward():
			out[i].Change = fmt.Sprintf("PATCH /api/v2/policy/urllist/%s/append [%q]; POST /api/v2/policy/urllist/deploy", id, e)
		case present:
			out[i].Change = fmt.Sprintf("PUT /api/v2/policy/urllist/%s (full list without %q); POST /api/v2/policy/urllist/deploy", id, e)
		default:
			out[i].Change = vendorhttp.NoChange(e + " not in " + c.listName)
		}
	}
	return out, nil
}
