package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	socbot "github.com/socbot/socbot"
)

// memLogs is an in-memory socbot.LogIngester: it records each batch and answers with err when set.
type memLogs struct {
	mu      sync.Mutex
	batches []loggedBatch
	err     error
}

type loggedBatch struct {
	tenant, format, logsource, source, body string
}

func (m *memLogs) IngestLogs(_ context.Context, tenant string, b socbot.LogBatch) (socbot.LogBatchResult, error) {
	body, _ := io.ReadAll(b.Body)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return socbot.LogBatchResult{}, m.err
	}
	m.batches = append(m.batches, loggedBatch{tenant, b.Format, b.Logsource, b.Source, string(body)})
	n := int64(strings.Count(string(body), "\n"))
	return socbot.LogBatchResult{Accepted: n, Alerts: 1}, nil
}

var _ socbot.LogIngester = (*memLogs)(nil)

func (m *memLogs) last() loggedBatch {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.batches) == 0 {
		return loggedBatch{}
	}
	return m.batches[len(m.batches)-1]
}

func TestPostLogs(t *testing.T) {
	e := newEnv(t)
	acme, globex := e.tenant["acme"], e.tenant["globex"]
	batch := []byte("{\"EventID\":1}\n{\"EventID\":2}\n")

	// without the monitor bot on the node: 503
	if r := e.do("POST", "/api/v1/logs", e.tokens["acme/ingest"], batch); r.code != 503 {
		t.Fatalf("no monitor bot: %d %s", r.code, r.body)
	}
	logs := &memLogs{}
	e.api.Logs = logs

	// the tenant is the token's; a header naming another tenant is ignored
	r := e.do("POST", "/api/v1/logs?format=json&logsource=windows/Security", e.tokens["acme/ingest"], batch, "X-Socbot-Tenant", globex.ID)
	var res socbot.LogBatchResult
	r.json(t, &res)
	if r.code != 200 || res.Accepted != 2 || res.Alerts != 1 {
		t.Fatalf("post logs: %d %s", r.code, r.body)
	}
	if got := logs.last(); got.tenant != acme.ID || got.format != "json" || got.logsource != "windows/Security" || got.body != string(batch) ||
		!strings.HasPrefix(got.source, "api:token:") {
		t.Fatalf("batch seen by the monitor: %+v", got)
	}
	// naming another tenant with a tenant-bound token is refused
	if r := e.do("POST", "/api/v1/logs?tenant="+globex.ID, e.tokens["acme/ingest"], batch); r.code != 403 {
		t.Errorf("acme token naming globex: %d", r.code)
	}
	// admin tokens name the tenant
	if r := e.do("POST", "/api/v1/logs", e.tokens["admin"], batch); r.code != 400 {
		t.Errorf("admin without tenant: %d", r.code)
	}
	if r := e.do("POST", "/api/v1/logs?tenant=globex", e.tokens["admin"], batch); r.code != 200 || logs.last().tenant != globex.ID {
		t.Errorf("admin naming globex: %d %+v", r.code, logs.last())
	}
	// readers may not post logs
	for _, role := range []string{"acme/analyst", "acme/viewer"} {
		if r := e.do("POST", "/api/v1/logs", e.tokens[role], batch); r.code != 403 {
			t.Errorf("%s: %d", role, r.code)
		}
	}
	// gzip
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(batch)
	zw.Close()
	if r := e.do("POST", "/api/v1/logs", e.tokens["acme/ingest"], gz.Bytes(), "Content-Encoding", "gzip"); r.code != 200 || logs.last().body != string(batch) {
		t.Errorf("gzip: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/api/v1/logs", e.tokens["acme/ingest"], batch, "Content-Encoding", "br"); r.code != 415 {
		t.Errorf("brotli: %d", r.code)
	}
	// too large (the test API allows 1 MiB): 413 and nothing reaches the monitor
	n := len(logs.batches)
	big := bytes.Repeat([]byte(`{"message":"`+strings.Repeat("x", 1000)+`"}`+"\n"), 1100)
	if r := e.do("POST", "/api/v1/logs", e.tokens["acme/ingest"], big); r.code != 413 || len(logs.batches) != n {
		t.Errorf("big body: %d, batches %d -> %d", r.code, n, len(logs.batches))
	}
	// the monitor's error kinds become statuses here
	for _, tc := range []struct {
		err  error
		code int
	}{
		{socbot.FieldError("monitor.IngestLogs", "format", "bad"), 400},
		{socbot.E("monitor.IngestLogs", socbot.KindUnavailable, "busy"), 503},
	} {
		logs.err = tc.err
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/logs", bytes.NewReader(batch))
		req.Header.Set("Authorization", "Bearer "+e.tokens["acme/ingest"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || (tc.code == 503 && resp.Header.Get("Retry-After") == "") {
			t.Errorf("%v: %d", tc.err, resp.StatusCode)
		}
	}
}
