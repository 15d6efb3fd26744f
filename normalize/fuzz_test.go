package normalize

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

// seedRecords adds to f every record of the fixtures of format (all formats when "") and of the corpus
// samples detected as it, when the corpus is present.
func seedRecords(f *testing.F, format string) {
	f.Helper()
	add := func(rec []byte) { f.Add(append([]byte(nil), rec...)) }
	for name, files := range fixtures(f) {
		if format != "" && name != format {
			continue
		}
		for _, file := range files {
			body, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			_ = Records(body, func(_ int, rec []byte, err error) error {
				if err == nil {
					add(rec)
				}
				return nil
			})
		}
	}
	if root := corpusDir(f); root != "" {
		for _, path := range corpusFiles(f, root) {
			body, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			_ = corpusRecords(f, path, body, func(_ int, rec []byte, err error) error {
				if err == nil && (format == "" || Detect(rec) == format) {
					add(rec)
				}
				return nil
			})
		}
	}
}

// fuzzNormalize checks that Normalize never panics on any input, named as format or auto-detected, and
// that whatever it returns keeps the alert invariants.
func fuzzNormalize(f *testing.F, format string) {
	seedRecords(f, format)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"value":[{"a":1}]}`))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, rec []byte) {
		for _, name := range []string{format, ""} {
			alerts, err := Normalize(name, rec, now)
			if err != nil {
				if alerts != nil {
					t.Fatalf("alerts with an error")
				}
				if _, ok := err.(*socbot.Error); !ok {
					t.Fatalf("error %T is not a *socbot.Error: %v", err, err)
				}
				if socbot.IsKind(err, socbot.KindOther) {
					t.Fatalf("internal error (a recovered panic): %v", err)
				}
				continue
			}
			for i := range alerts {
				a := &alerts[i]
				if a.Title == "" || a.DetectedAt.IsZero() || a.DetectedAt.Location() != time.UTC || a.Format == "" {
					t.Fatalf("alert %d breaks an invariant: %+v", i, a)
				}
				if a.SeverityScore < 0 || a.SeverityScore > 100 {
					t.Fatalf("score %d", a.SeverityScore)
				}
				if !json.Valid(a.Raw) {
					t.Fatalf("raw is not JSON: %q", a.Raw)
				}
				for _, o := range a.Observables {
					if !validObservable(o) {
						t.Fatalf("invalid observable %+v", o)
					}
				}
				if _, err := json.Marshal(a); err != nil {
					t.Fatalf("alert does not marshal: %v", err)
				}
			}
		}
		_ = Detect(rec)
	})
}

func FuzzNormalizeOCSF(f *testing.F)        { fuzzNormalize(f, "ocsf") }
func FuzzNormalizeElastic(f *testing.F)     { fuzzNormalize(f, "elastic") }
func FuzzNormalizeSuricata(f *testing.F)    { fuzzNormalize(f, "suricata") }
func FuzzNormalizeWazuh(f *testing.F)       { fuzzNormalize(f, "wazuh") }
func FuzzNormalizeDefender(f *testing.F)    { fuzzNormalize(f, "defender") }
func FuzzNormalizeCrowdStrike(f *testing.F) { fuzzNormalize(f, "crowdstrike") }
func FuzzNormalizeSentinelOne(f *testing.F) { fuzzNormalize(f, "sentinelone") }
func FuzzNormalizeGuardDuty(f *testing.F)   { fuzzNormalize(f, "guardduty") }
func FuzzNormalizeSecurityHub(f *testing.F) { fuzzNormalize(f, "securityhub") }
func FuzzNormalizeGCPSCC(f *testing.F)      { fuzzNormalize(f, "gcp_scc") }
func FuzzNormalizeCortexXDR(f *testing.F)   { fuzzNormalize(f, "cortex_xdr") }
func FuzzNormalizeZeekNotice(f *testing.F)  { fuzzNormalize(f, "zeek_notice") }
func FuzzNormalizeGeneric(f *testing.F)     { fuzzNormalize(f, "generic") }

// FuzzRecords checks Records against encoding/json: every record it yields is a valid JSON object inside
// the body, and a body that is one valid JSON object (not nested too deep) yields exactly that record.
func FuzzRecords(f *testing.F) {
	for _, files := range fixtures(f) {
		for _, file := range files {
			if body, err := os.ReadFile(file); err == nil {
				f.Add(body)
			}
		}
	}
	if root := corpusDir(f); root != "" {
		for _, path := range corpusFiles(f, root) {
			if body, err := os.ReadFile(path); err == nil {
				f.Add(body)
			}
		}
	}
	for _, s := range []string{"", "[]", "{}\n{}", "[{},1,{}]", "{\"a\":\n{}\n", "\xef\xbb\xbf{}", "[{\"a\":1} {}]", "\"x\"\n42"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var recs [][]byte
		last := -1
		err := Records(body, func(i int, rec []byte, err error) error {
			if i != last+1 {
				t.Fatalf("index %d after %d", i, last)
			}
			last = i
			if err != nil {
				if rec != nil {
					t.Fatal("record with an error")
				}
				if !socbot.IsKind(err, socbot.KindInvalid) {
					t.Fatalf("error kind: %v", err)
				}
				return nil
			}
			if len(rec) == 0 || rec[0] != '{' || !json.Valid(rec) {
				t.Fatalf("record is not a JSON object: %q", rec)
			}
			if len(body) > 0 && !bytes.Contains(body, rec) {
				t.Fatalf("record is not part of the body")
			}
			recs = append(recs, rec)
			return nil
		})
		if err != nil {
			t.Fatalf("Records returned %v", err)
		}
		trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
		if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) && bytes.Count(trimmed, []byte("{"))+bytes.Count(trimmed, []byte("[")) < maxDepth {
			if len(recs) != 1 || !bytes.Equal(recs[0], trimmed) {
				t.Fatalf("a valid object gave records %q", recs)
			}
		}
	})
}

// FuzzZeekTSV checks that every row ZeekTSV yields is valid JSON.
func FuzzZeekTSV(f *testing.F) {
	if root := corpusDir(f); root != "" {
		paths, _ := filepath.Glob(filepath.Join(root, "alerts", "zeek_notice", "*.log"))
		for _, p := range paths {
			if body, err := os.ReadFile(p); err == nil {
				f.Add(body)
			}
		}
	}
	f.Add([]byte("#separator \\x09\n#fields\tts\tnote\tmsg\tactions\n#types\ttime\tenum\tstring\tset[enum]\n1.5\tA::B\tm\\x00\tx,y\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = ZeekTSV(body, func(i int, rec []byte, err error) error {
			if err == nil && !json.Valid(rec) {
				t.Fatalf("row %d is not JSON: %q", i, rec)
			}
			return nil
		})
	})
}
