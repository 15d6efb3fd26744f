package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

// BenchmarkPages measures the server time of the console's main pages with 100,000 incidents (and
// 300,000 alerts) in one tenant, and reports each page's 95th percentile as p95-ms/<page>.
// Run: go test ./console -run '^$' -bench Pages -benchtime 40x
func BenchmarkPages(b *testing.B) {
	e := newEnv(b, envOpts{})
	ctx := context.Background()
	acme := e.tenant["acme"].ID
	now := e.clock.Now()
	if err := e.store.SeedBench(ctx, acme, now.AddDate(0, 0, -90), now, 100000, 300000); err != nil {
		b.Fatal(err)
	}
	if _, err := e.store.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	res, err := e.store.SearchIncidents(ctx, socbot.IncidentQuery{TenantID: acme, Limit: 1, WantTotal: true, Now: now})
	if err != nil || res.Total != socbot.TotalCap || !res.More {
		b.Fatalf("seeded %d incidents: %v", res.Total, err)
	}
	if _, err := e.reports.Generate(ctx, socbot.ReportRequest{TenantID: acme, Period: now.AddDate(0, -1, 0).Format("2006-01")}, rootP); err != nil {
		b.Fatal(err)
	}
	mid := res.Incidents[0].ID - 50000
	pages := []struct{ name, who, path string }{
		{"queues", "ana@acme.example", "/queues"},
		{"incidents", "ana@acme.example", "/incidents"},
		{"incidents-search", "ana@acme.example", "/incidents?q=brute"},
		{"incidents-search-host", "ana@acme.example", "/incidents?q=host-123"},
		{"incidents-filtered", "ana@acme.example", "/incidents?priority=P1&status=open&age=" + url.QueryEscape(">7d")},
		{"incidents-page-20", "ana@acme.example", "/incidents?page=20"},
		{"incident", "ana@acme.example", fmt.Sprintf("/incidents/%d", mid)},
		{"all-tenants", "admin@mssp.example", "/tenants"},
		{"portal", "vic@acme.example", "/portal"},
		{"reports", "ana@acme.example", "/reports"},
	}
	cookies := map[string][]*http.Cookie{}
	for _, p := range pages {
		if cookies[p.who] == nil {
			c := e.login(p.who)
			u, _ := url.Parse(e.srv.URL)
			cookies[p.who] = c.http.Jar.Cookies(u)
		}
	}
	h := e.api.Handler()
	times := make([][]time.Duration, len(pages))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, p := range pages {
			req := httptest.NewRequest("GET", p.path, nil)
			for _, ck := range cookies[p.who] {
				req.AddCookie(ck)
			}
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, req)
			times[j] = append(times[j], time.Since(start))
			if w.Code != 200 {
				b.Fatalf("%s: %d %s", p.path, w.Code, w.Body.String()[:min(300, w.Body.Len())])
			}
		}
	}
	b.StopTimer()
	var worst time.Duration
	var lines []string
	for j, p := range pages {
		ts := times[j]
		sort.Slice(ts, func(a, c int) bool { return ts[a] < ts[c] })
		p95 := ts[min(len(ts)-1, (len(ts)*95+99)/100-1)]
		worst = max(worst, p95)
		b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms/"+p.name)
		lines = append(lines, fmt.Sprintf("%-20s p50 %6.1f ms  p95 %6.1f ms", p.name, float64(ts[len(ts)/2].Microseconds())/1000, float64(p95.Microseconds())/1000))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "p95-ms/worst")
	b.Logf("100,000 incidents, %d samples per page:\n%s", b.N, strings.Join(lines, "\n"))
}
