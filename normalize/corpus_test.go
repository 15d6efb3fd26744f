package normalize

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
)

// corpusDir finds ../shared/corpus next to the repository root (the directory holding go.mod), or "".
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	c := filepath.Join(filepath.Dir(dir), "shared", "corpus")
	if fi, err := os.Stat(c); err != nil || !fi.IsDir() {
		return ""
	}
	return c
}

// corpusFormats maps the corpus folders to the format each sample must be detected as.
var corpusFormats = map[string]string{
	"ocsf":                        "ocsf",
	"elastic_security":            "elastic",
	"suricata_eve":                "suricata",
	"wazuh":                       "wazuh",
	"microsoft_defender_endpoint": "defender",
	"microsoft_graph_security":    "defender",
	"crowdstrike_falcon":          "crowdstrike",
	"sentinelone":                 "sentinelone",
	"aws_guardduty":               "guardduty",
	"aws_securityhub_asff":        "securityhub",
	"gcp_scc":                     "gcp_scc",
	"cortex_xdr":                  "cortex_xdr",
	"zeek_notice":                 "zeek_notice",
	"suricata":                    "suricata", // detection/suricata/...
}

// corpusGaps lists what a sample does not contain, so the test does not ask the normaliser to invent it.
// Keys are paths relative to the corpus root.
var corpusGaps = map[string]struct {
	noAlerts, noSeverity, noTime, noObservables bool
}{
	// Only dns, tls or flow events: each record is rejected naming event_type.
	"detection/suricata/suricata-verify/dns-tcp-www-google-com/eve.json": {noAlerts: true},
	"detection/suricata/suricata-verify/eve-dns/eve.json":                {noAlerts: true},
	"detection/suricata/suricata-verify/tls-json-output-ids/eve.json":    {noAlerts: true},
	// 127.0.0.1 on both ends: no observable worth keeping.
	"detection/suricata/suricata-verify/dnp3-dnp3_func-alert/eve.json": {noObservables: true},
	// Literal "{timestamp}" placeholders.
	"alerts/wazuh/wazuh-indexer-events-generator-alerts-template-first6.jsonl": {noTime: true},
	// btest masks ts as XXXXXXXXXX.XXXXXX.
	"alerts/zeek_notice/zeek-HEAD-scripts.policy.frameworks.intel.notice.notice.log":                 {noTime: true},
	"alerts/zeek_notice/zeek-HEAD-scripts.policy.protocols.http.sql-injection-plus-dvwa2.notice.log": {noTime: true},
	"alerts/zeek_notice/zeek-HEAD-scripts.policy.protocols.ssh.detect-bruteforcing.notice.log":       {noTime: true},
	// Times are the epoch (1970-01-01T00:00:00Z) placeholder.
	"alerts/gcp_scc/sra-iam_anomalous_grant-remediated.json": {noTime: true},
	"alerts/gcp_scc/sra-ssh_brute_force-remediated.json":     {noTime: true},
	// Pre-2020 Event Threat Detection finding without severity.
	"alerts/gcp_scc/sra-bad_ip_scc.json": {noSeverity: true},
	// Findings about cloud resources (account, bucket, key) without host, user or address.
	"alerts/ocsf/prowler-detection_finding-v1.4.0.ocsf.json":                               {noObservables: true},
	"alerts/aws_securityhub_asff/aws-asr-asff-afsbp-ec2.1.json":                            {noObservables: true},
	"alerts/aws_securityhub_asff/aws-asr-eventbridge-securityhub-custom-action-cis28.json": {noObservables: true},
	"alerts/gcp_scc/sra-public_bucket_acl.json":                                            {noObservables: true},
	// An incident has no entities; the XSOAR MDE page has only machine ids; the Cortex filter sample
	// has "IP" as its only address.
	"alerts/microsoft_graph_security/graph-v1.0-security-incident-get-response.json": {noObservables: true},
	"alerts/microsoft_defender_endpoint/xsoar-mde-first_response_alerts.json":        {noObservables: true},
	"alerts/cortex_xdr/xsoar-cortexxdr-get_alerts_by_filter_results.json":            {noObservables: true},
}

// corpusFiles lists every sample: alerts/<format>/* and detection/suricata/**.
func corpusFiles(t testing.TB, root string) []string {
	t.Helper()
	var files []string
	for _, base := range []string{"alerts", filepath.Join("detection", "suricata")} {
		err := filepath.WalkDir(filepath.Join(root, base), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "LICENSES" {
					return filepath.SkipDir
				}
				return nil
			}
			switch filepath.Ext(path) {
			case ".json", ".jsonl", ".ndjson", ".log":
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	return files
}

// corpusRecords splits a sample into records (Zeek TSV logs through ZeekTSV).
func corpusRecords(t testing.TB, path string, body []byte, fn func(i int, rec []byte, err error) error) error {
	t.Helper()
	if strings.HasSuffix(path, ".notice.log") {
		return ZeekTSV(body, fn)
	}
	return Records(body, fn)
}

// TestCorpus normalises every sample of the shared corpus with auto-detection and checks that each
// gives alerts of the right format with a title, a severity, a time and observables wherever the
// sample has them.
func TestCorpus(t *testing.T) {
	root := corpusDir(t)
	if root == "" {
		t.Skip("shared corpus not found at ../shared/corpus next to the repository; skipping the real-sample test")
	}
	files := corpusFiles(t, root)
	if len(files) < 40 {
		t.Fatalf("found only %d sample files under %s", len(files), root)
	}
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		t.Run(rel, func(t *testing.T) {
			folder := filepath.Base(filepath.Dir(path))
			if strings.HasPrefix(rel, filepath.Join("detection", "suricata")) {
				folder = "suricata"
			}
			want, ok := corpusFormats[folder]
			if !ok {
				t.Fatalf("no expected format for folder %s", folder)
			}
			gaps := corpusGaps[filepath.ToSlash(rel)]
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var alerts []socbot.Alert
			records := 0
			err = corpusRecords(t, path, body, func(i int, rec []byte, err error) error {
				records++
				if err != nil {
					t.Errorf("record %d: %v", i, err)
					return nil
				}
				if got := Detect(rec); got != want && got != "" {
					t.Errorf("record %d: detected as %q, want %q", i, got, want)
				}
				as, err := Normalize("", rec, testNow)
				if err != nil {
					// The only records a sample may hold that are not alerts: other eve event types.
					if want == "suricata" && socbot.ErrorField(err) == "event_type" && socbot.IsKind(err, socbot.KindInvalid) {
						return nil
					}
					t.Errorf("record %d: %v", i, err)
					return nil
				}
				for j := range as {
					checkAlert(t, want, rec, &as[j])
				}
				alerts = append(alerts, as...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if records == 0 {
				t.Fatal("no records in the sample")
			}
			if gaps.noAlerts {
				if len(alerts) != 0 {
					t.Errorf("got %d alerts from a sample without alert records", len(alerts))
				}
				return
			}
			if len(alerts) == 0 {
				t.Fatal("no alerts")
			}
			for j, a := range alerts {
				if !gaps.noSeverity && a.Severity == socbot.SeverityUnknown {
					t.Errorf("alert %d (%s): no severity", j, a.Title)
				}
				if timeFlag := slices.Contains(a.Flags, socbot.FlagTimeMissing); timeFlag != gaps.noTime {
					t.Errorf("alert %d (%s): time_missing flag %v, want %v (detected_at %v)", j, a.Title, timeFlag, gaps.noTime, a.DetectedAt)
				}
				if slices.Contains(a.Flags, socbot.FlagTimeFuture) {
					t.Errorf("alert %d (%s): time in the future: %v", j, a.Title, a.DetectedAt)
				}
			}
			if !gaps.noObservables {
				n := 0
				for _, a := range alerts {
					if len(a.Observables) > 0 {
						n++
					}
				}
				if n == 0 {
					t.Errorf("no observables in any of %d alerts", len(alerts))
				}
			}
			if testing.Verbose() {
				for _, a := range alerts {
					t.Logf("%s | %s | %s %d %q | %v %v | %v %v | %v", a.Format, a.Title, a.Severity, a.SeverityScore, a.SeverityRaw,
						a.DetectedAt.Format("2006-01-02T15:04:05Z07:00"), a.Flags, a.Tactics, a.Techniques, a.Observables)
				}
			}
		})
	}
}
