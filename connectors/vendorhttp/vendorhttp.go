// Package vendorhttp is the HTTP plumbing every socbot vendor connector shares: one call with a
// deadline, the body read under a size limit, vendor failures classified into *socbot.VendorError
// (Retryable, RetryAfter, Auth) for the framework's retry policy, credentials redacted from every
// error and log line, and an OAuth2 client-credentials token cache.
//
// It never retries by itself: retries belong to the containment framework.
package vendorhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socbot/socbot"
)

// Deps are what a connector is handed besides its configuration.
type Deps struct {
	Logger *slog.Logger
	Clock  socbot.Clock
}

// DepsOf takes the logger and clock the connector's builder passed in its configuration.
func DepsOf(cfg socbot.ConnectorConfig) Deps { return Deps{Logger: cfg.Logger, Clock: cfg.Clock} }

// WithDefaults fills a missing logger (discarding) and clock (system).
func (d Deps) WithDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = socbot.SystemClock{}
	}
	return d
}

// DefaultTimeout bounds one vendor call when the configuration gives none.
const DefaultTimeout = 30 * time.Second

// MaxBody is the largest vendor answer read.
const MaxBody = 16 << 20

// Client performs vendor calls for one connector instance.
type Client struct {
	Connector string // connector type, used in errors
	HTTP      *http.Client
	Timeout   time.Duration
	Logger    *slog.Logger
	Clock     socbot.Clock
	// RetryAfterFrom, when set, reads a 429's delay from the vendor's own header (CrowdStrike's
	// epoch X-RateLimit-RetryAfter, Mimecast's X-RateLimit-Reset in ms) instead of Retry-After.
	RetryAfterFrom func(h http.Header, now time.Time) time.Duration

	mu       sync.RWMutex
	secrets  []string          // configured credentials
	rotating map[string]string // slot -> current short-lived secret (token, session)
}

// NewClient builds the client of one connector instance. Every non-empty credential value of cfg is
// registered as a secret to redact, as are the extra values given.
func NewClient(connector string, cfg socbot.ConnectorConfig, deps Deps) *Client {
	deps = deps.WithDefaults()
	c := &Client{Connector: connector, HTTP: cfg.HTTPClient, Timeout: cfg.Timeout, Logger: deps.Logger, Clock: deps.Clock}
	if c.HTTP == nil {
		c.HTTP = &http.Client{}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	for _, v := range cfg.Credentials {
		c.AddSecret(v)
	}
	return c
}

// AddSecret registers a long-lived value (a configured credential, a generated API key) that must
// never appear in errors or logs.
func (c *Client) AddSecret(s string) {
	if len(s) < 4 {
		return // too short to redact without mangling ordinary text; credentials are longer
	}
	c.mu.Lock()
	c.secrets = append(c.secrets, s, url.QueryEscape(s))
	c.mu.Unlock()
}

// SetSecret registers a short-lived secret in a named slot, replacing the slot's previous value (a
// refreshed token or session must not make the redaction list grow forever).
func (c *Client) SetSecret(slot, s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rotating == nil {
		c.rotating = map[string]string{}
	}
	if len(s) < 4 {
		delete(c.rotating, slot)
		return
	}
	c.rotating[slot] = s
}

// Redact replaces every registered secret in s.
func (c *Client) Redact(s string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, sec := range c.secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	for _, sec := range c.rotating {
		for _, v := range []string{sec, url.QueryEscape(sec)} {
			if strings.Contains(s, v) {
				s = strings.ReplaceAll(s, v, "[REDACTED]")
			}
		}
	}
	return s
}

// Response is a vendor answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req with the client's deadline and reads the answer. A transport failure or timeout
// returns a retryable *socbot.VendorError; any HTTP answer, even an error status, returns a Response.
func (c *Client) Do(ctx context.Context, req *http.Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req = req.WithContext(ctx)
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		msg := c.Redact(err.Error())
		c.Logger.Debug("vendor call failed", "connector", c.Connector, "method", req.Method, "path", c.Redact(req.URL.Path), "err", msg)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &socbot.VendorError{Connector: c.Connector, Msg: "call cancelled: " + msg}
		}
		return nil, &socbot.VendorError{Connector: c.Connector, Msg: "transport: " + msg, Retryable: true}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return nil, &socbot.VendorError{Connector: c.Connector, Status: resp.StatusCode, Msg: "reading answer: " + c.Redact(err.Error()), Retryable: true}
	}
	c.Logger.Debug("vendor call", "connector", c.Connector, "method", req.Method, "path", c.Redact(req.URL.Path),
		"status", resp.StatusCode, "ms", time.Since(start).Milliseconds())
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// NewRequest builds a request; body may be nil, []byte, string, url.Values (form) or any other value
// (sent as JSON).
func NewRequest(method, rawURL string, body any) (*http.Request, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case url.Values:
		rd = strings.NewReader(b.Encode())
		ctype = "application/x-www-form-urlencoded"
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(js)
		ctype = "application/json"
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// StatusError classifies an HTTP error answer: 429 and 5xx are retryable (with the standard
// Retry-After header honoured), 401 is an authentication failure. code and msg are the vendor's.
func (c *Client) StatusError(r *Response, code, msg string) *socbot.VendorError {
	e := &socbot.VendorError{Connector: c.Connector, Status: r.Status, Code: c.Redact(code), Msg: c.Redact(msg)}
	switch {
	case r.Status == http.StatusTooManyRequests, r.Status >= 500:
		e.Retryable = true
		if c.RetryAfterFrom != nil && r.Status == http.StatusTooManyRequests {
			e.RetryAfter = c.RetryAfterFrom(r.Header, c.Clock.Now())
		} else {
			e.RetryAfter = ParseRetryAfter(r.Header.Get("Retry-After"), c.Clock.Now())
		}
	case r.Status == http.StatusUnauthorized:
		e.Auth = true
	}
	if e.Msg == "" {
		e.Msg = http.StatusText(r.Status)
	}
	return e
}

// Errorf builds a non-retryable VendorError that is not about one HTTP answer (a malformed body,
// a refused request).
func (c *Client) Errorf(code, msg string) *socbot.VendorError {
	return &socbot.VendorError{Connector: c.Connector, Code: code, Msg: c.Redact(msg)}
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date. Unknown gives 0.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && n < 1e7 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Failed is the result of a request that failed with err.
func Failed(err error) socbot.ContainmentResult {
	return socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: err, Detail: err.Error()}
}

// FailAll returns one failed result per request.
func FailAll(n int, err error) []socbot.ContainmentResult {
	out := make([]socbot.ContainmentResult, n)
	for i := range out {
		out[i] = Failed(err)
	}
	return out
}

// Unsupported is the error for a request kind a connector does not carry out.
func Unsupported(connector string, k socbot.ActionKind) error {
	return socbot.E(connector+".Apply", socbot.KindUnsupported, "action "+string(k)+" not supported by "+connector)
}

// NoChange is the Change text of a planned change that would change nothing.
func NoChange(why string) string { return "no change: " + why }

// ExpiresAt returns now+ttl, or nil for no TTL.
func ExpiresAt(now time.Time, ttl time.Duration) *time.Time {
	if ttl <= 0 {
		return nil
	}
	t := now.Add(ttl).UTC()
	return &t
}

// JoinURL appends a path (and optional query) to a base URL without doubling slashes.
func JoinURL(base, path string) string {
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}
