package abusech

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/socbot/socbot/intel"
)

func TestHeaderFromComment(t *testing.T) {
	in := "# \"first_seen_utc\", \"ioc_id\", \"ioc_value\", \"ioc_type\", \"threat_type\", \"fk_malware\", \"malware_alias\", \"malware_printable\", \"last_seen_utc\", \"confidence_level\", \"reference\", \"tags\", \"anonymous\", \"reporter\"\n" +
		"\"2026-01-04 08:00:00\", \"1\", \"evil-tf.example.net\", \"domain\", \"botnet_cc\", \"x\", \"None\", \"X\", \"\", \"80\", \"None\", \"a,b\", \"0\", \"me\"\n"
	var got []intel.Item
	if err := ParseCSV(context.Background(), ThreatFoxCSV, bytes.NewReader([]byte(in)), func(it intel.Item) error { got = append(got, it); return nil }); err != nil {
		t.Fatal(err)
	}
	// the older 14-column layout (no is_compromised) is read through the commented header
	if len(got) != 1 || got[0].Value != "evil-tf.example.net" || got[0].Confidence != 80 || len(got[0].Tags) != 4 {
		t.Fatalf("%+v", got)
	}
}

func FuzzParsers(f *testing.F) {
	files, _ := filepath.Glob("../testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := context.Background()
		emit := func(intel.Item) error { return nil }
		for _, fmt := range []string{URLhausCSV, FeodoCSV, ThreatFoxCSV} {
			ParseCSV(ctx, fmt, bytes.NewReader(b), emit)
		}
		ParseFeodoJSON(ctx, bytes.NewReader(b), emit)
		ParseThreatFoxJSON(ctx, bytes.NewReader(b), emit)
	})
}
