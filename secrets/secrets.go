// Package secrets keeps credentials encrypted at rest with age (filippo.io/age): every tenant has its
// own X25519 identity, stored in the data directory, and each sealed value is bound to its tenant so
// that one tenant's ciphertext cannot be opened as another's. Plaintext is never logged; Sealed
// values print as "[sealed]".
package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
	socbot "github.com/socbot/socbot"
)

// Keyring seals and opens values with per-tenant age identities kept under dir/keys.
// Safe for concurrent use.
type Keyring struct {
	dir string
	mu  sync.Mutex
	ids map[string]*age.X25519Identity
}

const header = "socbot-sealed v1 tenant="

// OpenKeyring opens (creating if needed, mode 0700) the key directory dataDir/keys.
func OpenKeyring(dataDir string) (*Keyring, error) {
	dir := filepath.Join(dataDir, "keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, socbot.E("secrets.OpenKeyring", socbot.KindUnavailable, err)
	}
	return &Keyring{dir: dir, ids: map[string]*age.X25519Identity{}}, nil
}

func (k *Keyring) keyFile(tenantID string) string {
	sum := sha256.Sum256([]byte(tenantID))
	return filepath.Join(k.dir, hex.EncodeToString(sum[:16])+".agekey")
}

// identity loads or creates the tenant's identity.
func (k *Keyring) identity(tenantID string, create bool) (*age.X25519Identity, error) {
	const op = "secrets.Keyring"
	if tenantID == "" {
		return nil, socbot.FieldError(op, "tenant_id", "required")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if id, ok := k.ids[tenantID]; ok {
		return id, nil
	}
	path := k.keyFile(tenantID)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		ids, err := age.ParseIdentities(bytes.NewReader(b))
		if err != nil || len(ids) != 1 {
			return nil, socbot.E(op, socbot.KindOther, "key file of tenant "+tenantID+" is damaged")
		}
		id, ok := ids[0].(*age.X25519Identity)
		if !ok {
			return nil, socbot.E(op, socbot.KindOther, "key file of tenant "+tenantID+" is not an X25519 identity")
		}
		k.ids[tenantID] = id
		return id, nil
	case errors.Is(err, os.ErrNotExist) && create:
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, socbot.E(op, err)
		}
		content := "# socbot tenant " + tenantID + "\n" + id.String() + "\n"
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			return nil, socbot.E(op, socbot.KindUnavailable, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, socbot.E(op, socbot.KindUnavailable, err)
		}
		k.ids[tenantID] = id
		return id, nil
	case errors.Is(err, os.ErrNotExist):
		return nil, socbot.E(op, socbot.KindNotFound, "no key for tenant "+tenantID)
	default:
		return nil, socbot.E(op, socbot.KindUnavailable, err)
	}
}

// Seal encrypts plaintext for the tenant.
func (k *Keyring) Seal(tenantID string, plaintext []byte) ([]byte, error) {
	id, err := k.identity(tenantID, true)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w, err := age.Encrypt(&out, id.Recipient())
	if err != nil {
		return nil, socbot.E("secrets.Keyring.Seal", err)
	}
	if _, err := io.WriteString(w, header+tenantID+"\n"); err != nil {
		return nil, socbot.E("secrets.Keyring.Seal", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, socbot.E("secrets.Keyring.Seal", err)
	}
	if err := w.Close(); err != nil {
		return nil, socbot.E("secrets.Keyring.Seal", err)
	}
	return out.Bytes(), nil
}

// Open decrypts a value sealed for the tenant. A value sealed for another tenant fails with
// KindForbidden even when the key would open it.
func (k *Keyring) Open(tenantID string, sealed []byte) ([]byte, error) {
	const op = "secrets.Keyring.Open"
	id, err := k.identity(tenantID, false)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		return nil, socbot.E(op, socbot.KindForbidden, "value was not sealed for tenant "+tenantID)
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, socbot.E(op, socbot.KindInvalid, "sealed value is damaged")
	}
	want := header + tenantID + "\n"
	if !strings.HasPrefix(string(b), want) {
		return nil, socbot.E(op, socbot.KindForbidden, "value was not sealed for tenant "+tenantID)
	}
	return b[len(want):], nil
}

// SealJSON seals v marshalled as JSON (a connector's credential map, for example).
func (k *Keyring) SealJSON(tenantID string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, socbot.E("secrets.Keyring.SealJSON", socbot.KindInvalid, err)
	}
	return k.Seal(tenantID, b)
}

// OpenJSON opens a value sealed by SealJSON into v.
func (k *Keyring) OpenJSON(tenantID string, sealed []byte, v any) error {
	b, err := k.Open(tenantID, sealed)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return socbot.E("secrets.Keyring.OpenJSON", socbot.KindInvalid, "sealed value is not JSON")
	}
	return nil
}

// Sealed is ciphertext that never shows itself in logs, fmt output or JSON.
type Sealed []byte

func (Sealed) String() string               { return "[sealed]" }
func (Sealed) GoString() string             { return "[sealed]" }
func (Sealed) MarshalJSON() ([]byte, error) { return []byte(`"[sealed]"`), nil }
func (Sealed) MarshalText() ([]byte, error) { return []byte("[sealed]"), nil }
