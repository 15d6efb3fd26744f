package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/report"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
)

type benchReportCmd struct {
	Alerts    int    `help:"Alerts in the tenant-month." default:"1000000"`
	Incidents int    `help:"Incidents in the tenant-month." default:"10000"`
	Runs      int    `help:"Times the report is produced; the medians are printed." default:"3"`
	Chromium  string `help:"Chromium binary for the PDF (default: SOCBOT_CHROMIUM, /usr/bin/chromium, PATH)." placeholder:"PATH"`
	Keep      string `help:"Keep the seeded database in this directory instead of a temporary one." placeholder:"DIR"`
	JSON      bool   `help:"Print only the JSON result."`
}

// BenchReportResult is what socbot bench report prints. html_ms is the time to compute the metrics and
// render the HTML; pdf_ms is the whole management PDF from nothing (metrics, HTML and Chromium's print,
// browser start included): what a user waits for.
type BenchReportResult struct {
	Alerts    int     `json:"alerts"`
	Incidents int     `json:"incidents"`
	SeedMs    float64 `json:"seed_ms"`
	MetricsMs float64 `json:"metrics_ms"`
	HTMLMs    float64 `json:"html_ms"`
	PrintMs   float64 `json:"print_ms"`
	PDFMs     float64 `json:"pdf_ms"`
	HTMLBytes int     `json:"html_bytes"`
	PDFBytes  int     `json:"pdf_bytes"`
	Runs      int     `json:"runs"`
	Chromium  string  `json:"chromium"`
}

func (c *benchReportCmd) Run(g *Globals) error {
	ctx := context.Background()
	dir := c.Keep
	if dir == "" {
		d, err := os.MkdirTemp("", "socbot-bench-report-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	log := g.Logger()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "socbot.db"), log)
	if err != nil {
		return err
	}
	clock := socbot.SystemClock{}
	s := sqlstore.New(db, sqlstore.SQLite, clock, log)
	defer s.Close()
	t := socbot.Tenant{Name: fmt.Sprintf("bench-%d", time.Now().UnixNano()), TimeZone: "Europe/Berlin"}
	if err := s.CreateTenant(ctx, &t, cliPrincipal()); err != nil {
		return err
	}
	loc := report.Location(t)
	p, _ := report.ParsePeriod("2026-10", loc)
	if !c.JSON {
		fmt.Fprintf(os.Stderr, "seeding %d alerts and %d incidents into %s ...\n", c.Alerts, c.Incidents, dir)
	}
	start := time.Now()
	if err := s.SeedBench(ctx, t.ID, p.From, p.To, c.Incidents, c.Alerts); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		return err
	}
	res := BenchReportResult{Alerts: c.Alerts, Incidents: c.Incidents, SeedMs: benchMS(time.Since(start)), Runs: max(c.Runs, 1)}
	res.Chromium = report.FindChromium(c.Chromium)
	svc := report.New(s, &report.Chromium{Path: res.Chromium}, nil, clock, log, report.Config{})
	var metrics, htmls, prints, pdfs []float64
	for i := 0; i < res.Runs; i++ {
		t0 := time.Now()
		doc, err := svc.Build(ctx, t.ID, "2026-10", socbot.AudienceManagement)
		if err != nil {
			return err
		}
		if doc.Metrics.Alerts != int64(c.Alerts) || doc.Metrics.Incidents != int64(c.Incidents) {
			return fmt.Errorf("bench report: the report counts %d alerts and %d incidents, the seed has %d and %d",
				doc.Metrics.Alerts, doc.Metrics.Incidents, c.Alerts, c.Incidents)
		}
		t1 := time.Now()
		html, err := report.RenderHTML(doc)
		if err != nil {
			return err
		}
		t2 := time.Now()
		pdf, err := svc.PDF(ctx, html)
		if err != nil {
			return err
		}
		t3 := time.Now()
		metrics = append(metrics, benchMS(t1.Sub(t0)))
		htmls = append(htmls, benchMS(t2.Sub(t0)))
		prints = append(prints, benchMS(t3.Sub(t2)))
		pdfs = append(pdfs, benchMS(t3.Sub(t0)))
		res.HTMLBytes, res.PDFBytes = len(html), len(pdf)
		if c.Keep != "" {
			_ = os.WriteFile(filepath.Join(dir, "management-2026-10.pdf"), pdf, 0o644)
			_ = os.WriteFile(filepath.Join(dir, "management-2026-10.html"), html, 0o644)
		}
	}
	res.MetricsMs, res.HTMLMs, res.PrintMs, res.PDFMs = benchMedian(metrics), benchMedian(htmls), benchMedian(prints), benchMedian(pdfs)
	enc := json.NewEncoder(os.Stdout)
	if !c.JSON {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(res)
}

func benchMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func benchMedian(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
