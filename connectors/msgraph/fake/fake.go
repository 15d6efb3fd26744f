// Package fake is an in-memory Microsoft Graph (v1.0) and Microsoft identity platform token endpoint
// built from socbot's containment spec §6: client-credentials tokens per tenant and scope, users with
// accountEnabled (PATCH → 204), revokeSignInSessions (200 with value true, or 204 behind a switch),
// 403 Authorization_RequestDenied for privileged accounts [U], mailbox messages found by
// internetMessageId and moved between folders (a move answers 201 with a new id), the Graph error
// envelope, and 429 with Retry-After.
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/faults"
)

// Options configures the fake.
type Options struct {
	Tenant, ClientID, ClientSecret string
	Users                          []string          // user principal names to seed (enabled)
	Privileged                     []string          // users whose disabling is refused with 403 [U]
	Messages                       map[string]string // internetMessageId -> mailbox, seeded in the inbox
	RevokeNoContent                bool              // revokeSignInSessions answers 204 instead of 200 [V known issue]
	TokenTTL                       time.Duration     // default 1 h
	RetryAfter                     string            // Retry-After of an injected 429 (default "6")
	Clock                          socbot.Clock
}

// Stats are the fake's counters.
type Stats struct{ AuthFailures, Writes, Tokens, Revocations int }

type user struct {
	id, upn   string
	enabled   bool
	revokedAt time.Time
}

type message struct{ id, mailbox, imid, folder string }

// Server is the fake Graph service.
type Server struct {
	opt    Options
	faults faults.Injector

	mu       sync.Mutex
	tokens   map[string]time.Time
	users    map[string]*user // lower-case upn or id -> user
	messages map[string]*message
	seq      int
	stats    Stats
}

// New builds the fake.
func New(opt Options) *Server {
	if opt.Clock == nil {
		opt.Clock = socbot.SystemClock{}
	}
	if opt.TokenTTL <= 0 {
		opt.TokenTTL = time.Hour
	}
	if opt.RetryAfter == "" {
		opt.RetryAfter = "6"
	}
	s := &Server{opt: opt, tokens: map[string]time.Time{}, users: map[string]*user{}, messages: map[string]*message{}}
	for i, u := range opt.Users {
		usr := &user{id: fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1), upn: u, enabled: true}
		s.users[strings.ToLower(u)] = usr
		s.users[usr.id] = usr
	}
	for imid, mbox := range opt.Messages {
		s.seq++
		id := fmt.Sprintf("AAMkAD%04d", s.seq)
		s.messages[id] = &message{id: id, mailbox: strings.ToLower(mbox), imid: imid, folder: "inbox"}
	}
	return s
}

// Faults is the fault injector.
func (s *Server) Faults() *faults.Injector { return &s.faults }

// Stats returns the counters.
func (s *Server) Stats() Stats { s.mu.Lock(); defer s.mu.Unlock(); return s.stats }

// AuthFailures counts refused client credentials and tokens.
func (s *Server) AuthFailures() int { return s.Stats().AuthFailures }

// Writes counts state-changing calls.
func (s *Server) Writes() int { return s.Stats().Writes }

// RevokedAt is when the user's sessions were last revoked.
func (s *Server) RevokedAt(upn string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[strings.ToLower(upn)]; u != nil {
		return u.revokedAt
	}
	return time.Time{}
}

// Folder returns the folder of the message with this internetMessageId ("" if none).
func (s *Server) Folder(mailbox, imid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.mailbox == strings.ToLower(mailbox) && m.imid == imid {
			return m.folder
		}
	}
	return ""
}

// Blocked reports: disable_user → the account is disabled; purge_message ("mailbox|imid") → the
// message is out of the inbox.
func (s *Server) Blocked(kind socbot.ActionKind, value string) bool {
	switch kind {
	case socbot.ActDisableUser, socbot.ActEnableUser:
		s.mu.Lock()
		defer s.mu.Unlock()
		u := s.users[strings.ToLower(value)]
		return u != nil && !u.enabled
	case socbot.ActPurgeMessage, socbot.ActRestoreMessage:
		mbox, imid, _ := strings.Cut(value, "|")
		f := s.Folder(mbox, imid)
		return f != "" && f != "inbox"
	}
	return false
}

func send(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func graphError(w http.ResponseWriter, status int, code, msg string) {
	send(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"date": "2026-05-19T13:00:00", "request-id": "5e2b1c3d-0000-4000-8000-000000000001", "client-request-id": "5e2b1c3d-0000-4000-8000-000000000001"}}})
}

var (
	reToken    = regexp.MustCompile(`^/([^/]+)/oauth2/v2\.0/token$`)
	reUser     = regexp.MustCompile(`^/v1\.0/users/([^/]+)$`)
	reRevoke   = regexp.MustCompile(`^/v1\.0/users/([^/]+)/revokeSignInSessions$`)
	reMessages = regexp.MustCompile(`^/v1\.0/users/([^/]+)(?:/mailFolders/([^/]+))?/messages$`)
	reMove     = regexp.MustCompile(`^/v1\.0/users/([^/]+)/messages/([^/]+)/move$`)
	reFilter   = regexp.MustCompile(`^internetMessageId eq '(.*)'$`)
)

// ServeHTTP serves the token endpoint and Graph.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.faults.Next() {
	case faults.TooMany:
		w.Header().Set("Retry-After", s.opt.RetryAfter)
		graphError(w, 429, "TooManyRequests", "Too many requests")
		return
	case faults.Server:
		graphError(w, 503, "serviceNotAvailable", "Service unavailable")
		return
	case faults.Hang:
		s.faults.Wait(r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Clock.Now()
	if m := reToken.FindStringSubmatch(r.URL.Path); m != nil {
		_ = r.ParseForm()
		f := r.PostForm
		if m[1] != s.opt.Tenant || f.Get("client_id") != s.opt.ClientID || f.Get("client_secret") != s.opt.ClientSecret ||
			f.Get("grant_type") != "client_credentials" || !strings.HasSuffix(f.Get("scope"), "/.default") {
			s.stats.AuthFailures++
			send(w, 401, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": []int{7000215}})
			return
		}
		buf := make([]byte, 18)
		_, _ = rand.Read(buf)
		tok := "eyJ0eXAiOiJKV1Qi." + hex.EncodeToString(buf)
		s.tokens[tok] = now.Add(s.opt.TokenTTL)
		s.stats.Tokens++
		send(w, 200, map[string]any{"token_type": "Bearer", "expires_in": int(s.opt.TokenTTL / time.Second), "ext_expires_in": int(s.opt.TokenTTL / time.Second), "access_token": tok})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, ok := s.tokens[tok]; !ok || !now.Before(exp) {
		s.stats.AuthFailures++
		graphError(w, 401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	path := r.URL.Path
	if m := reUser.FindStringSubmatch(path); m != nil {
		u := s.users[strings.ToLower(unescape(m[1]))]
		if u == nil {
			graphError(w, 404, "Request_ResourceNotFound", "Resource '"+m[1]+"' does not exist or one of its queried reference-property objects are not present.")
			return
		}
		switch r.Method {
		case http.MethodGet:
			send(w, 200, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,accountEnabled,userPrincipalName)/$entity",
				"id": u.id, "userPrincipalName": u.upn, "accountEnabled": u.enabled})
		case http.MethodPatch:
			var b map[string]any
			if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
				graphError(w, 400, "BadRequest", "Unable to read JSON request payload.")
				return
			}
			en, ok := b["accountEnabled"].(bool)
			if !ok || len(b) != 1 {
				graphError(w, 400, "Request_BadRequest", "only accountEnabled may be changed here")
				return
			}
			for _, p := range s.opt.Privileged {
				if strings.EqualFold(p, u.upn) {
					graphError(w, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
					return
				}
			}
			u.enabled = en
			s.stats.Writes++
			send(w, 204, nil)
		default:
			graphError(w, 405, "Request_BadRequest", "method not allowed")
		}
		return
	}
	if m := reRevoke.FindStringSubmatch(path); m != nil && r.Method == http.MethodPost {
		u := s.users[strings.ToLower(unescape(m[1]))]
		if u == nil {
			graphError(w, 404, "Request_ResourceNotFound", "Resource does not exist.")
			return
		}
		u.revokedAt = now
		s.stats.Revocations++
		s.stats.Writes++
		if s.opt.RevokeNoContent {
			send(w, 204, nil)
			return
		}
		send(w, 200, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true})
		return
	}
	if m := reMessages.FindStringSubmatch(path); m != nil && r.Method == http.MethodGet {
		fm := reFilter.FindStringSubmatch(r.URL.Query().Get("$filter"))
		if fm == nil {
			graphError(w, 400, "ErrorInvalidUrlQueryFilter", "unsupported filter")
			return
		}
		mbox, folder := strings.ToLower(unescape(m[1])), m[2]
		out := []any{}
		for _, msg := range s.messages {
			if msg.mailbox == mbox && msg.imid == strings.ReplaceAll(fm[1], "''", "'") && (folder == "" || folder == msg.folder) {
				out = append(out, map[string]any{"id": msg.id, "subject": "…", "receivedDateTime": "2026-05-19T12:00:00Z", "parentFolderId": msg.folder})
			}
		}
		send(w, 200, map[string]any{"value": out})
		return
	}
	if m := reMove.FindStringSubmatch(path); m != nil && r.Method == http.MethodPost {
		msg := s.messages[unescape(m[2])]
		if msg == nil || msg.mailbox != strings.ToLower(unescape(m[1])) {
			graphError(w, 404, "ErrorItemNotFound", "The specified object was not found in the store.")
			return
		}
		var b struct {
			DestinationID string `json:"destinationId"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.DestinationID == "" {
			graphError(w, 400, "ErrorInvalidRequest", "destinationId required")
			return
		}
		delete(s.messages, msg.id)
		s.seq++
		msg.id = fmt.Sprintf("AAMkAD%04d", s.seq) // a move answers a new id
		msg.folder = strings.ToLower(b.DestinationID)
		s.messages[msg.id] = msg
		s.stats.Writes++
		send(w, 201, map[string]any{"id": msg.id, "parentFolderId": msg.folder, "internetMessageId": msg.imid})
		return
	}
	graphError(w, 404, "Request_ResourceNotFound", "no such resource")
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// Faults sets random fault rates on the fake: s.Faults().Set(fake.Faults{Rate429: 0.1, Rate5xx: 0.1, RateHang: 0.1, Seed: 1}).
type Faults = faults.Faults
