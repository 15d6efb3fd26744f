// Package zscaler is socbot's Zscaler Internet Access (ZIA) connector (spec §3). It logs in with the
// legacy session API (obfuscated API key, JSESSIONID cookie, one re-login when the session expires),
// adds and removes hosts, URLs and IPs on the Advanced Threat Protection denylist, or on a custom URL
// category when category_id is set, and activates the saved changes once per batch: ZIA enforces
// nothing until POST /status/activate. 409 EDIT_LOCK_NOT_AVAILABLE and 429 are retryable; the 429
// delay comes from the Retry-After header, else from the body.
package zscaler

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "zscaler"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one ZIA cloud tenant.
type Connector struct {
	http                       *vendorhttp.Client
	base                       string
	apiKey, username, password string
	category                   string

	mu      sync.Mutex
	session string
}

var _ socbot.Connector = (*Connector)(nil)

// New builds a ZIA connector. Credentials: api_key, username, password. Options: category_id (a
// custom URL category to edit instead of the ATP denylist).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "zscaler.New"
	if cfg.BaseURL == "" {
		return nil, socbot.FieldError(op, "base_url", "required")
	}
	c := &Connector{http: vendorhttp.NewClient(Type, cfg, deps), base: strings.TrimRight(cfg.BaseURL, "/"),
		apiKey: cfg.Credentials["api_key"], username: cfg.Credentials["username"], password: cfg.Credentials["password"],
		category: cfg.Options["category_id"]}
	if len(c.apiKey) < 12 {
		return nil, socbot.FieldError(op, "credentials.api_key", "required, at least 12 characters")
	}
	if c.username == "" || c.password == "" {
		return nil, socbot.FieldError(op, "credentials", "username and password required")
	}
	return c, nil
}

// Type returns "zscaler".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActBlockIP, socbot.ActUnblockIP, socbot.ActBlockDomain, socbot.ActUnblockDomain, socbot.ActBlockURL, socbot.ActUnblockURL:
		return true
	}
	return false
}

// Obfuscate is the ZIA API key obfuscation (§3.1); ts is milliseconds since the epoch.
func Obfuscate(apiKey string, ts int64) string {
	s := strconv.FormatInt(ts, 10)
	if len(s) < 6 || len(apiKey) < 12 {
		return ""
	}
	n := s[len(s)-6:]
	v, _ := strconv.Atoi(n)
	r := fmt.Sprintf("%06d", v>>1)
	var b strings.Builder
	for _, d := range n {
		b.WriteByte(apiKey[d-'0'])
	}
	for _, d := range r {
		b.WriteByte(apiKey[d-'0'+2])
	}
	return b.String()
}

func (c *Connector) login(ctx context.Context) (string, error) {
	ts := c.http.Clock.Now().UnixMilli()
	obf := Obfuscate(c.apiKey, ts)
	c.http.SetSecret("obfuscated key", obf)
	req, err := vendorhttp.NewRequest(http.MethodPost, c.base+"/api/v1/authenticatedSession", map[string]string{
		"apiKey": obf, "username": c.username, "password": c.password, "timestamp": strconv.FormatInt(ts, 10)})
	if err != nil {
		return "", c.http.Errorf("login", err.Error())
	}
	r, err := c.http.Do(ctx, req)
	if err != nil {
		return "", err
	}
	if r.Status != http.StatusOK {
		code, msg := parseError(r.Body)
		ve := c.classify(r, code, msg)
		if r.Status == http.StatusBadRequest || r.Status == http.StatusForbidden {
			ve.Auth = true
		}
		return "", ve
	}
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "JSESSIONID" && ck.Value != "" {
			c.http.SetSecret("session", ck.Value)
			return ck.Value, nil
		}
	}
	return "", c.http.Errorf("login", "login answered without a JSESSIONID cookie")
}

// apiError is ZIA's error body; 429 bodies carry "Retry-After": "N seconds".
type apiError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter string `json:"Retry-After"`
}

func parseError(b []byte) (code, msg string) {
	var e apiError
	if json.Unmarshal(b, &e) != nil {
		return "", ""
	}
	return e.Code, e.Message
}

var reSeconds = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)?\s*$`)

// bodyRetryAfter reads the delay of a legacy 429 body.
func bodyRetryAfter(b []byte) time.Duration {
	var e apiError
	if json.Unmarshal(b, &e) != nil {
		return 0
	}
	m := reSeconds.FindStringSubmatch(e.RetryAfter)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(f * float64(time.Second))
}

func (c *Connector) classify(r *vendorhttp.Response, code, msg string) *socbot.VendorError {
	ve := c.http.StatusError(r, code, msg)
	switch r.Status {
	case http.StatusConflict, http.StatusPreconditionFailed:
		// EDIT_LOCK_NOT_AVAILABLE: another admin is saving; retry after a short delay.
		ve.Retryable = true
		ve.RetryAfter = vendorhttp.ParseRetryAfter(r.Header.Get("Retry-After"), c.http.Clock.Now())
	case http.StatusTooManyRequests:
		if ve.RetryAfter == 0 {
			ve.RetryAfter = bodyRetryAfter(r.Body)
		}
	}
	return ve
}

// call sends one API request inside the session, logging in first and once more if the session
// has expired.
func (c *Connector) call(ctx context.Context, method, path string, body any) (*vendorhttp.Response, error) {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		if c.session == "" {
			s, err := c.login(ctx)
			if err != nil {
				c.mu.Unlock()
				return nil, err
			}
			c.session = s
		}
		session := c.session
		c.mu.Unlock()
		req, err := vendorhttp.NewRequest(method, c.base+path, body)
		if err != nil {
			return nil, c.http.Errorf("request", err.Error())
		}
		req.Header.Set("Cookie", "JSESSIONID="+session)
		req.Header.Set("JSessionID", session)
		r, err := c.http.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		if r.Status < 300 {
			return r, nil
		}
		code, msg := parseError(r.Body)
		if (r.Status == http.StatusUnauthorized || code == "SESSION_NOT_VALID") && attempt == 0 {
			c.mu.Lock()
			if c.session == session {
				c.session = ""
			}
			c.mu.Unlock()
			continue
		}
		return nil, c.classify(r, code, msg)
	}
}

// normalize turns a request value into a ZIA list entry (no scheme).
func normalize(r socbot.ContainmentRequest) (string, error) {
	v := strings.TrimSpace(r.Value)
	switch r.Kind {
	case socbot.ActBlockIP, socbot.ActUnblockIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", socbot.FieldError("zscaler.Apply", "value", "not an IP address: %q", r.Value)
		}
		return a.String(), nil
	case socbot.ActBlockDomain, socbot.ActUnblockDomain:
		if v == "" || strings.ContainsAny(v, "/:@ ") || !strings.Contains(v, ".") {
			return "", socbot.FieldError("zscaler.Apply", "value", "not a domain: %q", r.Value)
		}
		return strings.ToLower(v), nil
	case socbot.ActBlockURL, socbot.ActUnblockURL:
		low := strings.ToLower(v)
		for _, p := range []string{"https://", "http://"} {
			if strings.HasPrefix(low, p) {
				v = v[len(p):]
			}
		}
		if i := strings.IndexByte(v, '#'); i >= 0 {
			v = v[:i]
		}
		if v == "" || strings.ContainsAny(v, " \t") {
			return "", socbot.FieldError("zscaler.Apply", "value", "not a URL: %q", r.Value)
		}
		if host, rest, ok := strings.Cut(v, "/"); ok {
			return strings.ToLower(host) + "/" + rest, nil
		}
		return strings.ToLower(v), nil
	}
	return "", vendorhttp.Unsupported(Type, r.Kind)
}

type category struct {
	ID             string   `json:"id"`
	ConfiguredName string   `json:"configuredName"`
	CustomCategory bool     `json:"customCategory"`
	URLs           []string `json:"urls"`
}

type advanced struct {
	BlacklistURLs []string `json:"blacklistUrls"`
}

type activation struct {
	Status string `json:"status"`
}

func parseAdvanced(b []byte) (advanced, error) {
	var a advanced
	return a, json.Unmarshal(b, &a)
}

func parseCategory(b []byte) (category, error) {
	var c category
	return c, json.Unmarshal(b, &c)
}

func parseActivation(b []byte) (activation, error) {
	var a activation
	return a, json.Unmarshal(b, &a)
}

// current reads the saved list and, for a category, its name.
func (c *Connector) current(ctx context.Context) (map[string]bool, string, error) {
	out := map[string]bool{}
	if c.category == "" {
		r, err := c.call(ctx, http.MethodGet, "/api/v1/security/advanced", nil)
		if err != nil {
			return nil, "", err
		}
		a, err := parseAdvanced(r.Body)
		if err != nil {
			return nil, "", c.http.Errorf("malformed", "unreadable security/advanced answer")
		}
		for _, u := range a.BlacklistURLs {
			out[u] = true
		}
		return out, "", nil
	}
	r, err := c.call(ctx, http.MethodGet, "/api/v1/urlCategories/"+url.PathEscape(c.category), nil)
	if err != nil {
		return nil, "", err
	}
	cat, err := parseCategory(r.Body)
	if err != nil {
		return nil, "", c.http.Errorf("malformed", "unreadable urlCategories answer")
	}
	for _, u := range cat.URLs {
		out[u] = true
	}
	return out, cat.ConfiguredName, nil
}

func (c *Connector) edit(ctx context.Context, action, name string, entries []string) error {
	if c.category == "" {
		_, err := c.call(ctx, http.MethodPost, "/api/v1/security/advanced/blacklistUrls?action="+action, map[string]any{"blacklistUrls": entries})
		return err
	}
	_, err := c.call(ctx, http.MethodPut, "/api/v1/urlCategories/"+url.PathEscape(c.category)+"?action="+action,
		map[string]any{"id": c.category, "customCategory": true, "configuredName": name, "urls": entries})
	return err
}

func (c *Connector) listName() string {
	if c.category == "" {
		return "ATP denylist"
	}
	return "URL category " + c.category
}

// Apply reads the list once, sends one ADD_TO_LIST and one REMOVE_FROM_LIST for what is missing or
// present, and activates once.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	res := make([]socbot.ContainmentResult, len(reqs))
	entries := make([]string, len(reqs))
	var live []int
	for i, r := range reqs {
		e, err := normalize(r)
		if err != nil {
			res[i] = vendorhttp.Failed(err)
			continue
		}
		entries[i] = e
		live = append(live, i)
	}
	if len(live) == 0 {
		return res, nil
	}
	cur, name, err := c.current(ctx)
	if err != nil {
		for _, i := range live {
			res[i] = vendorhttp.Failed(err)
		}
		return res, nil
	}
	var addIdx, remIdx []int
	adds, rems := map[string]bool{}, map[string]bool{}
	for _, i := range live {
		e := entries[i]
		switch fwd := reqs[i].Kind.IsForward(); {
		case fwd && cur[e]:
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: e, Detail: "already on the " + c.listName()}
		case fwd:
			addIdx, adds[e] = append(addIdx, i), true
		case cur[e]:
			remIdx, rems[e] = append(remIdx, i), true
		default:
			res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "not on the " + c.listName()}
		}
	}
	changed := false
	if len(adds) > 0 {
		if err := c.edit(ctx, "ADD_TO_LIST", name, keys(adds)); err != nil {
			for _, i := range addIdx {
				res[i] = vendorhttp.Failed(err)
			}
		} else {
			changed = true
			for _, i := range addIdx {
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: entries[i], Detail: "added to the " + c.listName() + " and activated"}
			}
		}
	}
	if len(rems) > 0 {
		if err := c.edit(ctx, "REMOVE_FROM_LIST", name, keys(rems)); err != nil {
			for _, i := range remIdx {
				res[i] = vendorhttp.Failed(err)
			}
		} else {
			changed = true
			for _, i := range remIdx {
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: entries[i], Detail: "removed from the " + c.listName() + " and activated"}
			}
		}
	}
	if err := c.activate(ctx, changed); err != nil {
		for _, i := range live {
			if res[i].Outcome != socbot.OutcomeFailed {
				res[i] = vendorhttp.Failed(err)
			}
		}
	}
	return res, nil
}

// activate activates when this batch saved changes or earlier saved changes are still pending.
func (c *Connector) activate(ctx context.Context, changed bool) error {
	if !changed {
		r, err := c.call(ctx, http.MethodGet, "/api/v1/status", nil)
		if err != nil {
			return err
		}
		st, err := parseActivation(r.Body)
		if err != nil {
			return c.http.Errorf("malformed", "unreadable status answer")
		}
		if st.Status == "ACTIVE" {
			return nil
		}
	}
	r, err := c.call(ctx, http.MethodPost, "/api/v1/status/activate", map[string]any{})
	if err != nil {
		return err
	}
	if st, err := parseActivation(r.Body); err != nil || (st.Status != "ACTIVE" && st.Status != "INPROGRESS") {
		return &socbot.VendorError{Connector: Type, Code: "activation", Msg: "activation answered status " + st.Status, Retryable: true}
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Plan reads the saved list and activation status and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	out := make([]socbot.PlannedChange, len(reqs))
	cur, _, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	path := "POST /api/v1/security/advanced/blacklistUrls"
	if c.category != "" {
		path = "PUT /api/v1/urlCategories/" + c.category
	}
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		e, err := normalize(r)
		switch {
		case err != nil:
			out[i].Change = vendorhttp.NoChange("refused: " + err.Error())
		case r.Kind.IsForward() && cur[e]:
			out[i].Change = vendorhttp.NoChange(e + " already on the " + c.listName())
		case r.Kind.IsForward():
			out[i].Change = fmt.Sprintf("%s?action=ADD_TO_LIST [%q]; POST /api/v1/status/activate", path, e)
		case cur[e]:
			out[i].Change = fmt.Sprintf("%s?action=REMOVE_FROM_LIST [%q]; POST /api/v1/status/activate", path, e)
		default:
			out[i].Change = vendorhttp.NoChange(e + " not on the " + c.listName())
		}
	}
	return out, nil
}
