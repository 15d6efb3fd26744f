package intel

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// Feed configures one collected feed of one tenant ("" = MSSP-wide).
type Feed struct {
	Name              string            `json:"name" yaml:"name"`
	TenantID          string            `json:"tenant_id,omitempty" yaml:"tenant_id"`
	URL               string            `json:"url" yaml:"url"`
	Format            string            `json:"format,omitempty" yaml:"format"` // parser name, "auto" or "" to detect; "taxii" for a TAXII collection
	Interval          socbot.Duration   `json:"interval,omitempty" yaml:"interval"`
	Enabled           bool              `json:"enabled" yaml:"enabled"`
	Reliability       int               `json:"reliability,omitempty" yaml:"reliability"`
	DefaultConfidence int               `json:"default_confidence,omitempty" yaml:"default_confidence"`
	TLP               string            `json:"tlp,omitempty" yaml:"tlp"`
	Tags              []string          `json:"tags,omitempty" yaml:"tags"`
	Auth              FeedAuth          `json:"auth,omitempty" yaml:"auth"`
	Options           map[string]string `json:"options,omitempty" yaml:"options"` // parser options (CSV column map, TAXII collection ...)
	Timeout           socbot.Duration   `json:"timeout,omitempty" yaml:"timeout"` // whole fetch; default 10m
	MaxBytes          int64             `json:"max_bytes,omitempty" yaml:"max_bytes"`
	// SealedAuth holds Auth's secrets sealed with the tenant's age key (SealFeedAuth); stores keep
	// only this form, and the scheduler opens it just before a run.
	SealedAuth []byte `json:"-" yaml:"-"`
}

// FeedAuth is how to authenticate to a feed. Secrets arrive decrypted and are never logged.
type FeedAuth struct {
	Username    string `json:"username,omitempty" yaml:"username"`
	Password    string `json:"-" yaml:"password"`
	BearerToken string `json:"-" yaml:"bearer_token"`
	Header      string `json:"header,omitempty" yaml:"header"` // e.g. "Auth-Key" (ThreatFox), "Authorization"
	HeaderValue string `json:"-" yaml:"header_value"`
}

// Apply sets the credentials on a request.
func (a FeedAuth) Apply(r *http.Request) {
	switch {
	case a.BearerToken != "":
		r.Header.Set("Authorization", "Bearer "+a.BearerToken)
	case a.Username != "":
		r.SetBasicAuth(a.Username, a.Password)
	}
	if a.Header != "" {
		r.Header.Set(a.Header, a.HeaderValue)
	}
}

// Source is the SourceInfo for items of this feed.
func (f Feed) Source() SourceInfo {
	t, ok := ParseTLP(f.TLP)
	if !ok {
		t = TLPAmber
		if f.TLP == "" {
			t = TLPClear
		}
	}
	rel := f.Reliability
	if rel <= 0 {
		rel = 50
	}
	return SourceInfo{Name: f.Name, Reliability: rel, DefaultConfidence: f.DefaultConfidence, TLP: t, Tags: f.Tags}
}

// FeedStatus is the collection state and health of a feed.
type FeedStatus struct {
	TenantID     string      `json:"tenant_id,omitempty"`
	Name         string      `json:"name"`
	ETag         string      `json:"etag,omitempty"`
	LastModified string      `json:"last_modified,omitempty"`
	Cursor       string      `json:"cursor,omitempty"` // collector-specific checkpoint (TAXII: date_added of the last object)
	LastAttempt  time.Time   `json:"last_attempt,omitempty"`
	LastSuccess  time.Time   `json:"last_success,omitempty"`
	Healthy      bool        `json:"healthy"`
	Failures     int         `json:"consecutive_failures"`
	LastError    string      `json:"last_error,omitempty"`
	LastStatus   int         `json:"last_http_status,omitempty"`
	NotModified  bool        `json:"not_modified,omitempty"` // the last successful run got 304
	LastStats    IngestStats `json:"last_stats"`
}

// Collector fetches one feed and emits its items. It reads and updates the checkpoint fields of st
// (ETag, LastModified, Cursor, LastStatus); the scheduler keeps those changes only if the whole run
// succeeds. notModified means the source had nothing new (HTTP 304).
type Collector interface {
	Collect(ctx context.Context, f Feed, st *FeedStatus, emit func(Item) error) (notModified bool, err error)
}

// FeedLeaser is an optional Store method that lets several nodes share the schedule: a node runs a
// due feed only when it claims the feed's lease (free, expired or its own).
type FeedLeaser interface {
	ClaimFeedRun(ctx context.Context, tenantID, name, owner string, now, until time.Time) (bool, error)
}

// ParseFunc parses a feed body of the given format ("" or "auto": detect) and emits its items.
type ParseFunc func(ctx context.Context, format string, f Feed, body io.Reader, emit func(Item) error) error

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	Engine     *Engine
	Store      Store // feeds and their status; default the engine's store
	HTTPClient *http.Client
	Parse      ParseFunc            // required for HTTP feeds
	Collectors map[string]Collector // by Feed.Format, e.g. "taxii"; others go through the HTTP collector
	// Owner names this node in feed leases (FeedLeaser); default a random id.
	Owner string
	// Secrets opens feeds' sealed credentials (Feed.SealedAuth); required for feeds that have them.
	Secrets     Sealer
	Clock       socbot.Clock
	Logger      *slog.Logger
	Tick        time.Duration // how often Run looks for due feeds (default 15s)
	Retries     int           // retries of a failed HTTP fetch (default 3)
	RetryWait   time.Duration // first backoff (default 2s, doubling, capped at 1m)
	IdleTimeout time.Duration // a body that sends nothing for this long has stalled (default 60s)
	BatchSize   int           // items per Ingest call (default IngestBatch)
	SpoolDir    string        // where runs are spooled before ingest (default os.TempDir())
	// MaxInvalidRatio is the share of items that may fail validation before the run counts as garbage
	// (default 0.5).
	MaxInvalidRatio float64
}

// Scheduler collects every enabled feed on its interval. A run is all or nothing: items are spooled to
// a temporary file while the feed is read, and ingested only when the whole body was read and parsed
// and looked sane. A feed that answers 5xx, stalls, or sends garbage is marked unhealthy and nothing
// stored changes. A feed that is disabled or deleted is simply not collected any more: its indicators
// keep their attribution and age out.
type Scheduler struct {
	cfg     SchedulerConfig
	http    *httpCollector
	running sync.Mutex
}

// NewScheduler builds a scheduler.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Store == nil && cfg.Engine != nil {
		cfg.Store = cfg.Engine.Store()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Clock == nil {
		cfg.Clock = socbot.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 15 * time.Second
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	} else if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 2 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = IngestBatch
	}
	if cfg.MaxInvalidRatio <= 0 {
		cfg.MaxInvalidRatio = 0.5
	}
	if cfg.Owner == "" {
		cfg.Owner = socbot.NewID()
	}
	s := &Scheduler{cfg: cfg}
	s.http = &httpCollector{s: s}
	return s
}

// Run collects due feeds until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("intel: listing feeds failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunDue collects every enabled feed whose interval has passed since its last attempt.
func (s *Scheduler) RunDue(ctx context.Context) error {
	feeds, err := s.cfg.Store.Feeds(ctx, "*")
	if err != nil {
		return err
	}
	now := s.cfg.Clock.Now()
	for _, f := range feeds {
		if !f.Enabled {
			continue
		}
		st, _ := s.cfg.Store.FeedStatus(ctx, f.TenantID, f.Name)
		iv := time.Duration(f.Interval)
		if iv <= 0 {
			iv = time.Hour
		}
		if !st.LastAttempt.IsZero() && now.Sub(st.LastAttempt) < iv {
			continue
		}
		if l, ok := s.cfg.Store.(FeedLeaser); ok {
			timeout := time.Duration(f.Timeout)
			if timeout <= 0 {
				timeout = 10 * time.Minute
			}
			claimed, err := l.ClaimFeedRun(ctx, f.TenantID, f.Name, s.cfg.Owner, now, now.Add(timeout+time.Minute))
			if err != nil {
				return err
			}
			if !claimed {
				continue // another node collects it
			}
		}
		if _, err := s.RunFeed(ctx, f); err != nil {
			s.cfg.Logger.Warn("intel: feed run failed", "tenant", f.TenantID, "feed", f.Name, "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// RunFeed collects one feed now and records its status. The returned error is the run's failure
// (also recorded in the status); the stored indicators are untouched when it is not nil, except when
// the store itself failed part-way through ingesting.
func (s *Scheduler) RunFeed(ctx context.Context, f Feed) (FeedStatus, error) {
	s.running.Lock()
	defer s.running.Unlock()
	if len(f.SealedAuth) > 0 {
		if s.cfg.Secrets == nil {
			return FeedStatus{TenantID: f.TenantID, Name: f.Name}, socbot.E("intel.Scheduler", socbot.KindUnavailable, "feed "+f.Name+" has sealed credentials and the scheduler has no keyring")
		}
		if err := OpenFeedAuth(s.cfg.Secrets, &f); err != nil {
			return FeedStatus{TenantID: f.TenantID, Name: f.Name}, err
		}
	}
	prev, err := s.cfg.Store.FeedStatus(ctx, f.TenantID, f.Name)
	if err != nil {
		prev = FeedStatus{TenantID: f.TenantID, Name: f.Name}
	}
	work := prev
	work.LastAttempt = s.cfg.Clock.Now()
	stats, notMod, runErr := s.collect(ctx, f, &work)
	st := prev
	st.LastAttempt = work.LastAttempt
	st.LastStatus = work.LastStatus
	if runErr != nil {
		st.Healthy = false
		st.Failures++
		st.LastError = runErr.Error()
	} else {
		st.ETag, st.LastModified, st.Cursor = work.ETag, work.LastModified, work.Cursor
		st.Healthy = true
		st.Failures = 0
		st.LastError = ""
		st.LastSuccess = work.LastAttempt
		st.NotModified = notMod
		st.LastStats = stats
	}
	if err := s.cfg.Store.PutFeedStatus(context.WithoutCancel(ctx), st); err != nil {
		s.cfg.Logger.Error("intel: saving feed status failed", "feed", f.Name, "err", err)
	}
	return st, runErr
}

func (s *Scheduler) collect(ctx context.Context, f Feed, st *FeedStatus) (IngestStats, bool, error) {
	const op = "intel.Scheduler"
	var stats IngestStats
	timeout := time.Duration(f.Timeout)
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	spool, err := os.CreateTemp(s.cfg.SpoolDir, "socbot-feed-*.jsonl")
	if err != nil {
		return stats, false, socbot.E(op, err, "creating the spool file")
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	w := bufio.NewWriterSize(spool, 256<<10)
	enc := json.NewEncoder(w)
	total, invalid := 0, 0
	emit := func(it Item) error {
		total++
		if v, ok := ioc.Normalize(it.Type, it.Value); ok {
			it.Value = v
		} else {
			invalid++
			return nil
		}
		return enc.Encode(&it)
	}
	var col Collector = s.http
	if c, ok := s.cfg.Collectors[f.Format]; ok {
		col = c
	}
	notMod, err := col.Collect(ctx, f, st, emit)
	if err != nil {
		return stats, false, socbot.E(op, err, "feed "+f.Name)
	}
	if notMod {
		return stats, true, nil
	}
	if total > 0 && float64(invalid) > s.cfg.MaxInvalidRatio*float64(total) {
		return stats, false, socbot.E(op, socbot.KindInvalid, fmt.Sprintf("feed %s: %d of %d items are not valid indicators; treating the response as garbage", f.Name, invalid, total))
	}
	if err := w.Flush(); err != nil {
		return stats, false, socbot.E(op, err, "writing the spool")
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return stats, false, socbot.E(op, err)
	}
	stats.Invalid = invalid
	src := f.Source()
	dec := json.NewDecoder(bufio.NewReaderSize(spool, 256<<10))
	batch := make([]Item, 0, s.cfg.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		bs, err := s.cfg.Engine.Ingest(ctx, f.TenantID, src, batch)
		stats.Add(bs)
		batch = batch[:0]
		return err
	}
	for {
		var it Item
		if err := dec.Decode(&it); err == io.EOF {
			break
		} else if err != nil {
			return stats, false, socbot.E(op, err, "reading the spool")
		}
		batch = append(batch, it)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return stats, false, err
			}
		}
	}
	if err := flush(); err != nil {
		return stats, false, err
	}
	return stats, false, nil
}

// httpCollector fetches a feed over HTTP with conditional GET, retries and stall detection, and
// hands the body to the parser as a stream.
type httpCollector struct{ s *Scheduler }

// errRetry marks a failure worth retrying (network error, 5xx, 429).
type errRetry struct {
	err   error
	after time.Duration
}

func (e *errRetry) Error() string { return e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }

func (c *httpCollector) Collect(ctx context.Context, f Feed, st *FeedStatus, emit func(Item) error) (bool, error) {
	if c.s.cfg.Parse == nil {
		return false, socbot.E("intel.httpCollector", socbot.KindUnsupported, "no parser configured")
	}
	wait := c.s.cfg.RetryWait
	var last error
	for attempt := 0; attempt <= c.s.cfg.Retries; attempt++ {
		if attempt > 0 {
			d := wait
			var re *errRetry
			if errors.As(last, &re) && re.after > 0 {
				d = min(re.after, time.Minute)
			}
			select {
			case <-ctx.Done():
				return false, last
			case <-time.After(d):
			}
			wait = min(wait*2, time.Minute)
		}
		notMod, err := c.once(ctx, f, st, emit)
		if err == nil {
			return notMod, nil
		}
		last = err
		var re *errRetry
		if !errors.As(err, &re) {
			return false, err
		}
	}
	return false, last
}

func (c *httpCollector) once(ctx context.Context, f Feed, st *FeedStatus, emit func(Item) error) (bool, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return false, socbot.FieldError("intel.httpCollector", "url", "%v", err)
	}
	f.Auth.Apply(req)
	req.Header.Set("User-Agent", "socbot-intel")
	if st.ETag != "" {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	resp, err := c.s.cfg.HTTPClient.Do(req)
	if err != nil {
		return false, &errRetry{err: err}
	}
	defer resp.Body.Close()
	st.LastStatus = resp.StatusCode
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return true, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		after := time.Duration(0)
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			after = time.Duration(s) * time.Second
		}
		return false, &errRetry{err: fmt.Errorf("HTTP %d", resp.StatusCode), after: after}
	case resp.StatusCode != http.StatusOK:
		return false, socbot.E("intel.httpCollector", socbot.KindUnavailable, fmt.Sprintf("HTTP %d", resp.StatusCode))
	}
	var body io.Reader = &idleReader{r: resp.Body, idle: c.s.cfg.IdleTimeout, cancel: cancel}
	if f.MaxBytes > 0 {
		body = &capReader{r: body, left: f.MaxBytes}
	}
	format := f.Format
	if format == "" {
		format = "auto"
	}
	if err := c.s.cfg.Parse(ctx, format, f, body, emit); err != nil {
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
			return false, cause
		}
		return false, err
	}
	st.ETag = resp.Header.Get("ETag")
	st.LastModified = resp.Header.Get("Last-Modified")
	return false, nil
}

// errStalled is the cause of a fetch cancelled because the body stopped flowing.
var errStalled = errors.New("feed stalled: no data within the idle timeout")

// idleReader cancels the request when a Read does not return within idle.
type idleReader struct {
	r      io.Reader
	idle   time.Duration
	cancel context.CancelCauseFunc
}

func (r *idleReader) Read(p []byte) (int, error) {
	t := time.AfterFunc(r.idle, func() { r.cancel(errStalled) })
	n, err := r.r.Read(p)
	if !t.Stop() && err != nil {
		return n, errStalled
	}
	return n, err
}

type capReader struct {
	r    io.Reader
	left int64
}

func (r *capReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, socbot.E("intel.feed", socbot.KindTooLarge, "feed body exceeds max_bytes")
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.left -= int64(n)
	return n, err
}

// FeedName normalises a feed name for display and keys.
func FeedName(s string) string { return strings.TrimSpace(s) }
