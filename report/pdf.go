package report

import (
	"context"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	socbot "github.com/socbot/socbot"
)

// Printer turns a report's HTML into PDF.
type Printer interface {
	PDF(ctx context.Context, html []byte) ([]byte, error)
}

// Chromium prints PDF with headless Chromium through the DevTools protocol. The page is set from
// memory (no server, no file) and Chromium runs with networking features off and a fresh profile.
type Chromium struct {
	Path    string        // the browser binary; see FindChromium
	Timeout time.Duration // whole print, default 60 s
}

var _ Printer = (*Chromium)(nil)

// FindChromium returns the Chromium to use: path if set (even if it does not exist: the print then
// fails saying so, never silently using another), else SOCBOT_CHROMIUM if set, else /usr/bin/chromium
// or chromium / chromium-browser / google-chrome on PATH. It returns "" if none is found.
func FindChromium(path string) string {
	if path != "" {
		return path
	}
	if env := os.Getenv("SOCBOT_CHROMIUM"); env != "" {
		return env
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// BrowserOptions are the flags socbot starts headless Chromium with: no sandbox (containers), no GPU,
// nothing that reaches the network on its own, and a fresh profile in dir.
func BrowserOptions(path, dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
}

// PDF prints html to an A4 PDF.
func (c *Chromium) PDF(ctx context.Context, html []byte) ([]byte, error) {
	const op = "report.pdf"
	if c.Path == "" {
		return nil, socbot.E(op, socbot.KindUnavailable, "no Chromium found: install chromium or set SOCBOT_CHROMIUM (or --chromium) to its path")
	}
	if _, err := os.Stat(c.Path); err != nil {
		return nil, socbot.E(op, socbot.KindUnavailable, "Chromium not found at "+c.Path, err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "socbot-chromium-")
	if err != nil {
		return nil, socbot.E(op, socbot.KindUnavailable, err)
	}
	defer os.RemoveAll(dir)
	actx, acancel := chromedp.NewExecAllocator(ctx, BrowserOptions(c.Path, dir)...)
	defer acancel()
	tctx, tcancel := chromedp.NewContext(actx)
	defer tcancel()
	if err := chromedp.Do(tctx, chromedp.Navigate("about:blank")); err != nil {
		return nil, socbot.E(op, socbot.KindUnavailable, "could not start Chromium at "+c.Path, err)
	}
	out, err := chromedp.Run(tctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		if _, err := cdp.Call(ctx, t, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: tree.FrameTree.Frame.ID, HTML: string(html)}); err != nil {
			return nil, err
		}
		return chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground(), func(p *page.PrintToPDFParams) {
			t := true
			p.PreferCSSPageSize = &t
			p.DisplayHeaderFooter = &t
			p.HeaderTemplate = `<span></span>`
			p.FooterTemplate = `<div style="font-size:8px;width:100%;text-align:center;color:#777"><span class="pageNumber"></span> / <span class="totalPages"></span></div>`
		})(ctx, t)
	})
	if err != nil {
		return nil, socbot.E(op, socbot.KindUnavailable, "Chromium could not print the report", err)
	}
	if len(out) < 5 || string(out[:5]) != "%PDF-" {
		return nil, socbot.E(op, socbot.KindOther, "Chromium returned something that is not a PDF")
	}
	return out, nil
}
