// Package report is the report bot: it turns one tenant's data for a period into a management or a
// technical report, as HTML and as PDF from the same template (charts are inline SVG; the PDF is
// printed by headless Chromium through chromedp), stores every run, and produces each tenant's
// monthly and quarterly reports on schedule in the tenant's time zone, e-mailing the PDF.
//
// Every number a report shows comes from socbot.ReportMetrics, computed once by the store; the
// derived figures (rates, the analyst-hours model) are computed from it in one function, derive.
package report
