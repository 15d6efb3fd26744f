// Package service is the intel bot as the API sees it: it implements socbot.IntelService over the
// engine, its store, the feed scheduler and the exporters, scoping every call to the caller's tenant
// and enforcing TLP against the caller on every answer.
package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds"
	"github.com/socbot/socbot/feeds/misp"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
	"github.com/socbot/socbot/stix"
)

// Config is what the service is built from.
type Config struct {
	Engine    *intel.Engine
	Scheduler *intel.Scheduler // nil: RunFeed answers KindUnavailable
	Sealer    intel.Sealer     // seals feed credentials; required to store feeds that have them
	// Tenants lists every tenant id, for MSSP staff looking an indicator up by id across tenants.
	Tenants func(ctx context.Context) ([]string, error)
	// Ceiling is the most restrictive TLP a principal may receive (default DefaultCeiling(nil)).
	Ceiling func(p socbot.Principal) intel.TLP
	// EDLs are the firewall lists served (default intel.DefaultEDLs); EDLCache how long a rendered
	// list is reused (default one minute).
	EDLs     []intel.EDLSpec
	EDLCache time.Duration
	Clock    socbot.Clock
	Log      *slog.Logger
}

// DefaultCeiling is the TLP policy: MSSP staff and bots receive everything (RED); a tenant's
// analysts AMBER+STRICT (they work inside the MSSP's organisation); a tenant's viewers (the client's
// own people) what their tenant may receive, clientMax(tenant), AMBER when clientMax is nil.
func DefaultCeiling(clientMax func(tenantID string) intel.TLP) func(p socbot.Principal) intel.TLP {
	return func(p socbot.Principal) intel.TLP {
		switch {
		case p.MSSPWide():
			return intel.TLPRed
		case p.Role == socbot.RoleAnalyst:
			return intel.TLPAmberStrict
		case clientMax != nil:
			return min(clientMax(p.TenantID), intel.TLPAmberStrict)
		}
		return intel.TLPAmber
	}
}

// Service implements socbot.IntelService.
type Service struct {
	cfg   Config
	eng   *intel.Engine
	store intel.Store
	edls  map[string]intel.EDLSpec

	mu       sync.Mutex
	edlCache map[string]edlCached
}

type edlCached struct {
	at   time.Time
	body []byte
	n    int
}

var _ socbot.IntelService = (*Service)(nil)

// New builds the service.
func New(cfg Config) *Service {
	if cfg.Ceiling == nil {
		cfg.Ceiling = DefaultCeiling(nil)
	}
	if cfg.Clock == nil {
		cfg.Clock = socbot.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.EDLs) == 0 {
		cfg.EDLs = intel.DefaultEDLs()
	}
	if cfg.EDLCache <= 0 {
		cfg.EDLCache = time.Minute
	}
	s := &Service{cfg: cfg, eng: cfg.Engine, store: cfg.Engine.Store(), edls: map[string]intel.EDLSpec{}, edlCache: map[string]edlCached{}}
	for _, e := range cfg.EDLs {
		s.edls[e.Name] = e
	}
	return s
}

// Ceiling is the TLP ceiling of p.
func (s *Service) Ceiling(p socbot.Principal) intel.TLP { return s.cfg.Ceiling(p) }

// readFilter scopes a read: "" is every tenant (MSSP staff), a tenant its own and the MSSP-wide set.
func readFilter(tenantID string) intel.Filter {
	if tenantID == "" {
		return intel.Filter{TenantID: "*"}
	}
	return intel.Filter{TenantID: tenantID, WithMSSP: true}
}

// View converts an indicator to the API's view.
func View(in *intel.Indicator, d intel.Decay, now time.Time) socbot.IntelIndicator {
	v := socbot.IntelIndicator{ID: in.ID, TenantID: in.TenantID, Type: string(in.Type), Value: in.Value,
		Score: in.Score(d, now), Active: in.Active(d, now), Confidence: in.Confidence, TLP: in.TLP.String(), Tags: in.Tags,
		Description: in.Description, FirstSeen: in.FirstSeen, LastSeen: in.LastSeen, SightingCount: in.Sightings,
		FalsePositives: in.FalsePos, Revoked: in.Revoked, FilteredBy: in.FilteredBy, Created: in.Created, Modified: in.Modified,
		Sources: make([]socbot.IntelSource, 0, len(in.Sources))}
	if in.Revoked || in.FilteredBy != "" {
		v.Score = 0
	}
	for _, k := range in.KillChain {
		v.KillChain = append(v.KillChain, socbot.IntelPhase{KillChain: k.KillChain, Phase: k.Phase})
	}
	if !in.LastSighting.IsZero() {
		t := in.LastSighting
		v.LastSighting = &t
	}
	for _, x := range in.Sources {
		src := socbot.IntelSource{Name: x.Name, Reliability: x.Reliability, Confidence: x.Confidence, FirstSeen: x.FirstSeen,
			LastSeen: x.LastSeen, Ref: x.Ref, Disabled: x.Disabled}
		if !x.ValidUntil.IsZero() {
			t := x.ValidUntil
			src.ValidUntil = &t
		}
		v.Sources = append(v.Sources, src)
	}
	return v
}

func parseTypes(op string, list []string) ([]ioc.Type, error) {
	var out []ioc.Type
	for _, t := range list {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !ioc.Type(t).Valid() {
			return nil, socbot.FieldError(op, "type", "unknown indicator type %q", t)
		}
		out = append(out, ioc.Type(t))
	}
	return out, nil
}

// SearchIndicators implements socbot.IntelService.
func (s *Service) SearchIndicators(ctx context.Context, p socbot.Principal, tenantID string, q socbot.IntelQuery) ([]socbot.IntelIndicator, error) {
	const op = "intel.SearchIndicators"
	f := readFilter(tenantID)
	var err error
	if f.Types, err = parseTypes(op, q.Types); err != nil {
		return nil, err
	}
	if q.Value != "" {
		var t ioc.Type
		var v string
		ok := false
		if len(f.Types) == 1 {
			t = f.Types[0]
			v, ok = ioc.Normalize(t, q.Value)
		} else {
			t, v, ok = ioc.Classify(q.Value)
		}
		if !ok {
			return nil, socbot.FieldError(op, "value", "%q is not a recognisable indicator value", q.Value)
		}
		f.IDs = []string{intel.IndicatorID(t, v)}
	}
	ceiling := s.cfg.Ceiling(p)
	f.MaxTLP = &ceiling
	f.ValuePrefix, f.Source, f.Tag, f.IncludeDead = q.Prefix, q.Source, q.Tag, q.IncludeDead
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		return nil, socbot.FieldError(op, "limit", "at most 1000 indicators per page")
	}
	if q.Offset < 0 {
		return nil, socbot.FieldError(op, "offset", "must not be negative")
	}
	d, now := s.eng.Decay(), s.eng.Now()
	keep := func(in *intel.Indicator) bool {
		if q.ActiveOnly && !in.Active(d, now) {
			return false
		}
		return q.MinScore <= 0 || in.Score(d, now) >= q.MinScore
	}
	out := []socbot.IntelIndicator{}
	if !q.ActiveOnly && q.MinScore <= 0 {
		f.Limit, f.Offset = limit, q.Offset
		list, err := s.store.SearchIndicators(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range list {
			out = append(out, View(&list[i], d, now))
		}
		return out, nil
	}
	// score and activity depend on the clock: filter page by page, up to a bounded scan
	const page, maxScan = 1000, 200000
	skip := q.Offset
	for off := 0; off < maxScan; off += page {
		f.Limit, f.Offset = page, off
		list, err := s.store.SearchIndicators(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range list {
			if !keep(&list[i]) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, View(&list[i], d, now))
			if len(out) == limit {
				return out, nil
			}
		}
		if len(list) < page {
			break
		}
	}
	return out, nil
}

// find returns the indicator with id that tenantID sees (its own first, then the MSSP-wide one; for
// "" every tenant's), within p's TLP ceiling.
func (s *Service) find(ctx context.Context, p socbot.Principal, tenantID, id string) (intel.Indicator, error) {
	const op = "intel.GetIndicator"
	scopes := []string{tenantID, ""}
	if tenantID == "" {
		scopes = []string{""}
		if s.cfg.Tenants != nil {
			ts, err := s.cfg.Tenants(ctx)
			if err != nil {
				return intel.Indicator{}, err
			}
			scopes = append(scopes, ts...)
		}
	}
	ceiling := s.cfg.Ceiling(p)
	for _, t := range scopes {
		got, err := s.store.GetIndicators(ctx, t, []string{id})
		if err != nil {
			return intel.Indicator{}, err
		}
		if len(got) == 1 && got[0].TLP.MayShare(ceiling) {
			return got[0], nil
		}
	}
	return intel.Indicator{}, socbot.E(op, socbot.KindNotFound, "no indicator "+id)
}

// GetIndicator implements socbot.IntelService.
func (s *Service) GetIndicator(ctx context.Context, p socbot.Principal, tenantID, id string) (socbot.IntelIndicator, error) {
	in, err := s.find(ctx, p, tenantID, id)
	if err != nil {
		return socbot.IntelIndicator{}, err
	}
	v := View(&in, s.eng.Decay(), s.eng.Now())
	seenBy := "*"
	if !p.MSSPWide() {
		seenBy = p.TenantID
	} else if tenantID != "" {
		seenBy = tenantID
	}
	ss, err := s.store.Sightings(ctx, in.TenantID, in.ID, seenBy, 100)
	if err != nil {
		return v, err
	}
	v.Sightings = []socbot.IntelSighting{}
	for _, x := range ss {
		v.Sightings = append(v.Sightings, socbot.IntelSighting{SeenBy: x.SeenBy, Observed: x.Observed, Source: x.Source, Ref: x.Ref,
			Kind: kindName(x.Kind), At: x.At})
	}
	return v, nil
}

func kindName(k int) string {
	switch k {
	case intel.SightingFalsePositive:
		return "false_positive"
	case intel.SightingExpiration:
		return "expiration"
	}
	return "sighting"
}

func counts(src string, st intel.IngestStats) socbot.IntelIngest {
	return socbot.IntelIngest{Source: src, Items: st.Items, Invalid: st.Invalid, Filtered: st.Filtered, New: st.New, Updated: st.Updated, Revoked: st.Revoked}
}

func personSource(prefix string, p socbot.Principal) string { return prefix + ":" + p.Name }

func clampPct(op, field string, v, def int) (int, error) {
	if v == 0 {
		return def, nil
	}
	if v < 0 || v > 100 {
		return 0, socbot.FieldError(op, field, "must be between 0 and 100")
	}
	return v, nil
}

// AddIndicators implements socbot.IntelService.
func (s *Service) AddIndicators(ctx context.Context, p socbot.Principal, tenantID string, add socbot.IntelAdd) (socbot.IntelIngest, error) {
	const op = "intel.AddIndicators"
	if len(add.Indicators) == 0 {
		return socbot.IntelIngest{}, socbot.FieldError(op, "indicators", "no indicators")
	}
	if len(add.Indicators) > 10000 {
		return socbot.IntelIngest{}, socbot.FieldError(op, "indicators", "at most 10,000 per request (import larger sets as a file)")
	}
	rel, err := clampPct(op, "reliability", add.Reliability, 70)
	if err != nil {
		return socbot.IntelIngest{}, err
	}
	src := intel.SourceInfo{Name: add.Source, Reliability: rel, DefaultConfidence: 70, TLP: intel.TLPAmber}
	if src.Name == "" {
		src.Name = personSource("analyst", p)
	}
	items := make([]intel.Item, 0, len(add.Indicators))
	for i, x := range add.Indicators {
		t := ioc.Type(x.Type)
		if !t.Valid() {
			return socbot.IntelIngest{}, socbot.FieldError(op, fmt.Sprintf("indicators[%d].type", i), "unknown indicator type %q", x.Type)
		}
		if x.TLP != "" {
			if _, ok := intel.ParseTLP(x.TLP); !ok {
				return socbot.IntelIngest{}, socbot.FieldError(op, fmt.Sprintf("indicators[%d].tlp", i), "unknown TLP %q", x.TLP)
			}
		}
		conf, err := clampPct(op, fmt.Sprintf("indicators[%d].confidence", i), x.Confidence, 0)
		if err != nil {
			return socbot.IntelIngest{}, err
		}
		it := intel.Item{Type: t, Value: x.Value, Confidence: conf, TLP: x.TLP, Tags: x.Tags, Description: x.Description,
			LastSeen: s.eng.Now(), Ref: personSource("analyst", p)}
		if x.ValidUntil != nil {
			it.ValidUntil = *x.ValidUntil
		}
		items = append(items, it)
	}
	st, err := s.eng.Ingest(intel.WithAudit(ctx, p, add.Reason), tenantID, src, items)
	return counts(src.Name, st), err
}

// Import implements socbot.IntelService.
func (s *Service) Import(ctx context.Context, p socbot.Principal, tenantID string, opt socbot.IntelImportOptions, body io.Reader) (socbot.IntelIngest, error) {
	const op = "intel.Import"
	rel, err := clampPct(op, "reliability", opt.Reliability, 60)
	if err != nil {
		return socbot.IntelIngest{}, err
	}
	conf, err := clampPct(op, "confidence", opt.Confidence, 60)
	if err != nil {
		return socbot.IntelIngest{}, err
	}
	tlp := intel.TLPAmber
	if opt.TLP != "" {
		var ok bool
		if tlp, ok = intel.ParseTLP(opt.TLP); !ok {
			return socbot.IntelIngest{}, socbot.FieldError(op, "tlp", "unknown TLP %q", opt.TLP)
		}
	}
	format := opt.Format
	if format == "" {
		format = "auto"
	}
	if format != "auto" && !knownFormat(format) {
		return socbot.IntelIngest{}, socbot.FieldError(op, "format", "unknown format %q (known: %s)", format, strings.Join(feeds.Formats(), ", "))
	}
	src := intel.SourceInfo{Name: opt.Source, Reliability: rel, DefaultConfidence: conf, TLP: tlp}
	if src.Name == "" {
		src.Name = personSource("import", p)
	}
	actx := intel.WithAudit(ctx, p, opt.Reason)
	st, err := s.eng.IngestStream(actx, tenantID, src, func(emit func(intel.Item) error) error {
		return feeds.Parse(ctx, format, intel.Feed{Name: src.Name, Options: opt.Options}, body, emit)
	}, nil)
	if err != nil && socbot.ErrorKind(err) == socbot.KindOther {
		err = socbot.E(op, socbot.KindInvalid, err)
	}
	return counts(src.Name, st), err
}

func knownFormat(f string) bool {
	for _, k := range feeds.Formats() {
		if k == f {
			return true
		}
	}
	return false
}

// RecordSighting implements socbot.IntelService.
func (s *Service) RecordSighting(ctx context.Context, p socbot.Principal, tenantID, id string, in socbot.IntelSightingInput) (socbot.IntelIndicator, error) {
	const op = "intel.RecordSighting"
	kind := intel.SightingSeen
	switch in.Kind {
	case "", "sighting":
	case "false_positive":
		kind = intel.SightingFalsePositive
	case "expiration":
		kind = intel.SightingExpiration
	default:
		return socbot.IntelIndicator{}, socbot.FieldError(op, "kind", "kind must be sighting, false_positive or expiration, not %q", in.Kind)
	}
	ind, err := s.find(ctx, p, tenantID, id)
	if err != nil {
		return socbot.IntelIndicator{}, err
	}
	if ind.TenantID == "" && kind != intel.SightingSeen && !p.MSSPWide() {
		// a verdict on a shared indicator changes it for every tenant
		return socbot.IntelIndicator{}, socbot.E(op, socbot.KindForbidden, "only MSSP staff may judge an MSSP-wide indicator; report a sighting instead")
	}
	seenBy := tenantID
	if !p.MSSPWide() {
		seenBy = p.TenantID
	}
	sg := intel.Sighting{TenantID: ind.TenantID, SeenBy: seenBy, IndicatorID: ind.ID, Type: ind.Type, Value: ind.Value,
		Observed: in.Observed, Source: personSource("analyst", p), Ref: in.Ref, At: s.eng.Now(), Kind: kind}
	if sg.Observed == "" {
		sg.Observed = ind.Value
	}
	if err := s.eng.RecordSightings(intel.WithAudit(ctx, p, in.Reason), []intel.Sighting{sg}); err != nil {
		return socbot.IntelIndicator{}, err
	}
	return s.GetIndicator(ctx, p, tenantID, id)
}

// Match implements socbot.IntelService.
func (s *Service) Match(ctx context.Context, p socbot.Principal, tenantID string, obs []socbot.Observable) ([]socbot.IndicatorMatch, error) {
	if len(obs) > 1000 {
		return nil, socbot.FieldError("intel.Match", "values", "at most 1,000 values per request")
	}
	for i := range obs {
		if obs[i].Type != "" {
			continue
		}
		t, v, ok := ioc.Classify(obs[i].Value)
		if !ok {
			return nil, socbot.FieldError("intel.Match", "values", "%q is not a recognisable indicator value", obs[i].Value)
		}
		obs[i] = socbot.Observable{Type: ObservableType(t), Value: v}
	}
	var out []socbot.IndicatorMatch
	for _, hits := range s.eng.Matcher().MatchBatch(tenantID, obs) {
		out = append(out, hits...)
	}
	out = intel.ShareableMatches(out, s.cfg.Ceiling(p))
	if out == nil {
		out = []socbot.IndicatorMatch{}
	}
	return out, nil
}

// ObservableType is the observable type under which triage looks an indicator type up.
func ObservableType(t ioc.Type) socbot.ObservableType {
	switch t {
	case ioc.IPv4, ioc.IPv6, ioc.CIDR:
		return socbot.ObsIP
	case ioc.Domain:
		return socbot.ObsDomain
	case ioc.URL:
		return socbot.ObsURL
	case ioc.Email:
		return socbot.ObsEmail
	case ioc.MD5:
		return socbot.ObsMD5
	case ioc.SHA1:
		return socbot.ObsSHA1
	case ioc.SHA256:
		return socbot.ObsSHA256
	}
	return socbot.ObservableType(t)
}

// ---- feeds

var feedName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (s *Service) feedView(ctx context.Context, f intel.Feed) socbot.IntelFeed {
	v := socbot.IntelFeed{Name: f.Name, TenantID: f.TenantID, URL: f.URL, Format: f.Format, Enabled: f.Enabled,
		Reliability: f.Reliability, DefaultConfidence: f.DefaultConfidence, TLP: f.TLP, Tags: f.Tags, Options: f.Options,
		MaxBytes: f.MaxBytes, CredentialsSet: len(f.SealedAuth) > 0}
	if f.Interval > 0 {
		v.Interval = time.Duration(f.Interval).String()
	}
	if f.Timeout > 0 {
		v.Timeout = time.Duration(f.Timeout).String()
	}
	if st, err := s.store.FeedStatus(ctx, f.TenantID, f.Name); err == nil {
		v.Status = statusView(st)
	}
	return v
}

func statusView(st intel.FeedStatus) *socbot.IntelFeedStatus {
	v := &socbot.IntelFeedStatus{Healthy: st.Healthy, ConsecutiveFailures: st.Failures, LastError: st.LastError,
		LastHTTPStatus: st.LastStatus, NotModified: st.NotModified, LastStats: counts("", st.LastStats)}
	if !st.LastAttempt.IsZero() {
		t := st.LastAttempt
		v.LastAttempt = &t
	}
	if !st.LastSuccess.IsZero() {
		t := st.LastSuccess
		v.LastSuccess = &t
	}
	return v
}

// Feeds implements socbot.IntelService.
func (s *Service) Feeds(ctx context.Context, p socbot.Principal, tenantID string) ([]socbot.IntelFeed, error) {
	scope := tenantID
	if scope == "" {
		scope = "*"
	}
	list, err := s.store.Feeds(ctx, scope)
	if err != nil {
		return nil, err
	}
	out := []socbot.IntelFeed{}
	for _, f := range list {
		out = append(out, s.feedView(ctx, f))
	}
	return out, nil
}

func (s *Service) getFeed(ctx context.Context, tenantID, name string) (intel.Feed, error) {
	list, err := s.store.Feeds(ctx, tenantID)
	if err != nil {
		return intel.Feed{}, err
	}
	for _, f := range list {
		if f.Name == name {
			return f, nil
		}
	}
	return intel.Feed{}, socbot.E("intel.Feed", socbot.KindNotFound, "no feed "+name)
}

// GetFeed implements socbot.IntelService.
func (s *Service) GetFeed(ctx context.Context, p socbot.Principal, tenantID, name string) (socbot.IntelFeed, error) {
	f, err := s.getFeed(ctx, tenantID, name)
	if err != nil {
		return socbot.IntelFeed{}, err
	}
	return s.feedView(ctx, f), nil
}

func duration(op, field, v string, least time.Duration) (socbot.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := socbot.ParseDuration(v)
	if err != nil || d < least {
		return 0, socbot.FieldError(op, field, "bad duration %q (at least %s)", v, least)
	}
	return socbot.Duration(d), nil
}

// PutFeed implements socbot.IntelService.
func (s *Service) PutFeed(ctx context.Context, p socbot.Principal, tenantID string, in socbot.IntelFeed, reason string) (socbot.IntelFeed, bool, error) {
	const op = "intel.PutFeed"
	if !feedName.MatchString(in.Name) {
		return socbot.IntelFeed{}, false, socbot.FieldError(op, "name", "feed names are 1-64 letters, digits, '.', '_' or '-'")
	}
	if !strings.HasPrefix(in.URL, "https://") && !strings.HasPrefix(in.URL, "http://") {
		return socbot.IntelFeed{}, false, socbot.FieldError(op, "url", "the feed URL must be http:// or https://")
	}
	switch in.Format {
	case "", "auto", "taxii", "misp-feed":
	default:
		if !knownFormat(in.Format) {
			return socbot.IntelFeed{}, false, socbot.FieldError(op, "format", "unknown format %q", in.Format)
		}
	}
	if in.TLP != "" {
		if _, ok := intel.ParseTLP(in.TLP); !ok {
			return socbot.IntelFeed{}, false, socbot.FieldError(op, "tlp", "unknown TLP %q", in.TLP)
		}
	}
	for _, pc := range []struct {
		f string
		v int
	}{{"reliability", in.Reliability}, {"default_confidence", in.DefaultConfidence}} {
		if pc.v < 0 || pc.v > 100 {
			return socbot.IntelFeed{}, false, socbot.FieldError(op, pc.f, "must be between 0 and 100")
		}
	}
	f := intel.Feed{Name: in.Name, TenantID: tenantID, URL: in.URL, Format: in.Format, Enabled: in.Enabled, Reliability: in.Reliability,
		DefaultConfidence: in.DefaultConfidence, TLP: in.TLP, Tags: in.Tags, Options: in.Options, MaxBytes: in.MaxBytes}
	var err error
	if f.Interval, err = duration(op, "interval", in.Interval, time.Minute); err != nil {
		return socbot.IntelFeed{}, false, err
	}
	if f.Timeout, err = duration(op, "timeout", in.Timeout, time.Second); err != nil {
		return socbot.IntelFeed{}, false, err
	}
	old, err := s.getFeed(ctx, tenantID, in.Name)
	created := socbot.IsKind(err, socbot.KindNotFound)
	if err != nil && !created {
		return socbot.IntelFeed{}, false, err
	}
	if in.Auth != nil {
		f.Auth = intel.FeedAuth(*in.Auth)
		if f.Auth.HasSecret() {
			if s.cfg.Sealer == nil {
				return socbot.IntelFeed{}, false, socbot.E(op, socbot.KindUnavailable, "no keyring to seal feed credentials with")
			}
			if err := intel.SealFeedAuth(s.cfg.Sealer, &f); err != nil {
				return socbot.IntelFeed{}, false, err
			}
		}
	} else if !created {
		f.Auth, f.SealedAuth = old.Auth, old.SealedAuth // keep the stored credentials
	}
	if err := s.store.PutFeed(intel.WithAudit(ctx, p, reason), f); err != nil {
		return socbot.IntelFeed{}, false, err
	}
	return s.feedView(ctx, f), created, nil
}

// DeleteFeed implements socbot.IntelService.
func (s *Service) DeleteFeed(ctx context.Context, p socbot.Principal, tenantID, name, reason string) error {
	return s.store.DeleteFeed(intel.WithAudit(ctx, p, reason), tenantID, name)
}

// RunFeed implements socbot.IntelService.
func (s *Service) RunFeed(ctx context.Context, p socbot.Principal, tenantID, name string) (socbot.IntelFeed, error) {
	if s.cfg.Scheduler == nil {
		return socbot.IntelFeed{}, socbot.E("intel.RunFeed", socbot.KindUnavailable, "feed collection does not run on this node")
	}
	f, err := s.getFeed(ctx, tenantID, name)
	if err != nil {
		return socbot.IntelFeed{}, err
	}
	// the run is recorded in the feed's status, failure included
	if _, err := s.cfg.Scheduler.RunFeed(ctx, f); err != nil {
		s.cfg.Log.Info("intel: feed run on request failed", "tenant", tenantID, "feed", name, "by", p.Name, "err", err)
	}
	return s.feedView(ctx, f), nil
}

// ---- dissemination

// EDL implements socbot.IntelService.
func (s *Service) EDL(ctx context.Context, p socbot.Principal, tenantID, list string, q socbot.IntelEDLQuery, w io.Writer) (int, error) {
	const op = "intel.EDL"
	spec, ok := s.edls[list]
	if !ok {
		return 0, socbot.E(op, socbot.KindNotFound, "no list "+list)
	}
	tlp, hasTLP := intel.TLPRed, false
	if q.TLP != "" {
		if tlp, hasTLP = intel.ParseTLP(q.TLP); !hasTLP {
			return 0, socbot.FieldError(op, "tlp", "unknown TLP %q", q.TLP)
		}
	}
	spec = spec.Narrow(q.MinScore, q.MaxAge, q.Limit, tlp, hasTLP)
	if c := s.cfg.Ceiling(p); c < spec.MaxTLP {
		spec.MaxTLP = c
	}
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%d\x00%d", tenantID, list, spec.MinScore, spec.MaxAge, spec.Limit, spec.MaxTLP)
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	c, hit := s.edlCache[key]
	s.mu.Unlock()
	if !hit || now.Sub(c.at) > s.cfg.EDLCache {
		var b bytes.Buffer
		n, err := s.eng.RenderEDL(ctx, tenantID, spec, &b)
		if err != nil {
			return 0, err
		}
		c = edlCached{at: now, body: b.Bytes(), n: n}
		s.mu.Lock()
		if len(s.edlCache) > 1000 {
			clear(s.edlCache)
		}
		s.edlCache[key] = c
		s.mu.Unlock()
	}
	_, err := w.Write(c.body)
	return c.n, err
}

// Export implements socbot.IntelService.
func (s *Service) Export(ctx context.Context, p socbot.Principal, tenantID string, q socbot.IntelExport, w io.Writer) (int, error) {
	const op = "intel.Export"
	tlp := intel.TLPGreen
	if q.TLP != "" {
		var ok bool
		if tlp, ok = intel.ParseTLP(q.TLP); !ok {
			return 0, socbot.FieldError(op, "tlp", "unknown TLP %q", q.TLP)
		}
	}
	if c := s.cfg.Ceiling(p); c < tlp {
		tlp = c
	}
	f := intel.Filter{TenantID: tenantID, WithMSSP: !q.OwnOnly, MaxTLP: &tlp}
	now := s.eng.Now()
	switch q.Format {
	case "", "stix":
		return stix.ExportBundle(ctx, s.store, f, stix.ExportOptions{MaxTLP: tlp, Observables: q.Observables, Decay: s.eng.Decay(), Now: now}, w)
	case "misp":
		name := tenantID
		if name == "" {
			name = "MSSP-wide"
		}
		return misp.ExportEvent(ctx, s.store, f, tlp, s.eng.Decay(), now, "socbot indicators "+name, uuid.NewString(), w)
	}
	return 0, socbot.FieldError(op, "format", "format must be stix or misp, not %q", q.Format)
}
