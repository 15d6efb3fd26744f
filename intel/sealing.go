package intel

import (
	"encoding/json"

	socbot "github.com/socbot/socbot"
)

// Sealer encrypts and decrypts values per tenant (secrets.Keyring implements it with age). Feed
// credentials are only ever stored sealed.
type Sealer interface {
	Seal(tenantID string, plaintext []byte) ([]byte, error)
	Open(tenantID string, sealed []byte) ([]byte, error)
}

// SealKey is the keyring tenant under which a feed of tenantID is sealed: the tenant itself, or
// "_mssp" for MSSP-wide feeds (the keyring needs a name).
func SealKey(tenantID string) string {
	if tenantID == "" {
		return "_mssp"
	}
	return tenantID
}

// sealedAuth is the sealed payload: FeedAuth with its secret fields.
type sealedAuth struct {
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
	BearerToken string `json:"bearer_token,omitempty"`
	Header      string `json:"header,omitempty"`
	HeaderValue string `json:"header_value,omitempty"`
}

func (a FeedAuth) hasSecret() bool {
	return a.Password != "" || a.BearerToken != "" || a.HeaderValue != ""
}

// HasSecret reports whether the auth carries a password, bearer token or header value.
func (a FeedAuth) HasSecret() bool { return a.hasSecret() }

// SealFeedAuth moves the feed's credentials into f.SealedAuth, sealed for its tenant, and clears
// the secret fields of f.Auth (the user name and header name stay readable). A feed without
// secrets in Auth is left alone (an update that sends no credentials keeps its SealedAuth).
func SealFeedAuth(s Sealer, f *Feed) error {
	const op = "intel.SealFeedAuth"
	if !f.Auth.hasSecret() {
		return nil
	}
	if s == nil {
		return socbot.E(op, socbot.KindUnavailable, "no keyring to seal feed credentials with")
	}
	b, err := json.Marshal(sealedAuth(f.Auth))
	if err != nil {
		return socbot.E(op, err)
	}
	sealed, err := s.Seal(SealKey(f.TenantID), b)
	if err != nil {
		return socbot.E(op, err, "feed "+f.Name)
	}
	f.SealedAuth = sealed
	f.Auth.Password, f.Auth.BearerToken, f.Auth.HeaderValue = "", "", ""
	return nil
}

// OpenFeedAuth restores f.Auth from f.SealedAuth.
func OpenFeedAuth(s Sealer, f *Feed) error {
	const op = "intel.OpenFeedAuth"
	if len(f.SealedAuth) == 0 {
		return nil
	}
	b, err := s.Open(SealKey(f.TenantID), f.SealedAuth)
	if err != nil {
		return socbot.E(op, err, "feed "+f.Name)
	}
	var a sealedAuth
	if err := json.Unmarshal(b, &a); err != nil {
		return socbot.E(op, socbot.KindInvalid, "feed "+f.Name+": sealed credentials are damaged")
	}
	f.Auth = FeedAuth(a)
	return nil
}
