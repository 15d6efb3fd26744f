package vendorhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// TokenSource fetches and caches an OAuth2 client-credentials access token.
type TokenSource struct {
	Client *Client
	URL    string     // token endpoint
	Form   url.Values // grant_type, client_id, client_secret, scope… as the vendor wants them
	// BasicUser/BasicPass, when set, are sent as HTTP Basic auth (Umbrella).
	BasicUser, BasicPass string

	mu  sync.Mutex
	tok string
	exp time.Time
}

// tokenAnswer is the standard token response.
type tokenAnswer struct {
	AccessToken      string  `json:"access_token"`
	TokenType        string  `json:"token_type"`
	ExpiresIn        float64 `json:"expires_in"`
	Error            string  `json:"error"`
	ErrorDescription string  `json:"error_description"`
}

// ParseToken decodes a token endpoint answer.
func ParseToken(body []byte) (token string, expiresIn time.Duration, errCode string, err error) {
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return "", 0, "", err
	}
	return a.AccessToken, time.Duration(a.ExpiresIn * float64(time.Second)), a.Error, nil
}

// Token returns a valid access token, fetching one when none is cached or it is about to expire.
// A rejected client (any 4xx but 429 from the token endpoint) is an Auth error.
func (t *TokenSource) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Client.Clock.Now()
	if t.tok != "" && now.Before(t.exp) {
		return t.tok, nil
	}
	req, err := NewRequest(http.MethodPost, t.URL, t.Form)
	if err != nil {
		return "", t.Client.Errorf("token", err.Error())
	}
	if t.BasicUser != "" {
		req.SetBasicAuth(t.BasicUser, t.BasicPass)
	}
	r, err := t.Client.Do(ctx, req)
	if err != nil {
		return "", err
	}
	tok, ttl, code, perr := ParseToken(r.Body)
	if r.Status >= 300 || perr != nil || tok == "" {
		ve := t.Client.StatusError(r, code, "token endpoint refused the client credentials")
		if r.Status >= 400 && r.Status < 500 && r.Status != http.StatusTooManyRequests {
			ve.Auth = true
		}
		if r.Status < 300 {
			ve.Msg = "token endpoint answered without a token"
		}
		return "", ve
	}
	t.Client.SetSecret("token "+t.URL, tok)
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	t.tok, t.exp = tok, now.Add(ttl-ttl/10)
	return tok, nil
}

// Invalidate drops the cached token (after a 401 on an API call).
func (t *TokenSource) Invalidate() {
	t.mu.Lock()
	t.tok = ""
	t.mu.Unlock()
}

// DoBearer sends a request built by mk with "Authorization: Bearer <token>". On a 401 it drops the
// token, fetches a new one and sends once more (an expired token is the protocol's normal case, not
// a retry of a failure). The second 401 is returned as is.
func (t *TokenSource) DoBearer(ctx context.Context, mk func() (*http.Request, error)) (*Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := t.Token(ctx)
		if err != nil {
			return nil, err
		}
		req, err := mk()
		if err != nil {
			return nil, t.Client.Errorf("request", err.Error())
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := t.Client.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		if r.Status == http.StatusUnauthorized && attempt == 0 {
			t.Invalidate()
			continue
		}
		return r, nil
	}
}

// MicrosoftTokenSource is the Microsoft identity platform client-credentials token source
// (login_url/<tenant>/oauth2/v2.0/token) for one resource scope, shared by Graph and Defender.
func MicrosoftTokenSource(hc *Client, loginURL, tenant, clientID, secret, scope string) *TokenSource {
	return &TokenSource{Client: hc, URL: JoinURL(loginURL, "/"+url.PathEscape(tenant)+"/oauth2/v2.0/token"),
		Form: url.Values{"client_id": {clientID}, "client_secret": {secret}, "grant_type": {"client_credentials"}, "scope": {scope}}}
}
