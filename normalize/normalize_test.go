package normalize

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testNow is the ingest time of every test: later than all fixtures, so none is in the future.
var testNow = time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)

// goldenRecord is what the golden files hold for one record of a fixture.
type goldenRecord struct {
	Index  int            `json:"index"`
	Alerts []socbot.Alert `json:"alerts"`
	Error  string         `json:"error,omitempty"`
}

// fixtures returns testdata/<format>/* files, keyed by format.
func fixtures(t testing.TB) map[string][]string {
	t.Helper()
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "golden" || d.Name() == "fuzz" {
			continue
		}
		files, err := filepath.Glob(filepath.Join("testdata", d.Name(), "*"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(files)
		out[d.Name()] = files
	}
	return out
}

// TestGolden normalises every fixture under testdata/<format>/ with the format named and with
// auto-detection, checks both agree and that Raw holds the record's bytes, and compares the alerts with
// testdata/golden/<format>.<file>.golden.json (go test ./normalize -update rewrites them).
func TestGolden(t *testing.T) {
	for format, files := range fixtures(t) {
		if _, ok := Lookup(format); !ok {
			t.Errorf("testdata/%s: no format %q is registered", format, format)
			continue
		}
		for _, file := range files {
			name := format + "." + strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
			t.Run(name, func(t *testing.T) {
				body, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				var got []goldenRecord
				err = Records(body, func(i int, rec []byte, err error) error {
					if err != nil {
						t.Fatalf("record %d: %v", i, err)
					}
					alerts, err := Normalize(format, rec, testNow)
					g := goldenRecord{Index: i, Alerts: alerts}
					if err != nil {
						g.Error = err.Error()
					}
					auto, aerr := Normalize("", rec, testNow)
					if (err == nil) != (aerr == nil) || len(auto) != len(alerts) {
						t.Errorf("record %d: format %q gave %d alerts (err %v), auto-detection %d (err %v)", i, format, len(alerts), err, len(auto), aerr)
					}
					for j := range alerts {
						checkAlert(t, format, rec, &alerts[j])
						if j < len(auto) && auto[j].Format != format {
							t.Errorf("record %d alert %d: auto-detected as %q, want %q", i, j, auto[j].Format, format)
						}
					}
					got = append(got, g)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				compareGolden(t, filepath.Join("testdata", "golden", name+".golden.json"), got)
			})
		}
	}
}

// checkAlert checks the invariants every alert keeps.
func checkAlert(t *testing.T, format string, rec []byte, a *socbot.Alert) {
	t.Helper()
	if a.Format != format {
		t.Errorf("alert format %q, want %q", a.Format, format)
	}
	if a.Title == "" {
		t.Errorf("alert has no title")
	}
	if a.DetectedAt.IsZero() || a.DetectedAt.Location() != time.UTC {
		t.Errorf("alert time %v is zero or not UTC", a.DetectedAt)
	}
	if a.Severity == socbot.SeverityUnknown && a.SeverityScore != 0 || a.SeverityScore < 0 || a.SeverityScore > 100 {
		t.Errorf("severity %v with score %d", a.Severity, a.SeverityScore)
	}
	if len(a.Raw) == 0 || !json.Valid(a.Raw) {
		t.Errorf("raw is not a JSON value: %.80q", a.Raw)
	}
	if !bytes.Contains(rec, a.Raw) {
		t.Errorf("raw %.80q is not part of the record", a.Raw)
	}
	if len(a.Raw) > 0 && len(rec) > 0 && &a.Raw[0] == &rec[0] {
		t.Errorf("raw aliases the input record; it must be a copy")
	}
	for _, id := range a.Techniques {
		if techniqueID(id) != id {
			t.Errorf("technique %q is not canonical", id)
		}
	}
	for _, id := range a.Tactics {
		if tacticID(id) != id {
			t.Errorf("tactic %q is not canonical", id)
		}
	}
	for _, o := range a.Observables {
		if !validObservable(o) {
			t.Errorf("observable %+v is not valid", o)
		}
	}
}

func validObservable(o socbot.Observable) bool {
	if o.Value == "" || o.Value != strings.TrimSpace(o.Value) {
		return false
	}
	switch o.Role {
	case socbot.AsSource, socbot.AsDestination, socbot.AsActor, socbot.AsTarget, socbot.AsRelated:
	default:
		return false
	}
	switch o.Type {
	case socbot.ObsIP:
		return canonIP(o.Value) == o.Value
	case socbot.ObsDomain:
		return canonDomain(o.Value) == o.Value
	case socbot.ObsMD5, socbot.ObsSHA1, socbot.ObsSHA256:
		return hashType(o.Value) == o.Type && o.Value == strings.ToLower(o.Value)
	case socbot.ObsEmail:
		return strings.Count(o.Value, "@") == 1
	case socbot.ObsHost:
		return o.Value == strings.ToLower(o.Value)
	case socbot.ObsURL:
		return strings.Contains(o.Value, "://")
	case socbot.ObsUser, socbot.ObsProcess, socbot.ObsFile:
		return true
	}
	return false
}

func compareGolden(t *testing.T, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./normalize -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("output differs from %s (run go test ./normalize -update and review the diff):\n%s", path, firstDiff(string(want), string(b)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n  want " + w + "\n  got  " + g
		}
	}
	return ""
}
