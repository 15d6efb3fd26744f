package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds"
	"github.com/socbot/socbot/feeds/misp"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/intel/service"
	"github.com/socbot/socbot/ioc"
	"github.com/socbot/socbot/sqlstore"
	"github.com/socbot/socbot/stix"
)

func init() {
	register("intel", "Threat intelligence: extract IOCs from text, import feeds, match values, export indicators.", &intelCmd{})
}

type intelCmd struct {
	Extract intelExtractCmd `cmd:"" help:"Print the IOCs found in text, one JSON object per line."`
	Import  intelImportCmd  `cmd:"" help:"Import feeds (files or URLs) of any supported format into the indicator store."`
	Match   intelMatchCmd   `cmd:"" help:"Look values up in the indicator store and print the hits as JSON lines."`
	Export  intelExportCmd  `cmd:"" help:"Export active indicators as a STIX 2.1 bundle, a MISP event or a firewall list."`
	Feed    intelFeedCmd    `cmd:"" help:"Manage the feeds socbot serve collects: add, list, delete, run now."`
}

// intelStore opens the database the indicators live in (the data directory's SQLite, or --db), as
// socbot serve does, and resolves a tenant id or name ("" is the MSSP-wide set).
func intelStore(ctx context.Context, g *Globals, sf storeFlags, tenantRef string) (*sqlstore.Store, Config, string, error) {
	cfg, err := loadConfig(g, sf, nil)
	if err != nil {
		return nil, cfg, "", err
	}
	s, err := openStore(ctx, cfg, g.Logger(), socbot.SystemClock{})
	if err != nil {
		return nil, cfg, "", err
	}
	if tenantRef == "" {
		return s, cfg, "", nil
	}
	t, err := s.Tenant(ctx, tenantRef)
	if err != nil {
		if t, err = s.TenantByName(ctx, tenantRef); err != nil {
			s.Close()
			return nil, cfg, "", socbot.FieldError("intel", "tenant", "no tenant %q", tenantRef)
		}
	}
	return s, cfg, t.ID, nil
}

// --- extract

type intelExtractCmd struct {
	Types   []string `help:"Only these types (comma list): ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256, sha512, cve, attack_technique." placeholder:"TYPE"`
	NoHosts bool     `help:"Do not report the host of each URL as an indicator of its own."`
	All     bool     `help:"Report every occurrence (default: each value once, at its first occurrence)."`
	Offsets bool     `help:"Add the byte offset of each IOC to the output."`
	Path    string   `arg:"" name:"FILE" help:"Text file to read, or - for standard input."`
}

func (c *intelExtractCmd) Help() string {
	return `Reads free text (an advisory, a blog post, a chat log, a PDF converted to text) and prints each
indicator it finds as {"type": ..., "value": ...}. Defanged indicators (hxxp, [.], (.), [dot], [@] ...)
are refanged; domains must end in a real top-level domain, so file names and version numbers are not
reported. The text is streamed: any size works.

Example:
  socbot intel extract report.txt
  pbpaste | socbot intel extract --types url,domain -`
}

func (c *intelExtractCmd) Run(g *Globals) error {
	var r io.Reader = os.Stdin
	if c.Path != "-" {
		f, err := os.Open(c.Path)
		if err != nil {
			return socbot.E("intel extract", socbot.KindNotFound, err)
		}
		defer f.Close()
		r = f
	}
	opts := ioc.Options{NoURLHosts: c.NoHosts}
	for _, t := range splitFlags(c.Types) {
		if !ioc.Type(t).Valid() {
			return socbot.FieldError("intel extract", "types", "unknown type %q", t)
		}
		opts.Types = append(opts.Types, ioc.Type(t))
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	seen := map[string]bool{}
	var werr error
	err := ioc.New(opts).ExtractReader(r, func(i ioc.IOC) {
		if werr != nil {
			return
		}
		if !c.All {
			k := string(i.Type) + "\x00" + i.Value
			if seen[k] {
				return
			}
			seen[k] = true
		}
		out := map[string]any{"type": i.Type, "value": i.Value}
		if c.Offsets {
			out["offset"] = i.Offset
		}
		werr = enc.Encode(out)
	})
	if err != nil {
		return socbot.E("intel extract", err)
	}
	return werr
}

func splitFlags(list []string) []string {
	var out []string
	for _, l := range list {
		for _, p := range strings.Split(l, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// --- import

type intelImportCmd struct {
	storeFlags
	Tenant       string   `help:"Tenant (id or name) whose indicator set receives the feed (default: the MSSP-wide set)." placeholder:"TENANT"`
	Source       string   `help:"Source (feed) name the indicators are attributed to (default: the file or URL name)." placeholder:"NAME"`
	Format       string   `help:"Input format; auto detects it: stix, misp, urlhaus, feodo, feodo-json, threatfox, threatfox-json, plain, csv, rss, text." default:"auto"`
	Option       []string `help:"Parser option key=value (repeatable), e.g. value=indicator type_column=kind delimiter=; for csv." placeholder:"K=V"`
	Reliability  int      `help:"How far the source is trusted, 0-100." default:"60"`
	Confidence   int      `help:"Confidence of items that carry none, 0-100." default:"60"`
	TLP          string   `help:"TLP of items that carry no marking: clear, green, amber, amber+strict, red." default:"amber"`
	Tag          []string `help:"Tag to add to every imported indicator (repeatable)." placeholder:"TAG"`
	Warninglists string   `help:"Directory of MISP warninglists (list.json files) to filter false positives (default: intel.warninglists of the configuration)." type:"path" placeholder:"DIR"`
	NoProgress   bool     `help:"Do not show the progress bar."`
	Inputs       []string `arg:"" name:"FILE|URL" help:"Feed files or http(s) URLs to import."`
}

func (c *intelImportCmd) Help() string {
	return `Imports feeds by hand: STIX 2.1 bundles, MISP events, abuse.ch URLhaus/Feodo/ThreatFox exports,
plain lists, CSV (with --option column mappings), RSS/Atom (IOCs extracted from each post) and free text.
Values are normalised, checked against the warninglists, deduplicated with what is stored (one
indicator, many sources) and scored, and written to socbot's database (the data directory's SQLite,
or --db), where a running socbot serve picks them up within its refresh interval. The import is
audited under your user name. Inputs are streamed; a summary per input goes to standard output.

Example:
  socbot intel import --tenant acme --source urlhaus --warninglists misp-warninglists/lists urlhaus.csv
  socbot intel import --format csv --option value=indicator --option type_column=kind partner.csv`
}

// countingReader counts bytes read for the progress bar.
type countingReader struct {
	r   io.Reader
	bar *progressbar.ProgressBar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.bar != nil {
		c.bar.Add(n)
	}
	return n, err
}

func (c *intelImportCmd) Run(g *Globals) error {
	const op = "intel import"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tlp, ok := intel.ParseTLP(c.TLP)
	if !ok {
		return socbot.FieldError(op, "tlp", "unknown TLP %q", c.TLP)
	}
	opts := map[string]string{}
	for _, o := range c.Option {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return socbot.FieldError(op, "option", "%q is not key=value", o)
		}
		opts[k] = v
	}
	store, cfg, tenant, err := intelStore(ctx, g, c.storeFlags, c.Tenant)
	if err != nil {
		return err
	}
	defer store.Close()
	dir := c.Warninglists
	if dir == "" {
		dir = cfg.Intel.Warninglists
	}
	wl, err := loadWarninglists(dir)
	if err != nil {
		return err
	}
	decay, err := loadDecay(cfg.Intel.DecayModels)
	if err != nil {
		return err
	}
	eng := intel.NewEngine(intel.EngineConfig{Store: store, Warninglists: wl, Decay: decay, Logger: g.Logger(), NoIndex: true})
	out := json.NewEncoder(os.Stdout)
	for _, in := range c.Inputs {
		start := time.Now()
		body, size, err := openInput(ctx, in)
		if err != nil {
			return err
		}
		var bar *progressbar.ProgressBar
		if !c.NoProgress && isatty.IsTerminal(os.Stderr.Fd()) {
			bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowBytes(true),
				progressbar.OptionSetDescription(filepath.Base(in)), progressbar.OptionClearOnFinish())
		}
		name := c.Source
		if name == "" {
			name = filepath.Base(strings.TrimSuffix(in, "/"))
		}
		src := intel.SourceInfo{Name: name, Reliability: c.Reliability, DefaultConfidence: c.Confidence, TLP: tlp, Tags: c.Tag}
		actx := intel.WithAudit(ctx, cliPrincipal(), "socbot intel import "+in)
		total, err := eng.IngestStream(actx, tenant, src, func(emit func(intel.Item) error) error {
			return feeds.Parse(ctx, c.Format, intel.Feed{Name: name, Options: opts}, &countingReader{r: body, bar: bar}, emit)
		}, nil)
		body.Close()
		if bar != nil {
			bar.Finish()
		}
		if err != nil {
			return socbot.E(op, err, in)
		}
		secs := time.Since(start).Seconds()
		out.Encode(map[string]any{"input": in, "source": name, "tenant": tenant, "stats": total, "seconds": secs,
			"items_per_sec": float64(total.Items) / max(secs, 1e-9)})
	}
	return nil
}

// openInput opens a file or fetches a URL; size is -1 when unknown.
func openInput(ctx context.Context, in string) (io.ReadCloser, int64, error) {
	if strings.HasPrefix(in, "http://") || strings.HasPrefix(in, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in, nil)
		if err != nil {
			return nil, 0, socbot.FieldError("intel import", "url", "%v", err)
		}
		req.Header.Set("User-Agent", "socbot-intel")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, socbot.E("intel import", socbot.KindUnavailable, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, 0, socbot.E("intel import", socbot.KindUnavailable, fmt.Sprintf("%s: HTTP %d", in, resp.StatusCode))
		}
		return resp.Body, resp.ContentLength, nil
	}
	f, err := os.Open(in)
	if err != nil {
		return nil, 0, socbot.E("intel import", socbot.KindNotFound, err)
	}
	st, _ := f.Stat()
	size := int64(-1)
	if st != nil {
		size = st.Size()
	}
	return f, size, nil
}

// --- match

type intelMatchCmd struct {
	storeFlags
	Tenant string   `help:"Tenant (id or name) whose indicators (and the MSSP-wide ones) are matched." placeholder:"TENANT"`
	Type   string   `help:"Observable type of every value (default: recognised per value): ip, domain, url, md5, sha1, sha256, email." placeholder:"TYPE"`
	Values []string `arg:"" name:"VALUE" help:"Values to look up (IP, domain, URL, hash, e-mail; defanged is fine)."`
}

func (c *intelMatchCmd) Help() string {
	return `Looks values up the way triage and monitor do: IPs match exact addresses and covering CIDRs,
domains match their parent domains' indicators, URLs match exactly and through their host. Only active
indicators match (not expired, revoked or filtered by a warninglist). Each hit is one JSON line with
the indicator, its current score, its sources and why it matched; values without hits print nothing.
The match index is loaded from socbot's database (the tenant's and the MSSP-wide indicators).

Example:
  socbot intel match --tenant acme 203.0.113.7 www.evil-domain.net hxxp://evil-domain[.]net/x`
}

func (c *intelMatchCmd) Run(g *Globals) error {
	ctx := context.Background()
	store, cfg, tenant, err := intelStore(ctx, g, c.storeFlags, c.Tenant)
	if err != nil {
		return err
	}
	defer store.Close()
	decay, err := loadDecay(cfg.Intel.DecayModels)
	if err != nil {
		return err
	}
	eng := intel.NewEngine(intel.EngineConfig{Store: store, Decay: decay, Logger: g.Logger()})
	if _, err := eng.LoadTenants(ctx, tenant); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, v := range c.Values {
		typ := socbot.ObservableType(c.Type)
		val := v
		if typ == "" {
			t, n, ok := ioc.Classify(v)
			if !ok {
				fmt.Fprintf(os.Stderr, "socbot: %q is not a recognisable indicator value; skipped\n", v)
				continue
			}
			typ, val = service.ObservableType(t), n
		}
		for _, m := range eng.Match(tenant, typ, val) {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// --- export

type intelExportCmd struct {
	storeFlags
	Tenant      string `help:"Tenant (id or name) whose indicators are exported (the MSSP-wide ones are included unless --own-only)." placeholder:"TENANT"`
	OwnOnly     bool   `help:"Only the tenant's own indicators, not the MSSP-wide ones."`
	Format      string `help:"Output: stix (STIX 2.1 bundle), misp (MISP event) or edl (PAN-OS external dynamic list)." enum:"stix,misp,edl" default:"stix"`
	TLP         string `help:"The most restrictive marking exported (TLP enforcement): clear, green, amber, amber+strict, red." default:"green"`
	Kind        string `help:"EDL list kind: ip, domain or url." enum:"ip,domain,url" default:"ip"`
	MinScore    int    `help:"EDL: minimum current score." default:"50"`
	Limit       int    `help:"EDL: size cap (highest scores kept)." default:"50000"`
	Observables bool   `help:"STIX: also write each indicator's observable and a based-on relationship."`
	Output      string `help:"Write to this file instead of standard output." short:"o" type:"path" placeholder:"FILE"`
}

func (c *intelExportCmd) Run(g *Globals) error {
	const op = "intel export"
	ctx := context.Background()
	tlp, ok := intel.ParseTLP(c.TLP)
	if !ok {
		return socbot.FieldError(op, "tlp", "unknown TLP %q", c.TLP)
	}
	store, cfg, tenant, err := intelStore(ctx, g, c.storeFlags, c.Tenant)
	if err != nil {
		return err
	}
	defer store.Close()
	decay, err := loadDecay(cfg.Intel.DecayModels)
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if c.Output != "" {
		f, err := os.Create(c.Output)
		if err != nil {
			return socbot.E(op, err)
		}
		defer f.Close()
		w = f
	}
	eng := intel.NewEngine(intel.EngineConfig{Store: store, Decay: decay, NoIndex: true})
	f := intel.Filter{TenantID: tenant, WithMSSP: !c.OwnOnly, MaxTLP: &tlp}
	var n int
	switch c.Format {
	case "stix":
		n, err = stix.ExportBundle(ctx, store, f, stix.ExportOptions{MaxTLP: tlp, Observables: c.Observables, Decay: decay, Now: eng.Now()}, w)
	case "misp":
		n, err = misp.ExportEvent(ctx, store, f, tlp, decay, eng.Now(), "socbot indicators "+c.Tenant, socbot.NewID(), w)
	case "edl":
		n, err = eng.RenderEDL(ctx, tenant, intel.EDLSpec{Kind: c.Kind, MinScore: c.MinScore, MaxTLP: tlp, Limit: c.Limit, Subdomains: c.Kind == "domain"}, w)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "exported %d indicators\n", n)
	return nil
}
