package socbot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// Role is what a principal may do.
type Role string

// Roles. Admin is MSSP staff with reach over every tenant; the others are bound to one tenant.
const (
	RoleAdmin   Role = "admin"   // whole MSSP: every tenant, tenants and tokens
	RoleAnalyst Role = "analyst" // one tenant: read and work alerts, incidents, assets, indicators, rules
	RoleViewer  Role = "viewer"  // one tenant: read only (a client's own user)
	RoleIngest  Role = "ingest"  // one tenant: post alerts only
	RoleBot     Role = "bot"     // a socbot bot acting on its own; never held by a token
)

// ParseRole reads a role name.
func ParseRole(s string) (Role, bool) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleAdmin, RoleAnalyst, RoleViewer, RoleIngest:
		return r, true
	}
	return "", false
}

// Principal is who is acting: a token's holder, a CLI user, or a bot.
type Principal struct {
	Role     Role
	TenantID string // empty for admin and bots: MSSP-wide
	Name     string // who, for the audit log: "token:<id> (<name>)", "cli:root", "bot:triage"
	TokenID  string
	UserID   string
}

// MSSPWide reports whether the principal may act on every tenant.
func (p Principal) MSSPWide() bool { return p.Role == RoleAdmin || p.Role == RoleBot }

// CanAccessTenant reports whether the principal may see tenant id at all.
func (p Principal) CanAccessTenant(id string) bool {
	return p.MSSPWide() || (p.TenantID != "" && p.TenantID == id)
}

// Bot returns the principal a bot acts as.
func Bot(name string) Principal { return Principal{Role: RoleBot, Name: "bot:" + name} }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Token is an API token's stored record. The secret itself is shown once and only its hash is kept.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name,omitempty"`
	Role       Role       `json:"role"`
	TenantID   string     `json:"tenant_id,omitempty"`
	Hash       string     `json:"-"`
	Prefix     string     `json:"prefix"` // first characters of the secret, to recognise it
	CreatedBy  string     `json:"created_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// TokenPrefix starts every socbot API token.
const TokenPrefix = "sbt_"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTokenSecret returns a fresh random token secret and its hash for storage.
func NewTokenSecret() (secret, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	secret = TokenPrefix + strings.ToLower(b32.EncodeToString(b[:]))
	return secret, HashToken(secret)
}

// HashToken returns the stored form of a token secret. Secrets carry 256 random bits, so a fast hash
// is enough: there is nothing to brute-force.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// User is a person with access to socbot.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Role      Role      `json:"role"`
	TenantID  string    `json:"tenant_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled,omitempty"`
}
