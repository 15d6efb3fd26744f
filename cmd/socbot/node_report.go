package main

import (
	"context"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/notify"
	"github.com/socbot/socbot/report"
)

// The report bot: the report API (httpapi/reports.go) and the scheduler of monthly and quarterly
// reports, which e-mails each PDF through the node's SMTP settings.
func init() {
	registerBot("report", func(ctx context.Context, n *node) error {
		var mailer report.Mailer
		if n.cfg.SMTP.Host != "" {
			mailer = smtpReportMailer{cfg: n.cfg.SMTP, clock: n.clock}
		}
		chromium := report.FindChromium(n.cfg.Chromium)
		log := n.log.With("bot", "report")
		if chromium == "" {
			log.Warn("no Chromium found: PDF reports will fail until one is installed (set chromium in the config or SOCBOT_CHROMIUM)")
		}
		svc := report.New(n.store, &report.Chromium{Path: chromium}, mailer, n.clock, log, report.Config{})
		n.api.Reports = svc
		n.run("report-scheduler", func() error { return svc.RunSchedules(n.bctx) })
		return nil
	})
}

// smtpReportMailer sends reports through notify's SMTP client.
type smtpReportMailer struct {
	cfg   notify.SMTPConfig
	clock socbot.Clock
}

func (m smtpReportMailer) SendReport(ctx context.Context, to []string, subject, text, filename string, pdf []byte) error {
	return notify.SendMail(ctx, m.cfg, 2*time.Minute, notify.Mail{To: to, Subject: subject, Text: text,
		Attachments: []notify.Attachment{{Name: filename, ContentType: "application/pdf", Data: pdf}}}, m.clock.Now())
}
