package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

// victimState is everything of tenant B (globex) that a console route could change.
func (e *env) victimState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	b := e.tenant["globex"].ID
	var parts []any
	add := func(v any, err error) {
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, v)
	}
	incs, err := e.store.Incidents(ctx, socbot.IncidentFilter{TenantID: b})
	add(incs, err)
	for _, inc := range incs {
		add(e.store.Timeline(ctx, b, inc.ID))
	}
	add(e.store.Suppressions(ctx, b))
	add(e.store.Assets(ctx, b, 0, 0))
	add(e.store.ReportRuns(ctx, b, 0, 100))
	add(e.store.ReportSchedules(ctx, b))
	add(e.store.ReportBranding(ctx, b))
	add(e.approvals.state(), nil)
	out, _ := json.Marshal(parts)
	return string(out)
}

// matrixForm gives each writing route a valid form, so that a refusal is about the tenant.
func matrixForm(path, victim string) url.Values {
	v := url.Values{"tenant": {victim}}
	switch {
	case strings.HasSuffix(path, "/status"):
		v.Set("status", "acknowledged")
	case strings.HasSuffix(path, "/assign"):
		v.Set("assignee", "pwned")
	case strings.HasSuffix(path, "/notes"):
		v.Set("text", "pwned")
	case path == "/suppressions":
		v.Set("name", "pwned")
		v.Set("expression", "true")
		v.Set("reason", "pwned")
	case strings.HasPrefix(path, "/approvals/"):
		v.Set("comment", "pwned")
	case path == "/reports":
		v.Set("period", time.Now().Format("2006-01"))
	case path == "/reports/schedules":
		v.Set("cadence", "monthly")
		v.Set("recipients", "pwned@pwned.example")
	case strings.HasPrefix(path, "/account/totp"):
		v.Set("secret", "JBSWY3DPEHPK3PXP")
		v.Set("code", "123456")
	}
	return v
}

// TestConsoleIsolationMatrix signs in as each of tenant A's people and sends every console route at
// tenant B's objects: with B's ids in the path, and naming B in the query and the form. No response
// may show anything of B's, and nothing of B's may change.
func TestConsoleIsolationMatrix(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.con.cfg.LivePoll = 20 * time.Millisecond
	e.seed()
	before := e.victimState(t)
	victim := e.tenant["globex"]
	sent := 0
	for _, who := range []string{"ana@acme.example", "vic@acme.example"} {
		c := e.login(who)
		for _, rt := range e.con.Routes() {
			if rt.Perm == Public || rt.Path == "/logout" {
				continue
			}
			path := rt.Path
			if strings.Contains(path, "{id}") {
				res := strings.Split(strings.TrimPrefix(path, "/"), "/")[0]
				if strings.HasPrefix(path, "/reports/schedules/") {
					res = "schedules"
				}
				id, ok := e.ids[res]
				if !ok {
					t.Fatalf("no victim object for %s: extend env.seed", rt.Path)
				}
				path = strings.Replace(path, "{id}", id, 1)
			}
			for _, q := range []string{"", "?tenant=" + victim.ID, "?tenant=" + victim.Name} {
				var r resp
				switch {
				case rt.Path == "/events/queues":
					r = c.stream(path + q)
				case rt.Method == "GET":
					r = c.do("GET", path+q, nil)
				default:
					r = c.post(path+q, matrixForm(rt.Path, victim.ID))
				}
				sent++
				if strings.Contains(strings.ToLower(r.body), marker) {
					t.Errorf("%s %s%s as %s revealed tenant B: %d %.400s", rt.Method, path, q, who, r.code, r.body)
				}
				if strings.Contains(rt.Path, "{id}") && r.code < 400 {
					t.Errorf("%s %s%s as %s reached B's object: %d", rt.Method, path, q, who, r.code)
				}
			}
		}
	}
	if after := e.victimState(t); after != before {
		t.Errorf("tenant B changed under tenant A's requests:\nbefore %s\nafter  %s", before, after)
	}
	t.Logf("%d requests over %d routes", sent, len(e.con.Routes()))
	// The matrix can fail: B's own analyst sees B's incident, B's admin-approved action and report.
	g := e.login("gus@globex.example")
	if r := g.do("GET", "/incidents/"+e.ids["incidents"], nil); r.code != 200 || !strings.Contains(r.body, marker) {
		t.Fatalf("B's analyst cannot see B's incident: %d", r.code)
	}
	if r := g.do("GET", "/approvals", nil); !strings.Contains(r.body, marker) {
		t.Fatal("B's analyst does not see B's pending action")
	}
	v := e.login("val@globex.example")
	if r := v.do("GET", "/reports/"+e.ids["reports"]+"/download?format=html", nil); r.code != 200 || !strings.Contains(r.body, marker) {
		t.Fatalf("B's viewer cannot download B's report: %d", r.code)
	}
	// And the MSSP admin sees every tenant.
	a := e.login("admin@mssp.example")
	if r := a.do("GET", "/incidents", nil); !strings.Contains(r.body, marker) || !strings.Contains(r.body, "acme") {
		t.Fatal("admin's all-tenants incident list is missing a tenant")
	}
}

// stream reads a server-sent event stream for a moment.
func (c *client) stream(path string) resp {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.e.srv.URL+path, nil)
	r, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer r.Body.Close()
	var b bytes.Buffer
	_, _ = io.Copy(&b, r.Body)
	return resp{r.StatusCode, b.String(), r.Header}
}
