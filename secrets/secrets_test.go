package secrets

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestSealOpenPerTenant(t *testing.T) {
	dir := t.TempDir()
	k, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{"api_key": "s3cr3t-value"}
	sealed, err := k.SealJSON("tenant-a", creds)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "s3cr3t-value") {
		t.Fatal("plaintext visible in sealed value")
	}
	// A fresh keyring over the same directory (a restart) opens it.
	k2, _ := OpenKeyring(dir)
	var got map[string]string
	if err := k2.OpenJSON("tenant-a", sealed, &got); err != nil || got["api_key"] != "s3cr3t-value" {
		t.Fatalf("open after restart: %v %v", got, err)
	}
	// Tenant B cannot open tenant A's value, with or without its own key.
	if _, err := k2.Open("tenant-b", sealed); err == nil {
		t.Fatal("tenant-b opened tenant-a's secret without a key")
	}
	if _, err := k2.Seal("tenant-b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Open("tenant-b", sealed); !socbot.IsKind(err, socbot.KindForbidden) {
		t.Fatalf("tenant-b opening tenant-a's secret: got %v, want forbidden", err)
	}
	// Key files are private.
	files, _ := filepath.Glob(filepath.Join(dir, "keys", "*.agekey"))
	if len(files) != 2 {
		t.Fatalf("want 2 key files, got %v", files)
	}
	for _, f := range files {
		st, _ := os.Stat(f)
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v", f, st.Mode().Perm())
		}
	}
}

func TestSealedNeverPrints(t *testing.T) {
	s := Sealed("ciphertext-bytes")
	b, _ := json.Marshal(struct{ C Sealed }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %#v", s, s), string(b)} {
		if strings.Contains(out, "ciphertext") {
			t.Fatalf("sealed value printed: %s", out)
		}
	}
}
