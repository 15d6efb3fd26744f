// Package panos is socbot's Palo Alto Networks PAN-OS connector (XML API, spec §1). It blocks single
// IP addresses by registering the tag soc-block on them through User-ID (a dynamic address group
// matches the tag; runtime state, no commit, native timeout), and blocks CIDRs, ranges, domains (and
// IPs when ip_method=address) with address objects named soc-blk-<value> in a static address group,
// staged in the candidate config and pushed with one partial commit per batch, polled to completion.
package panos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "panos"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to one firewall (or Panorama device group).
type Connector struct {
	http         *vendorhttp.Client
	apiURL       string
	root         string
	ipMethod     string // dag | address
	tag          string
	group        string
	admin        string
	target       string // Panorama: firewall serial for User-ID
	vsys         string
	pollInterval time.Duration
	commitWait   time.Duration

	user, password string
	mu             sync.Mutex
	key            string
}

var _ socbot.Connector = (*Connector)(nil)

// New builds a PAN-OS connector. Credentials: api_key, or username and password (keygen).
// Options: ip_method (dag|address, default dag), vsys (vsys1), device_group (Panorama), target
// (Panorama: firewall serial for User-ID), dag_tag (soc-block), group (soc-blocklist), admin (the
// API admin for the partial commit, default the username or "socbot"), commit_poll_interval (2s),
// commit_timeout (10m).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "panos.New"
	if cfg.BaseURL == "" {
		return nil, socbot.FieldError(op, "base_url", "required")
	}
	c := &Connector{
		http:   vendorhttp.NewClient(Type, cfg, deps),
		apiURL: vendorhttp.JoinURL(cfg.BaseURL, "/api/"),
		key:    cfg.Credentials["api_key"], user: cfg.Credentials["username"], password: cfg.Credentials["password"],
		ipMethod: opt(cfg, "ip_method", "dag"), tag: opt(cfg, "dag_tag", "soc-block"), group: opt(cfg, "group", "soc-blocklist"),
		vsys: opt(cfg, "vsys", "vsys1"), target: cfg.Options["target"],
	}
	if c.key == "" && (c.user == "" || c.password == "") {
		return nil, socbot.FieldError(op, "credentials", "api_key, or username and password, required")
	}
	c.admin = opt(cfg, "admin", c.user)
	if c.admin == "" {
		c.admin = "socbot"
	}
	if c.ipMethod != "dag" && c.ipMethod != "address" {
		return nil, socbot.FieldError(op, "options.ip_method", "want dag or address, got %q", c.ipMethod)
	}
	if dg := cfg.Options["device_group"]; dg != "" {
		c.root = "/config/devices/entry[@name='localhost.localdomain']/device-group/entry[@name='" + dg + "']"
	} else {
		c.root = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='" + c.vsys + "']"
	}
	var err error
	if c.pollInterval, err = optDuration(cfg, "commit_poll_interval", 2*time.Second); err != nil {
		return nil, err
	}
	if c.commitWait, err = optDuration(cfg, "commit_timeout", 10*time.Minute); err != nil {
		return nil, err
	}
	return c, nil
}

func opt(cfg socbot.ConnectorConfig, k, def string) string {
	if v := cfg.Options[k]; v != "" {
		return v
	}
	return def
}

func optDuration(cfg socbot.ConnectorConfig, k string, def time.Duration) (time.Duration, error) {
	v := cfg.Options[k]
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, socbot.FieldError("panos.New", "options."+k, "not a positive duration: %q", v)
	}
	return d, nil
}

// Type returns "panos".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActBlockIP, socbot.ActUnblockIP, socbot.ActBlockDomain, socbot.ActUnblockDomain:
		return true
	}
	return false
}

// apiKey returns the configured key, or generates one once from username and password.
func (c *Connector) apiKey(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key != "" {
		return c.key, nil
	}
	req, err := vendorhttp.NewRequest(http.MethodPost, c.apiURL+"?type=keygen", url.Values{"user": {c.user}, "password": {c.password}})
	if err != nil {
		return "", c.http.Errorf("keygen", err.Error())
	}
	r, err := c.http.Do(ctx, req)
	if err != nil {
		return "", err
	}
	resp, verr := c.envelope(r)
	if verr != nil {
		return "", verr
	}
	if resp.Result.Key == "" {
		return "", c.http.Errorf("keygen", "keygen answered without a key")
	}
	c.key = resp.Result.Key
	c.http.AddSecret(c.key)
	return c.key, nil
}

// call sends one API request. A PAN-OS error envelope returns both the parsed answer and the error.
func (c *Connector) call(ctx context.Context, form url.Values) (*response, error) {
	key, err := c.apiKey(ctx)
	if err != nil {
		return nil, err
	}
	req, err := vendorhttp.NewRequest(http.MethodPost, c.apiURL, form)
	if err != nil {
		return nil, c.http.Errorf("request", err.Error())
	}
	req.Header.Set("X-PAN-KEY", key)
	r, err := c.http.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := c.envelope(r)
	if ve, ok := err.(*socbot.VendorError); ok && ve.Code == "22" && c.user != "" {
		c.mu.Lock() // session timed out: the next call generates a new key (code 22 is retryable)
		if c.key == key {
			c.key = ""
		}
		c.mu.Unlock()
	}
	return resp, err
}

// envelope classifies an answer: HTTP status first, then the envelope status and code (§1.6).
func (c *Connector) envelope(r *vendorhttp.Response) (*response, error) {
	resp, perr := parseResponse(r.Body)
	if r.Status != http.StatusOK {
		code, msg := "", ""
		if resp != nil {
			code, msg = resp.Code, resp.message()
		}
		ve := c.http.StatusError(r, code, msg)
		if r.Status == http.StatusForbidden {
			ve.Auth = true
		}
		return resp, ve
	}
	if perr != nil {
		return nil, c.http.Errorf("malformed", "unreadable XML answer: "+perr.Error())
	}
	if resp.Status != "error" {
		return resp, nil
	}
	ve := &socbot.VendorError{Connector: Type, Code: resp.Code, Msg: c.http.Redact(resp.message())}
	switch resp.Code {
	case "403", "16":
		ve.Auth = true
	case "2", "3", "4", "5", "11", "21", "15", "22":
		ve.Retryable = true
	}
	if ve.Msg == "" {
		ve.Msg = "error answer"
	}
	return resp, ve
}

// plan of one request.
type item struct {
	i     int
	req   socbot.ContainmentRequest
	dag   bool
	block bool
	name  string // address object name
	elem  string // address element
}

func (c *Connector) classify(reqs []socbot.ContainmentRequest) ([]item, []socbot.ContainmentResult) {
	res := make([]socbot.ContainmentResult, len(reqs))
	var items []item
	for i, r := range reqs {
		it := item{i: i, req: r, block: r.Kind.IsForward()}
		switch r.Kind {
		case socbot.ActBlockIP, socbot.ActUnblockIP:
			v := strings.TrimSpace(r.Value)
			if a, err := netip.ParseAddr(v); err == nil {
				it.dag = c.ipMethod == "dag"
				bits := 32
				if a.Is6() {
					bits = 128
				}
				it.elem = fmt.Sprintf("<ip-netmask>%s/%d</ip-netmask>", a, bits)
			} else if p, err := netip.ParsePrefix(v); err == nil {
				it.elem = "<ip-netmask>" + p.Masked().String() + "</ip-netmask>"
			} else if lo, hi, ok := strings.Cut(v, "-"); ok && validAddr(lo) && validAddr(hi) {
				it.elem = "<ip-range>" + v + "</ip-range>"
			} else {
				res[i] = vendorhttp.Failed(socbot.FieldError("panos.Apply", "value", "not an IP, CIDR or range: %q", r.Value))
				continue
			}
		case socbot.ActBlockDomain, socbot.ActUnblockDomain:
			if !validDomain(r.Value) {
				res[i] = vendorhttp.Failed(socbot.FieldError("panos.Apply", "value", "not a domain: %q", r.Value))
				continue
			}
			it.elem = "<fqdn>" + html.EscapeString(strings.ToLower(r.Value)) + "</fqdn>"
		default:
			res[i] = vendorhttp.Failed(vendorhttp.Unsupported(Type, r.Kind))
			continue
		}
		it.name = ObjectName(r.Value)
		items = append(items, it)
	}
	return items, res
}

func validAddr(s string) bool { _, err := netip.ParseAddr(strings.TrimSpace(s)); return err == nil }

func validDomain(s string) bool {
	if s == "" || len(s) > 253 || strings.ContainsAny(s, "/:@ \t'\"<>&") || !strings.Contains(s, ".") {
		return false
	}
	return true
}

// ObjectName is the owned object name soc-blk-<value>, within PAN-OS's 63-character limit of
// letters, digits, ". _ -" and space.
func ObjectName(value string) string {
	var b strings.Builder
	b.WriteString("soc-blk-")
	for _, r := range strings.ToLower(strings.TrimSpace(value)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	n := b.String()
	if len(n) > 63 {
		sum := sha256.Sum256([]byte(value))
		n = n[:54] + "-" + hex.EncodeToString(sum[:4])
	}
	return n
}

// Apply registers/unregisters DAG tags in one User-ID message and stages address object changes,
// then commits them once (partial commit for this admin) and waits for the commit job.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	items, res := c.classify(reqs)
	var dag, staged []item
	for _, it := range items {
		if it.dag {
			dag = append(dag, it)
		} else {
			staged = append(staged, it)
		}
	}
	if len(dag) > 0 {
		c.applyDAG(ctx, dag, res)
	}
	if len(staged) > 0 {
		if err := c.applyStaged(ctx, staged, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (c *Connector) uidMessage(items []item) string {
	var reg, unreg strings.Builder
	for _, it := range items {
		ip := strings.TrimSpace(it.req.Value)
		if it.block {
			timeout := ""
			if it.req.TTL > 0 {
				timeout = fmt.Sprintf(` timeout="%d"`, ttlSeconds(it.req.TTL))
			}
			fmt.Fprintf(&reg, `<entry ip="%s"><tag><member%s>%s</member></tag></entry>`, ip, timeout, html.EscapeString(c.tag))
		} else {
			fmt.Fprintf(&unreg, `<entry ip="%s"><tag><member>%s</member></tag></entry>`, ip, html.EscapeString(c.tag))
		}
	}
	p := ""
	if reg.Len() > 0 {
		p += "<register>" + reg.String() + "</register>"
	}
	if unreg.Len() > 0 {
		p += "<unregister>" + unreg.String() + "</unregister>"
	}
	return "<uid-message><version>1.0</version><type>update</type><payload>" + p + "</payload></uid-message>"
}

// ttlSeconds converts a TTL to the User-ID timeout (seconds, 1..2,592,000).
func ttlSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s > 2592000 {
		s = 2592000
	}
	if s < 1 {
		s = 1
	}
	return s
}

func (c *Connector) userIDForm(cmd string) url.Values {
	f := url.Values{"type": {"user-id"}, "cmd": {cmd}}
	if c.target != "" {
		f.Set("target", c.target)
	} else {
		f.Set("vsys", c.vsys)
	}
	return f
}

func (c *Connector) applyDAG(ctx context.Context, items []item, res []socbot.ContainmentResult) {
	resp, err := c.call(ctx, c.userIDForm(c.uidMessage(items)))
	var uid *uidResponse
	if err != nil && resp != nil && resp.Status == "error" {
		uid = resp.uid()
	}
	if err != nil && uid == nil {
		for _, it := range items {
			res[it.i] = vendorhttp.Failed(err)
		}
		return
	}
	msgs := map[string]string{} // "r|ip" or "u|ip" -> message
	if uid != nil {
		for _, e := range uid.Register {
			msgs["r|"+e.IP] = e.Message
		}
		for _, e := range uid.Unregister {
			msgs["u|"+e.IP] = e.Message
		}
	}
	now := c.http.Clock.Now()
	for _, it := range items {
		ip := strings.TrimSpace(it.req.Value)
		if it.block {
			m, listed := msgs["r|"+ip]
			switch {
			case !listed:
				res[it.i] = socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: c.tag + "@" + ip, Detail: "registered tag " + c.tag}
				if it.req.TTL > 0 {
					res[it.i].ExpiresAt = vendorhttp.ExpiresAt(now, time.Duration(ttlSeconds(it.req.TTL))*time.Second)
				}
			case strings.HasSuffix(m, "already exists, ignore"):
				res[it.i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: c.tag + "@" + ip, Detail: m}
			default:
				res[it.i] = vendorhttp.Failed(&socbot.VendorError{Connector: Type, Code: "uid", Msg: c.http.Redact(ip + ": " + m)})
			}
		} else {
			m, listed := msgs["u|"+ip]
			switch {
			case !listed:
				res[it.i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, Detail: "unregistered tag " + c.tag}
			case strings.HasSuffix(m, "does not exist, ignore unreg"):
				res[it.i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: m}
			default:
				res[it.i] = vendorhttp.Failed(&socbot.VendorError{Connector: Type, Code: "uid", Msg: c.http.Redact(ip + ": " + m)})
			}
		}
	}
}

// registered lists the IPs carrying the tag, paging by 500 (§1.4).
func (c *Connector) registered(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	const limit = 500
	for start := 1; ; start += limit {
		cmd := fmt.Sprintf(`<show><object><registered-ip><tag><entry name="%s"/></tag><limit>%d</limit><start-point>%d</start-point></registered-ip></object></show>`,
			html.EscapeString(c.tag), limit, start)
		resp, err := c.call(ctx, url.Values{"type": {"op"}, "cmd": {cmd}})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.Result.Entries {
			out[e.IP] = true
		}
		if len(resp.Result.Entries) < limit {
			return out, nil
		}
	}
}

// groupMembers reads the static members of the group from the candidate (get) or running (show)
// config.
func (c *Connector) groupMembers(ctx context.Context, action string) (map[string]bool, error) {
	resp, err := c.call(ctx, url.Values{"type": {"config"}, "action": {action}, "xpath": {c.groupXPath()}})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	if resp.Result.Static != nil {
		for _, m := range resp.Result.Static.Members {
			out[strings.TrimSpace(m)] = true
		}
	}
	return out, nil
}

func (c *Connector) groupXPath() string {
	return c.root + "/address-group/entry[@name='" + c.group + "']/static"
}

func (c *Connector) addrXPath(name string) string {
	return c.root + "/address/entry[@name='" + name + "']"
}

func (c *Connector) setForm(xpath, element string) url.Values {
	return url.Values{"type": {"config"}, "action": {"set"}, "xpath": {xpath}, "element": {element}}
}

func (c *Connector) deleteForm(xpath string) url.Values {
	return url.Values{"type": {"config"}, "action": {"delete"}, "xpath": {xpath}}
}

func (c *Connector) objectElement(it item) string {
	ref := it.req.Reference
	if ref == "" {
		ref = "soc:"
	}
	return it.elem + "<description>" + html.EscapeString(ref) + "</description><tag><member>" + html.EscapeString(c.tag) + "</member></tag>"
}

func isAbsent(err error) bool {
	ve, ok := err.(*socbot.VendorError)
	return ok && (ve.Code == "7" || ve.Code == "13")
}

func (c *Connector) applyStaged(ctx context.Context, items []item, res []socbot.ContainmentResult) error {
	cand, err := c.groupMembers(ctx, "get")
	if err != nil {
		for _, it := range items {
			res[it.i] = vendorhttp.Failed(err)
		}
		return nil
	}
	running, err := c.groupMembers(ctx, "show")
	if err != nil {
		for _, it := range items {
			res[it.i] = vendorhttp.Failed(err)
		}
		return nil
	}
	needCommit := false
	var pending []item // results that hold only once the commit succeeds
	for _, it := range items {
		if it.block {
			if cand[it.name] {
				res[it.i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: it.name, Detail: "address object already in " + c.group}
				if !running[it.name] {
					needCommit = true
					pending = append(pending, it)
				}
				continue
			}
			if _, err := c.call(ctx, c.setForm(c.addrXPath(it.name), c.objectElement(it))); err != nil {
				res[it.i] = vendorhttp.Failed(err)
				continue
			}
			if _, err := c.call(ctx, c.setForm(c.groupXPath(), "<member>"+it.name+"</member>")); err != nil {
				res[it.i] = vendorhttp.Failed(err)
				needCommit = true // the object alone is staged; committing it is harmless
				continue
			}
			cand[it.name] = true
			res[it.i] = socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: it.name, Detail: "address object staged and committed"}
		} else {
			if !cand[it.name] {
				// The member is gone; remove a leftover object if an earlier attempt stopped halfway.
				if _, err := c.call(ctx, c.deleteForm(c.addrXPath(it.name))); err != nil && !isAbsent(err) {
					res[it.i] = vendorhttp.Failed(err)
					continue
				}
				res[it.i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "no " + it.name + " in " + c.group}
				if running[it.name] {
					needCommit = true
					pending = append(pending, it)
				}
				continue
			}
			if _, err := c.call(ctx, c.deleteForm(c.groupXPath()+"/member[text()='"+it.name+"']")); err != nil && !isAbsent(err) {
				res[it.i] = vendorhttp.Failed(err)
				continue
			}
			delete(cand, it.name)
			needCommit = true
			if _, err := c.call(ctx, c.deleteForm(c.addrXPath(it.name))); err != nil && !isAbsent(err) {
				res[it.i] = vendorhttp.Failed(err)
				continue
			}
			res[it.i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: it.name, Detail: "address object removed and committed"}
		}
		needCommit = true
		pending = append(pending, it)
	}
	if !needCommit {
		return nil
	}
	if err := c.commit(ctx); err != nil {
		for _, it := range pending {
			res[it.i] = vendorhttp.Failed(err)
		}
	}
	return nil
}

// commit runs one partial commit for this admin and polls the job until it finishes.
func (c *Connector) commit(ctx context.Context) error {
	cmd := "<commit><partial><admin><member>" + html.EscapeString(c.admin) + "</member></admin></partial></commit>"
	resp, err := c.call(ctx, url.Values{"type": {"commit"}, "action": {"partial"}, "cmd": {cmd}})
	if err != nil {
		return err
	}
	id := resp.jobID()
	if id == "" {
		return nil // "There are no changes to commit."
	}
	if _, err := strconv.Atoi(id); err != nil {
		return c.http.Errorf("commit", "commit answered an unreadable job id")
	}
	deadline := time.Now().Add(c.commitWait)
	var lastErr error
	for {
		t := time.NewTimer(c.pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return &socbot.VendorError{Connector: Type, Code: "commit-job", Msg: "gave up waiting for commit job " + id + ": " + ctx.Err().Error(), Retryable: true}
		case <-t.C:
		}
		resp, err := c.call(ctx, url.Values{"type": {"op"}, "cmd": {"<show><jobs><id>" + id + "</id></jobs></show>"}})
		if err != nil {
			ve, ok := err.(*socbot.VendorError)
			if !ok || !ve.Retryable {
				return err
			}
			lastErr = err // a poll that failed transiently; the job goes on, so poll again
		} else if j := resp.Result.Job; j != nil && strings.EqualFold(strings.TrimSpace(j.Status), "FIN") {
			if strings.EqualFold(strings.TrimSpace(j.Result), "OK") {
				return nil
			}
			return &socbot.VendorError{Connector: Type, Code: "commit-" + strings.TrimSpace(j.Result), Msg: c.http.Redact("commit job " + id + " failed: " + strings.Join(j.Details, "; "))}
		}
		if time.Now().After(deadline) {
			msg := "commit job " + id + " did not finish within " + c.commitWait.String()
			if lastErr != nil {
				msg += " (last poll: " + lastErr.Error() + ")"
			}
			return &socbot.VendorError{Connector: Type, Code: "commit-job", Msg: msg, Retryable: true}
		}
	}
}

// Plan reads the User-ID table and the candidate and running group, and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	items, res := c.classify(reqs)
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		if res[i].Err != nil {
			out[i].Change = vendorhttp.NoChange("refused: " + res[i].Err.Error())
		}
	}
	var reg, cand, running map[string]bool
	var err error
	for _, it := range items {
		ch := &out[it.i].Change
		if it.dag {
			if reg == nil {
				if reg, err = c.registered(ctx); err != nil {
					return nil, err
				}
			}
			ip := strings.TrimSpace(it.req.Value)
			switch {
			case it.block && reg[ip]:
				*ch = vendorhttp.NoChange("tag " + c.tag + " already registered on " + ip)
			case it.block:
				t := ""
				if it.req.TTL > 0 {
					t = fmt.Sprintf(" timeout=%d", ttlSeconds(it.req.TTL))
				}
				*ch = fmt.Sprintf("POST /api/ type=user-id register %s tag %s%s (runtime, no commit)", ip, c.tag, t)
			case reg[ip]:
				*ch = fmt.Sprintf("POST /api/ type=user-id unregister %s tag %s (runtime, no commit)", ip, c.tag)
			default:
				*ch = vendorhttp.NoChange("tag " + c.tag + " not registered on " + ip)
			}
			continue
		}
		if cand == nil {
			if cand, err = c.groupMembers(ctx, "get"); err != nil {
				return nil, err
			}
			if running, err = c.groupMembers(ctx, "show"); err != nil {
				return nil, err
			}
		}
		commit := "partial commit (admin " + c.admin + ")"
		switch {
		case it.block && cand[it.name] && running[it.name]:
			*ch = vendorhttp.NoChange(it.name + " already in " + c.group)
		case it.block && cand[it.name]:
			*ch = it.name + " staged but not committed: " + commit
		case it.block:
			*ch = fmt.Sprintf("config set address %s %s; set address-group %s static member %s; %s", it.name, it.elem, c.group, it.name, commit)
		case cand[it.name]:
			*ch = fmt.Sprintf("config delete address-group %s static member %s; delete address %s; %s", c.group, it.name, it.name, commit)
		case running[it.name]:
			*ch = it.name + " removal staged but not committed: " + commit
		default:
			*ch = vendorhttp.NoChange("no " + it.name + " in " + c.group)
		}
	}
	return out, nil
}
