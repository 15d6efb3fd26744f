// Package umbrella is socbot's Cisco Umbrella connector (Policies v2 destination lists, spec §5). It
// gets an OAuth2 client-credentials token (HTTP Basic key:secret), keeps one block destination list
// (default soc-block, created on first use), adds domains and URLs in POSTs of at most 500, and
// removes them by destination id (looked up by paging the list) with DELETE …/destinations/remove.
// Umbrella destination lists cannot block IP addresses (ipv4 is allow-only): route IPs elsewhere.
// No commit step; changes apply at once.
package umbrella

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "umbrella"

// maxPerCall is Umbrella's limit of destinations (or ids) per request.
const maxPerCall = 500

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one Umbrella organization.
type Connector struct {
	http     *vendorhttp.Client
	base     string
	tokens   *vendorhttp.TokenSource
	listName string
	bundle   int

	mu     sync.Mutex
	listID int
}

var _ socbot.Connector = (*Connector)(nil)

// New builds an Umbrella connector. Credentials: api_key, api_secret. Options: list_name
// (soc-block), list_id (skip the lookup), bundle_type (1 = DNS, default; 2 = Web), token_url
// (default base_url + /auth/v2/token).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "umbrella.New"
	if cfg.BaseURL == "" {
		return nil, socbot.FieldError(op, "base_url", "required")
	}
	key, secret := cfg.Credentials["api_key"], cfg.Credentials["api_secret"]
	if key == "" || secret == "" {
		return nil, socbot.FieldError(op, "credentials", "api_key and api_secret required")
	}
	hc := vendorhttp.NewClient(Type, cfg, deps)
	tokenURL := cfg.Options["token_url"]
	if tokenURL == "" {
		tokenURL = vendorhttp.JoinURL(cfg.BaseURL, "/auth/v2/token")
	}
	c := &Connector{http: hc, base: strings.TrimRight(cfg.BaseURL, "/"), listName: cfg.Options["list_name"], bundle: 1,
		tokens: &vendorhttp.TokenSource{Client: hc, URL: tokenURL, Form: url.Values{"grant_type": {"client_credentials"}}, BasicUser: key, BasicPass: secret}}
	if c.listName == "" {
		c.listName = "soc-block"
	}
	if v := cfg.Options["bundle_type"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 1 && n != 2) {
			return nil, socbot.FieldError(op, "options.bundle_type", "want 1 (DNS) or 2 (Web), got %q", v)
		}
		c.bundle = n
	}
	if v := cfg.Options["list_id"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, socbot.FieldError(op, "options.list_id", "not a number: %q", v)
		}
		c.listID = n
	}
	return c, nil
}

// Type returns "umbrella".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out: domains and URLs (not IPs).
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActBlockDomain, socbot.ActUnblockDomain, socbot.ActBlockURL, socbot.ActUnblockURL:
		return true
	}
	return false
}

// flexInt reads an id sent as a number or a string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	*f = flexInt(n)
	return err
}

type listObj struct {
	ID     flexInt `json:"id"`
	Name   string  `json:"name"`
	Access string  `json:"access"`
}

type destObj struct {
	ID          flexInt `json:"id"`
	Destination string  `json:"destination"`
	Type        string  `json:"type"`
	Comment     string  `json:"comment"`
}

type page[T any] struct {
	Status struct {
		Code int    `json:"code"`
		Text string `json:"text"`
	} `json:"status"`
	Meta struct {
		Page  int `json:"page"`
		Limit int `json:"limit"`
		Total int `json:"total"`
	} `json:"meta"`
	Data  T      `json:"data"`
	Error string `json:"error"`
}

func parseDestinations(b []byte) (page[[]destObj], error) {
	var p page[[]destObj]
	return p, json.Unmarshal(b, &p)
}

func parseLists(b []byte) (page[[]listObj], error) {
	var p page[[]listObj]
	return p, json.Unmarshal(b, &p)
}

func parseList(b []byte) (page[listObj], error) {
	var p page[listObj]
	return p, json.Unmarshal(b, &p)
}

type errBody struct {
	Error  string `json:"error"`
	Status struct {
		Text string `json:"text"`
	} `json:"status"`
}

func (c *Connector) call(ctx context.Context, method, path string, body any) (*vendorhttp.Response, error) {
	r, err := c.tokens.DoBearer(ctx, func() (*http.Request, error) { return vendorhttp.NewRequest(method, c.base+path, body) })
	if err != nil {
		return nil, err
	}
	if r.Status >= 300 {
		var e errBody
		_ = json.Unmarshal(r.Body, &e)
		ve := c.http.StatusError(r, "", strings.TrimSpace(e.Status.Text+" "+e.Error))
		if r.Status == http.StatusForbidden {
			ve.Auth = true
		}
		return nil, ve
	}
	return r, nil
}

func normalize(r socbot.ContainmentRequest) (string, error) {
	v := strings.TrimSpace(r.Value)
	low := strings.ToLower(v)
	for _, p := range []string{"https://", "http://"} {
		if strings.HasPrefix(low, p) {
			v = v[len(p):]
		}
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return "", socbot.FieldError("umbrella.Apply", "value", "Umbrella destination lists cannot block IP addresses (%q): use a firewall connector", r.Value)
	}
	switch r.Kind {
	case socbot.ActBlockDomain, socbot.ActUnblockDomain:
		if v == "" || strings.ContainsAny(v, "/:@ ") || !strings.Contains(v, ".") {
			return "", socbot.FieldError("umbrella.Apply", "value", "not a domain: %q", r.Value)
		}
		return strings.ToLower(v), nil
	case socbot.ActBlockURL, socbot.ActUnblockURL:
		host, rest, ok := strings.Cut(v, "/")
		if host == "" || strings.ContainsAny(v, " \t") {
			return "", socbot.FieldError("umbrella.Apply", "value", "not a URL: %q", r.Value)
		}
		if !ok {
			return strings.ToLower(host), nil
		}
		return strings.ToLower(host) + "/" + rest, nil
	}
	return "", vendorhttp.Unsupported(Type, r.Kind)
}

// list finds (or, when create is set, creates) the destination list; 0 means it does not exist.
func (c *Connector) list(ctx context.Context, create bool) (int, error) {
	if c.listID != 0 {
		return c.listID, nil
	}
	for p := 1; ; p++ {
		r, err := c.call(ctx, http.MethodGet, fmt.Sprintf("/policies/v2/destinationlists?page=%d&limit=100", p), nil)
		if err != nil {
			return 0, err
		}
		pg, err := parseLists(r.Body)
		if err != nil {
			return 0, c.http.Errorf("malformed", "unreadable destination lists")
		}
		for _, l := range pg.Data {
			if l.Name == c.listName && l.Access == "block" {
				c.listID = int(l.ID)
				return c.listID, nil
			}
		}
		if len(pg.Data) < 100 {
			break
		}
	}
	if !create {
		return 0, nil
	}
	r, err := c.call(ctx, http.MethodPost, "/policies/v2/destinationlists",
		map[string]any{"access": "block", "isGlobal": false, "name": c.listName, "bundleTypeId": c.bundle, "destinations": []any{}})
	if err != nil {
		return 0, err
	}
	l, err := parseList(r.Body)
	if err != nil || l.Data.ID == 0 {
		return 0, c.http.Errorf("malformed", "list creation answered no id")
	}
	c.listID = int(l.Data.ID)
	return c.listID, nil
}

// destinations returns destination -> id for the whole list.
func (c *Connector) destinations(ctx context.Context, id int) (map[string]int64, error) {
	out := map[string]int64{}
	if id == 0 {
		return out, nil
	}
	for p := 1; ; p++ {
		r, err := c.call(ctx, http.MethodGet, fmt.Sprintf("/policies/v2/destinationlists/%d/destinations?page=%d&limit=100", id, p), nil)
		if err != nil {
			return nil, err
		}
		pg, err := parseDestinations(r.Body)
		if err != nil {
			return nil, c.http.Errorf("malformed", "unreadable destinations")
		}
		for _, d := range pg.Data {
			out[strings.ToLower(d.Destination)] = int64(d.ID)
		}
		if len(pg.Data) < 100 {
			return out, nil
		}
	}
}

// Apply reads the list once, then posts the additions and removes the removals in chunks of 500.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make([]socbot.ContainmentResult, len(reqs))
	entries := make([]string, len(reqs))
	var live []int
	anyAdd := false
	for i, r := range reqs {
		e, err := normalize(r)
		if err != nil {
			res[i] = vendorhttp.Failed(err)
			continue
		}
		entries[i], live = e, append(live, i)
		anyAdd = anyAdd || r.Kind.IsForward()
	}
	if len(live) == 0 {
		return res, nil
	}
	failIdx := func(err error, idx []int) {
		for _, i := range idx {
			res[i] = vendorhttp.Failed(err)
		}
	}
	id, err := c.list(ctx, anyAdd)
	if err != nil {
		failIdx(err, live)
		return res, nil
	}
	have, err := c.destinations(ctx, id)
	if err != nil {
		failIdx(err, live)
		return res, nil
	}
	type add struct {
		Destination string `json:"destination"`
		Comment     string `json:"comment,omitempty"`
	}
	var adds []add
	var addIdx, remIdx []int
	var remIDs []int64
	seen := map[string]bool{}
	for _, i := range live {
		e := entries[i]
		did, present := have[strings.ToLower(e)]
		switch fwd := reqs[i].Kind.IsForward(); {
		case fwd && present:
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: strconv.FormatInt(did, 10), Detail: "already in destination list " + c.listName}
		case fwd:
			if !seen[e] {
				adds = append(adds, add{Destination: e, Comment: reqs[i].Reference})
			}
			seen[e] = true
			addIdx = append(addIdx, i)
		case present:
			if !seen[e] {
				remIDs = append(remIDs, did)
			}
			seen[e] = true
			remIdx = append(remIdx, i)
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: strconv.FormatInt(did, 10), Detail: "removed from destination list " + c.listName}
		default:
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "not in destination list " + c.listName}
		}
	}
	for start := 0; start < len(adds); start += maxPerCall {
		chunk := adds[start:min(start+maxPerCall, len(adds))]
		if _, err := c.call(ctx, http.MethodPost, fmt.Sprintf("/policies/v2/destinationlists/%d/destinations", id), chunk); err != nil {
			in := map[string]bool{}
			for _, a := range chunk {
				in[a.Destination] = true
			}
			for _, i := range addIdx {
				if in[entries[i]] {
					res[i] = vendorhttp.Failed(err)
				}
			}
			continue
		}
		in := map[string]bool{}
		for _, a := range chunk {
			in[a.Destination] = true
		}
		for _, i := range addIdx {
			if in[entries[i]] {
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: c.listName, Detail: "added to destination list " + c.listName}
			}
		}
	}
	for start := 0; start < len(remIDs); start += maxPerCall {
		chunk := remIDs[start:min(start+maxPerCall, len(remIDs))]
		if _, err := c.call(ctx, http.MethodDelete, fmt.Sprintf("/policies/v2/destinationlists/%d/destinations/remove", id), chunk); err != nil {
			in := map[int64]bool{}
			for _, d := range chunk {
				in[d] = true
			}
			for _, i := range remIdx {
				if in[have[strings.ToLower(entries[i])]] {
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
	id, err := c.list(ctx, false)
	if err != nil {
		return nil, err
	}
	have, err := c.destinations(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		e, err := normalize(r)
		did, present := have[strings.ToLower(e)]
		switch {
		case err != nil:
			out[i].Change = vendorhttp.NoChange("refused: " + err.Error())
		case r.Kind.IsForward() && present:
			out[i].Change = vendorhttp.NoChange(e + " already in " + c.listName)
		case r.Kind.IsForward() && id == 0:
			out[i].Change = fmt.Sprintf("POST /policies/v2/destinationlists {\"name\":%q,\"access\":\"block\"}; POST …/destinations [{\"destination\":%q}]", c.listName, e)
		case r.Kind.IsForward():
			out[i].Change = fmt.Sprintf("POST /policies/v2/destinationlists/%d/destinations [{\"destination\":%q}]", id, e)
		case present:
			out[i].Change = fmt.Sprintf("DELETE /policies/v2/destinationlists/%d/destinations/remove [%d]", id, did)
		default:
			out[i].Change = vendorhttp.NoChange(e + " not in " + c.listName)
		}
	}
	return out, nil
}
