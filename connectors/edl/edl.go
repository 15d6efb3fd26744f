// Package edl is socbot's external dynamic list connector (spec §1.5): instead of calling a vendor,
// it keeps plain-text block lists (IP, domain and URL lists, one entry per line) in a directory, and
// serves them over HTTP with Basic auth for firewalls that pull them on a schedule (PAN-OS External
// Dynamic Lists; FortiGate external threat feeds read the same format). A refresh needs no commit.
// If the firewall cannot reach the list it keeps its last copy; if authentication fails it STOPS
// enforcing the list, so the serving credentials must stay stable.
package edl

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "edl"

// DefaultMax is the entry count of the smallest common PAN-OS limit (per list type, 7.1 docs).
const DefaultMax = 50000

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector writes the lists of one tenant's directory.
type Connector struct {
	dir   string
	files map[string]string // list kind (ip|domain|url) -> file name
	max   int
	log   *vendorhttp.Client
	mu    sync.Mutex
}

var _ socbot.Connector = (*Connector)(nil)

// New builds the connector. Options: dir (required), ip_list (soc-block-ip.txt), domain_list
// (soc-block-domain.txt), url_list (soc-block-url.txt), max_entries (50000).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "edl.New"
	c := &Connector{dir: cfg.Options["dir"], max: DefaultMax, log: vendorhttp.NewClient(Type, cfg, deps),
		files: map[string]string{"ip": "soc-block-ip.txt", "domain": "soc-block-domain.txt", "url": "soc-block-url.txt"}}
	if c.dir == "" {
		return nil, socbot.FieldError(op, "options.dir", "required")
	}
	for k := range c.files {
		if v := cfg.Options[k+"_list"]; v != "" {
			if strings.ContainsAny(v, `/\`) || v == "." || v == ".." {
				return nil, socbot.FieldError(op, "options."+k+"_list", "a file name, not a path: %q", v)
			}
			c.files[k] = v
		}
	}
	if v := cfg.Options["max_entries"]; v != "" {
		if _, err := fmt.Sscanf(v, "%d", &c.max); err != nil || c.max <= 0 {
			return nil, socbot.FieldError(op, "options.max_entries", "not a positive number: %q", v)
		}
	}
	return c, nil
}

// Type returns "edl".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActBlockIP, socbot.ActUnblockIP, socbot.ActBlockDomain, socbot.ActUnblockDomain, socbot.ActBlockURL, socbot.ActUnblockURL:
		return true
	}
	return false
}

// Entry is one list line: the value and its optional comment.
type Entry struct{ Value, Comment string }

// Parse reads a list: one entry per line, anything after the first space or tab is a comment; blank
// lines and lines starting with "#" or "//" are skipped.
func Parse(b []byte) []Entry {
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		v, comment, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(v, '\t'); i >= 0 {
			v, comment = v[:i], strings.TrimSpace(v[i+1:]+" "+comment)
		}
		out = append(out, Entry{Value: v, Comment: strings.TrimSpace(comment)})
	}
	return out
}

// Render writes entries, one per line, sorted by value.
func Render(es []Entry) []byte {
	sort.Slice(es, func(i, j int) bool { return es[i].Value < es[j].Value })
	var b bytes.Buffer
	for _, e := range es {
		b.WriteString(e.Value)
		if e.Comment != "" {
			b.WriteString(" " + e.Comment)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// normalize checks a value against the list format of its kind and returns the list and the line.
func normalize(r socbot.ContainmentRequest) (string, string, error) {
	v := strings.TrimSpace(r.Value)
	bad := func(what string) (string, string, error) {
		return "", "", socbot.FieldError("edl.Apply", "value", "not %s for an EDL: %q", what, r.Value)
	}
	switch r.Kind {
	case socbot.ActBlockIP, socbot.ActUnblockIP:
		if a, err := netip.ParseAddr(v); err == nil {
			return "ip", a.String(), nil
		}
		if p, err := netip.ParsePrefix(v); err == nil && p.Bits() > 0 {
			return "ip", p.Masked().String(), nil
		}
		if lo, hi, ok := strings.Cut(v, "-"); ok {
			a, err1 := netip.ParseAddr(lo)
			b, err2 := netip.ParseAddr(hi)
			if err1 == nil && err2 == nil && a.Is4() == b.Is4() && !b.Less(a) {
				return "ip", a.String() + "-" + b.String(), nil
			}
		}
		return bad("an IP, CIDR or range")
	case socbot.ActBlockDomain, socbot.ActUnblockDomain:
		d := strings.ToLower(v)
		if d == "" || len(d) > 255 || strings.ContainsAny(d, " /:@\t") || !strings.Contains(d, ".") || strings.Contains(d[1:], "*") {
			return bad("a domain")
		}
		return "domain", d, nil
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
		if v == "" || len(v) > 255 || strings.ContainsAny(v, " \t") {
			return bad("a URL")
		}
		host, rest, ok := strings.Cut(v, "/")
		if ok {
			return "url", strings.ToLower(host) + "/" + rest, nil
		}
		return "url", strings.ToLower(host), nil
	}
	return "", "", vendorhttp.Unsupported(Type, r.Kind)
}

func (c *Connector) read(kind string) ([]Entry, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, c.files[kind]))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, socbot.E("edl.read", socbot.KindUnavailable, err)
	}
	return Parse(b), nil
}

// write replaces the file atomically (temp file, fsync, rename) so that a firewall never pulls a
// half-written list.
func (c *Connector) write(kind string, es []Entry) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return socbot.E("edl.write", socbot.KindUnavailable, err)
	}
	f, err := os.CreateTemp(c.dir, ".tmp-"+c.files[kind]+"-*")
	if err != nil {
		return socbot.E("edl.write", socbot.KindUnavailable, err)
	}
	tmp := f.Name()
	_, werr := f.Write(Render(es))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, filepath.Join(c.dir, c.files[kind]))
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return socbot.E("edl.write", socbot.KindUnavailable, werr)
	}
	c.log.Logger.Debug("vendor call", "connector", Type, "op", "write list", "file", c.files[kind], "entries", len(es))
	return nil
}

// Apply reads each touched list once, changes it, and writes it once.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make([]socbot.ContainmentResult, len(reqs))
	byKind := map[string][]int{}
	lines := make([]string, len(reqs))
	for i, r := range reqs {
		kind, line, err := normalize(r)
		if err != nil {
			res[i] = vendorhttp.Failed(err)
			continue
		}
		lines[i] = line
		byKind[kind] = append(byKind[kind], i)
	}
	for kind, idx := range byKind {
		es, err := c.read(kind)
		if err != nil {
			for _, i := range idx {
				res[i] = vendorhttp.Failed(err)
			}
			continue
		}
		have := map[string]int{}
		for j, e := range es {
			have[e.Value] = j
		}
		changed := false
		for _, i := range idx {
			_, present := have[lines[i]]
			switch fwd := reqs[i].Kind.IsForward(); {
			case fwd && present:
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: c.files[kind], Detail: "already in " + c.files[kind]}
			case fwd && len(have) >= c.max:
				res[i] = vendorhttp.Failed(socbot.E("edl.Apply", socbot.KindTooLarge, fmt.Sprintf("%s is full (%d entries); the firewall would skip entries over its limit", c.files[kind], c.max)))
			case fwd:
				comment := strings.Join(strings.Fields(reqs[i].Reference), "_")
				es = append(es, Entry{Value: lines[i], Comment: comment})
				have[lines[i]] = len(es) - 1
				changed = true
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: c.files[kind], Detail: "added to " + c.files[kind] + " (firewalls pick it up at their next refresh)"}
			case present:
				delete(have, lines[i])
				changed = true
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: c.files[kind], Detail: "removed from " + c.files[kind]}
			default:
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "not in " + c.files[kind]}
			}
		}
		if !changed {
			continue
		}
		keep := make([]Entry, 0, len(have))
		for _, e := range es {
			if _, ok := have[e.Value]; ok {
				keep = append(keep, e)
			}
		}
		if err := c.write(kind, keep); err != nil {
			for _, i := range idx {
				if res[i].Outcome == socbot.OutcomeApplied || res[i].Outcome == socbot.OutcomeRemoved {
					res[i] = vendorhttp.Failed(err)
				}
			}
		}
	}
	return res, nil
}

// Plan reads the lists and says what Apply would write.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]socbot.PlannedChange, len(reqs))
	cache := map[string]map[string]bool{}
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		kind, line, err := normalize(r)
		if err != nil {
			out[i].Change = vendorhttp.NoChange("refused: " + err.Error())
			continue
		}
		have, ok := cache[kind]
		if !ok {
			es, err := c.read(kind)
			if err != nil {
				return nil, err
			}
			have = map[string]bool{}
			for _, e := range es {
				have[e.Value] = true
			}
			cache[kind] = have
		}
		switch {
		case r.Kind.IsForward() && have[line]:
			out[i].Change = vendorhttp.NoChange(line + " already in " + c.files[kind])
		case r.Kind.IsForward():
			out[i].Change = "add line " + line + " to " + c.files[kind]
		case have[line]:
			out[i].Change = "remove line " + line + " from " + c.files[kind]
		default:
			out[i].Change = vendorhttp.NoChange(line + " not in " + c.files[kind])
		}
	}
	return out, nil
}

// Handler serves the list files of dir as text/plain to firewalls, behind HTTP Basic auth
// (user and password must be set). Only the configured file names are served.
func Handler(dir, user, password string, files ...string) http.Handler {
	allowed := map[string]bool{}
	for _, f := range files {
		allowed[f] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || user == "" || password == "" ||
			subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="socbot edl"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		name := filepath.Base(r.URL.Path)
		if r.Method != http.MethodGet && r.Method != http.MethodHead || !allowed[name] {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			b, err = nil, nil // an empty list until the first block
		}
		if err != nil {
			http.Error(w, "list unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
}

// Files returns the list file names in use (for Handler).
func (c *Connector) Files() []string {
	return []string{c.files["ip"], c.files["domain"], c.files["url"]}
}
