package vendorhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/socbot/socbot"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 19, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"7", 7 * time.Second}, {"1.5", 1500 * time.Millisecond}, {"-3", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestStatusErrorClassification(t *testing.T) {
	c := NewClient("x", socbot.ConnectorConfig{}, Deps{})
	for _, tc := range []struct {
		status          int
		retryable, auth bool
	}{
		{400, false, false}, {401, false, true}, {403, false, false}, {404, false, false},
		{409, false, false}, {429, true, false}, {500, true, false}, {503, true, false},
	} {
		e := c.StatusError(&Response{Status: tc.status, Header: http.Header{}}, "", "")
		if e.Retryable != tc.retryable || e.Auth != tc.auth {
			t.Errorf("HTTP %d: retryable %v auth %v", tc.status, e.Retryable, e.Auth)
		}
	}
	c.RetryAfterFrom = func(http.Header, time.Time) time.Duration { return time.Minute }
	if e := c.StatusError(&Response{Status: 429, Header: http.Header{}}, "", ""); e.RetryAfter != time.Minute {
		t.Errorf("vendor delay header not used for 429: %v", e.RetryAfter)
	}
	if e := c.StatusError(&Response{Status: 503, Header: http.Header{"Retry-After": {"2"}}}, "", ""); e.RetryAfter != 2*time.Second {
		t.Errorf("5xx must use Retry-After, got %v", e.RetryAfter)
	}
}

func TestRedactAndTransportErrors(t *testing.T) {
	var logs bytes.Buffer
	cfg := socbot.ConnectorConfig{Credentials: map[string]string{"token": "s3cr3t/t0ken+v@lue"}, Timeout: 100 * time.Millisecond}
	c := NewClient("x", cfg, Deps{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if got := c.Redact("a s3cr3t/t0ken+v@lue b " + url.QueryEscape("s3cr3t/t0ken+v@lue")); strings.Contains(got, "t0ken") {
		t.Fatalf("not redacted: %s", got)
	}
	// A transport error quoting a URL with the secret in the query.
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/api/?key="+url.QueryEscape("s3cr3t/t0ken+v@lue"), nil)
	_, err := c.Do(context.Background(), req)
	var ve *socbot.VendorError
	if !errors.As(err, &ve) || !ve.Retryable || strings.Contains(ve.Error(), "t0ken") || strings.Contains(logs.String(), "t0ken") {
		t.Fatalf("transport error %v / logs %s", err, logs.String())
	}
	// A hang past the timeout is retryable; a caller's cancellation is not.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	if _, err := c.Do(context.Background(), req); !errors.As(err, &ve) || !ve.Retryable {
		t.Fatalf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	if _, err := c.Do(ctx, req); !errors.As(err, &ve) || ve.Retryable {
		t.Fatalf("cancellation: %v", err)
	}
}

func TestTokenSource(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			calls++
			_ = r.ParseForm()
			if r.PostForm.Get("client_secret") != "good-secret" {
				w.WriteHeader(400)
				_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
				return
			}
			_, _ = w.Write([]byte(`{"access_token":"tok-` + string(rune('0'+calls)) + `","expires_in":3600}`))
		case "/api":
			if r.Header.Get("Authorization") != "Bearer tok-2" {
				w.WriteHeader(401) // the first token was revoked
				return
			}
			w.WriteHeader(204)
		}
	}))
	defer srv.Close()
	c := NewClient("x", socbot.ConnectorConfig{}, Deps{})
	ts := &TokenSource{Client: c, URL: srv.URL + "/token", Form: url.Values{"client_secret": {"good-secret"}}}
	r, err := ts.DoBearer(context.Background(), func() (*http.Request, error) { return NewRequest(http.MethodGet, srv.URL+"/api", nil) })
	if err != nil || r.Status != 204 || calls != 2 {
		t.Fatalf("refresh on 401: %v %v calls=%d", r, err, calls)
	}
	bad := &TokenSource{Client: c, URL: srv.URL + "/token", Form: url.Values{"client_secret": {"bad"}}}
	_, err = bad.Token(context.Background())
	var ve *socbot.VendorError
	if !errors.As(err, &ve) || !ve.Auth || ve.Retryable || ve.Code != "invalid_client" {
		t.Fatalf("bad client: %v", err)
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ"}`))
	f.Add([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Any input must decode or fail without panicking; ParseRetryAfter must never go negative.
		_, _, _, _ = ParseToken(b)
		if d := ParseRetryAfter(string(b), time.Unix(1_779_195_600, 0)); d < 0 {
			t.Fatalf("negative delay %v for %q", d, b)
		}
	})
}

func TestRotatingSecretsReplaced(t *testing.T) {
	c := NewClient("x", socbot.ConnectorConfig{}, Deps{})
	for i := 0; i < 1000; i++ {
		c.SetSecret("token", fmt.Sprintf("token-value-%04d", i))
	}
	if len(c.rotating) != 1 {
		t.Fatalf("%d rotating secrets kept, want 1", len(c.rotating))
	}
	if got := c.Redact("a token-value-0999 b"); got != "a [REDACTED] b" {
		t.Fatal(got)
	}
}
