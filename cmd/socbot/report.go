package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/report"
)

func init() {
	register("report", "Produce a tenant's management or technical report for a period as PDF or HTML (reads the database directly).", &reportCmd{})
}

type reportCmd struct {
	storeFlags
	Tenant   string `required:"" help:"Tenant name or id."`
	Period   string `required:"" help:"2026-10 (a month), 2026-Q3 (a quarter) or FROM..TO (2026-10-01..2026-10-15, both days included), in the tenant's time zone."`
	Audience string `default:"management" enum:"management,technical" help:"management (summary, volumes, response times, SLA, automation, threats, posture) or technical (every incident with its timeline, indicators and actions; open items)."`
	Format   string `default:"pdf" enum:"pdf,html" help:"pdf (printed by headless Chromium) or html (one self-contained page)."`
	Output   string `short:"o" required:"" help:"File to write; '-' writes to stdout. Written only when the report is complete." placeholder:"FILE"`
	Chromium string `help:"Chromium binary for PDF (default: config chromium, SOCBOT_CHROMIUM, /usr/bin/chromium, chromium on PATH)." placeholder:"PATH"`
	Store    bool   `help:"Also store the report in the database, where the API and the console list it."`
}

func (c *reportCmd) Run(g *Globals) error {
	ctx := context.Background()
	cfg, err := loadConfig(g, c.storeFlags, nil)
	if err != nil {
		return err
	}
	s, err := openStore(ctx, cfg, g.Logger(), socbot.SystemClock{})
	if err != nil {
		return err
	}
	defer s.Close()
	t, err := s.Tenant(ctx, c.Tenant)
	if err != nil {
		if t, err = s.TenantByName(ctx, c.Tenant); err != nil {
			return socbot.FieldError("report", "tenant", "no tenant %q", c.Tenant)
		}
	}
	chromium := report.FindChromium(firstNonEmpty(c.Chromium, cfg.Chromium))
	svc := report.New(s, &report.Chromium{Path: chromium}, nil, socbot.SystemClock{}, g.Logger(), report.Config{})
	start := time.Now()
	var out []byte
	if c.Store {
		run, err := svc.Generate(ctx, socbot.ReportRequest{TenantID: t.ID, Period: c.Period, Audience: c.Audience}, cliPrincipal())
		if err != nil {
			return fmt.Errorf("report failed (recorded as report %d): %w", run.ID, err)
		}
		full, err := s.ReportRun(ctx, t.ID, run.ID, true)
		if err != nil {
			return err
		}
		out = full.PDF
		if c.Format == socbot.FormatHTML {
			out = full.HTML
		}
		fmt.Fprintf(os.Stderr, "stored as report %d\n", run.ID)
	} else {
		doc, err := svc.Build(ctx, t.ID, c.Period, c.Audience)
		if err != nil {
			return err
		}
		if out, err = report.RenderHTML(doc); err != nil {
			return err
		}
		if c.Format == socbot.FormatPDF {
			if out, err = svc.PDF(ctx, out); err != nil {
				return err
			}
		}
	}
	if c.Output == "-" {
		_, err = os.Stdout.Write(out)
		return err
	}
	// Write beside the target and rename, so that FILE is either the whole report or untouched.
	tmp, err := os.CreateTemp(filepath.Dir(c.Output), ".socbot-report-*")
	if err != nil {
		return socbot.E("report", socbot.KindUnavailable, err)
	}
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), c.Output); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	fmt.Fprintf(os.Stderr, "%s report for %s, %s: %s (%d bytes, %s)\n", c.Audience, t.Name, c.Period, c.Output, len(out), time.Since(start).Round(time.Millisecond))
	return nil
}
