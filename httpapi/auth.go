package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// authenticate resolves the bearer token into a principal. Tokens are looked up by their hash; revoked
// and expired tokens are refused.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const op = "httpapi.auth"
		h := r.Header.Get("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			secret, ok = strings.CutPrefix(h, "Token ")
		}
		secret = strings.TrimSpace(secret)
		if !ok || secret == "" {
			writeError(w, r, s.Logger, socbot.E(op, socbot.KindUnauthenticated, "missing API token: send Authorization: Bearer <token>"))
			return
		}
		tok, err := s.Store.TokenByHash(r.Context(), socbot.HashToken(secret))
		if err != nil {
			if socbot.IsKind(err, socbot.KindNotFound) {
				err = socbot.E(op, socbot.KindUnauthenticated, "invalid API token")
			}
			writeError(w, r, s.Logger, err)
			return
		}
		now := s.Clock.Now()
		if tok.RevokedAt != nil {
			writeError(w, r, s.Logger, socbot.E(op, socbot.KindUnauthenticated, "API token revoked"))
			return
		}
		if tok.ExpiresAt != nil && now.After(*tok.ExpiresAt) {
			writeError(w, r, s.Logger, socbot.E(op, socbot.KindUnauthenticated, "API token expired"))
			return
		}
		s.touch(tok.ID, now)
		name := "token:" + tok.ID
		if tok.Name != "" {
			name += " (" + tok.Name + ")"
		}
		p := socbot.Principal{Role: tok.Role, TenantID: tok.TenantID, Name: name, TokenID: tok.ID}
		next.ServeHTTP(w, r.WithContext(socbot.WithPrincipal(r.Context(), p)))
	})
}

// touch records a token's last use, at most once a minute per token, off the request path.
func (s *Server) touch(id string, now time.Time) {
	s.touchMu.Lock()
	last, ok := s.touched[id]
	if ok && now.Sub(last) < time.Minute {
		s.touchMu.Unlock()
		return
	}
	s.touched[id] = now
	s.touchMu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Store.TouchToken(ctx, id, now); err != nil {
			s.Logger.Debug("could not record token use", "token", id, "err", err)
		}
	}()
}

func principal(r *http.Request) socbot.Principal {
	p, _ := socbot.PrincipalFrom(r.Context())
	return p
}

// tenantOf returns the tenant a request acts on. A tenant-bound principal acts on its own tenant and a
// ?tenant= naming any other is refused. An admin names one with ?tenant=ID or NAME; when it names none,
// the result is "" (all tenants) unless required.
func (s *Server) tenantOf(r *http.Request, required bool) (string, error) {
	return s.resolveTenant(r.Context(), principal(r), r.URL.Query().Get("tenant"), required)
}

func (s *Server) resolveTenant(ctx context.Context, p socbot.Principal, ref string, required bool) (string, error) {
	const op = "httpapi.tenant"
	if !p.MSSPWide() {
		if ref != "" && ref != p.TenantID {
			t, err := s.Store.TenantByName(ctx, ref)
			if err != nil || t.ID != p.TenantID {
				return "", socbot.E(op, socbot.KindForbidden, "this token is bound to another tenant")
			}
		}
		return p.TenantID, nil
	}
	if ref == "" {
		if required {
			return "", socbot.FieldError(op, "tenant", "name the tenant with ?tenant=ID or NAME (admin tokens are MSSP-wide)")
		}
		return "", nil
	}
	t, err := s.Store.Tenant(ctx, ref)
	if err != nil {
		t, err = s.Store.TenantByName(ctx, ref)
	}
	if err != nil {
		return "", socbot.FieldError(op, "tenant", "no tenant %q", ref)
	}
	return t.ID, nil
}
