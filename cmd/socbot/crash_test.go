package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/socbot/socbot/httpapi"
	"github.com/socbot/socbot/synth"
)

// buildSocbot compiles the binary once per test run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func socbotBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "socbot-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "socbot")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("socbot %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

type server struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func startServer(t *testing.T, bin, data, addr string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", addr, "--log-level", "warn")
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, logs: logs}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("server did not become ready:\n%s", logs)
	return nil
}

type batch struct {
	ids  []string
	body []byte
}

func makeBatches(n, size int) []batch {
	// Suricata's vendor id is derived from flow and signature, not carried: leave it out so every
	// stored alert can be traced back to the record that was sent.
	var formats []string
	for _, f := range synth.Formats {
		if f != "suricata" {
			formats = append(formats, f)
		}
	}
	gen := synth.New(synth.Config{Tenant: "crash", Stories: 800, Seed: 42, Formats: formats})
	now := time.Now().UTC()
	var out []batch
	for i := 0; i < n; i += size {
		var b batch
		var buf bytes.Buffer
		for j := i; j < min(n, i+size); j++ {
			_, id, rec := gen.Next(now)
			b.ids = append(b.ids, id)
			buf.Write(rec)
			buf.WriteByte('\n')
		}
		b.body = buf.Bytes()
		out = append(out, b)
	}
	return out
}

// excludeEgress tells the tenant not to correlate on its NAT address, as an MSSP would set it up; without
// it every EDR alert would land in one incident and the comparison would prove little.
func excludeEgress(t *testing.T, bin, data, url string) {
	t.Helper()
	admin := run(t, bin, "token", "create", "--role", "admin", "--data", data)
	body := `{"settings": {"correlation_window": "24h", "correlation_exclude": ["198.51.100.10"]}}`
	req, _ := http.NewRequest("GET", url+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Tenants []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	req, _ = http.NewRequest("PATCH", url+"/api/v1/tenants/"+list.Tenants[0].ID, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("setting the exclusion: %v %v", err, resp.Status)
	}
	resp.Body.Close()
}

func post(url, token string, body []byte) (int, error) {
	req, _ := http.NewRequest("POST", url+"/api/v1/alerts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var r httpapi.IngestResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, err
	}
	return r.Accepted, nil
}

// waitTriaged waits until the database holds want alerts and the bus is drained.
func waitTriaged(t *testing.T, dbPath string, want int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	var n int
	for time.Now().Before(deadline) {
		if err := db.QueryRow(`SELECT COUNT(*) FROM alerts`).Scan(&n); err == nil && n >= want {
			return db
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("only %d of %d alerts triaged", n, want)
	return nil
}

// partition maps each alert's source id to a canonical name of its final incident: the smallest
// source id among the incident's alerts. Incident numbers depend on arrival order; the grouping
// does not.
func partition(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT source_id, COALESCE(incident_id, 0), status FROM alerts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	members := map[int64][]string{}
	var none []string
	for rows.Next() {
		var sid, status string
		var inc int64
		if err := rows.Scan(&sid, &inc, &status); err != nil {
			t.Fatal(err)
		}
		if inc == 0 {
			none = append(none, sid)
			continue
		}
		members[inc] = append(members[inc], sid)
	}
	out := map[string]string{}
	for _, m := range members {
		sort.Strings(m)
		for _, sid := range m {
			out[sid] = m[0]
		}
	}
	for _, sid := range none {
		out[sid] = "none"
	}
	return out
}

// TestKill9DuringIngest kills socbot serve with SIGKILL in the middle of a 100,000-alert ingest, restarts
// it, and checks that every alert that got a 202 is stored exactly once and that the incidents are
// the same as when the same alerts are ingested without a crash.
func TestKill9DuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds socbot and ingests 100,000 alerts twice")
	}
	bin := socbotBinary(t)
	data := t.TempDir()
	run(t, bin, "tenant", "create", "crash", "--data", data)
	token := run(t, bin, "token", "create", "--role", "ingest", "--tenant", "crash", "--data", data)
	addr := freePort(t)
	srv := startServer(t, bin, data, addr)
	excludeEgress(t, bin, data, srv.url)

	batches := makeBatches(100000, 500)
	type outcome int
	const (
		notSent outcome = iota
		accepted
		unknown // in flight when the server died: stored at most once
	)
	state := make([]outcome, len(batches))
	var mu sync.Mutex
	next := 0
	killAt := len(batches) * 2 / 5
	var killed sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= len(batches) {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if i == killAt {
					killed.Do(func() { srv.cmd.Process.Signal(syscall.SIGKILL) })
				}
				n, err := post(srv.url, token, batches[i].body)
				mu.Lock()
				switch {
				case err == nil && n == len(batches[i].ids):
					state[i] = accepted
				case err == nil:
					t.Errorf("batch %d: %d of %d accepted", i, n, len(batches[i].ids))
				default:
					state[i] = unknown
				}
				mu.Unlock()
				if err != nil {
					return // the server is gone; stop this client
				}
			}
		}()
	}
	wg.Wait()
	srv.cmd.Wait()
	acceptedBefore := 0
	for _, s := range state {
		if s == accepted {
			acceptedBefore++
		}
	}
	if acceptedBefore == 0 || acceptedBefore == len(batches) {
		t.Fatalf("the kill did not land mid-ingest (%d of %d batches accepted)", acceptedBefore, len(batches))
	}
	t.Logf("killed after %d of %d batches were accepted", acceptedBefore, len(batches))

	// Restart on the same data and send what was never sent.
	srv = startServer(t, bin, data, addr)
	defer srv.cmd.Process.Kill()
	for i, s := range state {
		if s != notSent {
			continue
		}
		if n, err := post(srv.url, token, batches[i].body); err != nil || n != len(batches[i].ids) {
			t.Fatalf("after restart, batch %d: %d %v", i, n, err)
		}
		state[i] = accepted
	}
	want := 0
	for i, s := range state {
		if s == accepted {
			want += len(batches[i].ids)
		}
	}
	db := waitTriaged(t, filepath.Join(data, "socbot.db"), want)
	time.Sleep(500 * time.Millisecond) // let any redelivered in-flight message land too
	counts := map[string]int{}
	rows, err := db.Query(`SELECT source_id, COUNT(*) FROM alerts GROUP BY source_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var sid string
		var n int
		rows.Scan(&sid, &n)
		counts[sid] = n
	}
	rows.Close()
	index := map[string]int{}
	for sid, n := range counts {
		index[vendorID(sid)] += n
	}
	lost, dup, inflightStored := 0, 0, 0
	for i, s := range state {
		for _, id := range batches[i].ids {
			n := index[id]
			switch {
			case s == accepted && n == 0:
				lost++
			case n > 1:
				dup++
			case s == unknown && n == 1:
				inflightStored++
			}
		}
	}
	if lost != 0 || dup != 0 {
		t.Fatalf("after kill -9: %d alerts that got a 202 are missing, %d stored more than once", lost, dup)
	}
	t.Logf("%d accepted alerts all stored once; %d in-flight alerts stored once", want, inflightStored)
	crashed := partition(t, db)
	db.Close()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()

	// The same alerts without a crash: exactly those the crashed run stored, in batch order.
	data2 := t.TempDir()
	run(t, bin, "tenant", "create", "crash", "--data", data2)
	token2 := run(t, bin, "token", "create", "--role", "ingest", "--tenant", "crash", "--data", data2)
	srv2 := startServer(t, bin, data2, freePort(t))
	defer srv2.cmd.Process.Kill()
	excludeEgress(t, bin, data2, srv2.url)
	total := 0
	for i, s := range state {
		if s == notSent {
			continue
		}
		var buf bytes.Buffer
		k := 0
		for j, line := range bytes.Split(bytes.TrimSpace(batches[i].body), []byte("\n")) {
			if index[batches[i].ids[j]] == 1 {
				buf.Write(line)
				buf.WriteByte('\n')
				k++
			}
		}
		if k == 0 {
			continue
		}
		if n, err := post(srv2.url, token2, buf.Bytes()); err != nil || n != k {
			t.Fatalf("clean run batch %d: %d %v", i, n, err)
		}
		total += k
	}
	db2 := waitTriaged(t, filepath.Join(data2, "socbot.db"), total)
	defer db2.Close()
	clean := partition(t, db2)
	if len(clean) != len(crashed) {
		t.Fatalf("clean run stored %d alerts, crashed run %d", len(clean), len(crashed))
	}
	diff := 0
	for sid, inc := range crashed {
		if clean[sid] != inc {
			diff++
		}
	}
	if diff != 0 {
		t.Fatalf("%d alerts ended in a different incident than without the crash", diff)
	}
	var incidents int
	db2.QueryRow(`SELECT COUNT(*) FROM incidents WHERE status != 'merged'`).Scan(&incidents)
	if incidents < 100 {
		t.Fatalf("only %d incidents: the comparison needs alerts spread over many", incidents)
	}
	t.Logf("incidents identical with and without the crash: %d alerts in %d incidents", total, incidents)
}

// vendorID strips the normaliser's format prefix ("cid:ind:", "da", "wazuh-crash:") from a source id,
// giving back synth's vendor id "crash-<seq>-<n>".
func vendorID(sid string) string {
	if i := strings.Index(sid, "crash-"); i >= 0 {
		return sid[i:]
	}
	return sid
}
