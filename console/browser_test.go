package console

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/report"
)

// chromium returns the browser for the real-browser tests: SOCBOT_TEST_CHROMIUM, which must work when set.
func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("SOCBOT_TEST_CHROMIUM")
	if p == "" {
		t.Skip("browser tests skipped: set SOCBOT_TEST_CHROMIUM=/usr/bin/chromium (scripts/test does)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("SOCBOT_TEST_CHROMIUM=%s: %v", p, err)
	}
	return p
}

// screenshots is <repo>/.artifacts/screenshots, created on demand (the folder is gitignored).
func screenshots(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
	out := filepath.Join(dir, ".artifacts", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostile alerts try to run script from every field a page shows: title, host name, user, raw payload.
func hostileAlerts() []string {
	return []string{
		wazuh(101, `Hostile title <script>document.title='pwned'</script> <img src=x onerror="window.__xss=1"> end`, `web"><svg onload="window.__xss=2">01`, "203.0.113.99",
			`"dstuser":"<iframe src=javascript:window.__xss=3>","payload":"</pre><script>window.__xss=4</script>"`),
		wazuh(102, `Second '"><img src=x onerror=window.__xss=5> {{.}} ${7*7}`, `host<script>window.__xss=6</script>`, "203.0.113.98", ""),
	}
}

type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
}

func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *tab) eval(expr string, out any) {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	switch o := out.(type) {
	case *string:
		*o = fmt.Sprint(v)
	case *bool:
		*o, _ = v.(bool)
	case *float64:
		*o, _ = v.(float64)
	}
}

// waitFor polls a boolean expression until it holds.
func (b *tab) waitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var ok bool
		b.eval(expr, &ok)
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	var html string
	b.eval(`document.body.innerText.slice(0, 600)`, &html)
	b.t.Fatalf("timed out waiting for %s (%s); page: %s", what, expr, html)
}

func (b *tab) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) signIn(email string) {
	b.t.Helper()
	b.do("sign in as "+email,
		chromedp.EmulateViewport(1280, 860),
		chromedp.Navigate(b.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("header.top")),
	)
}

// inert checks that no hostile script ran and no hostile element exists, and that the hostile text is
// on the page as text.
func (b *tab) inert(page string, wantText string) {
	b.t.Helper()
	var res string
	// A payload that ran would have set window.__xss or made the title exactly 'pwned' (the page title may
	// show the hostile incident title as text, which is fine).
	b.eval(`JSON.stringify([typeof window.__xss, document.title === 'pwned',
		document.querySelectorAll('main script, main iframe, main img[src="x"], main svg, [onerror], [onload]').length])`, &res)
	if res != `["undefined",false,0]` {
		b.t.Errorf("%s: hostile alert content was not inert: %s", page, res)
	}
	if wantText != "" {
		var found bool
		b.eval(fmt.Sprintf(`document.body.innerText.includes(%q)`, wantText), &found)
		if !found {
			b.t.Errorf("%s: the hostile text %q is not shown as text", page, wantText)
		}
	}
}

// TestBrowser drives the console in headless Chromium: an analyst works an incident end to end, approves
// a containment action, produces and downloads a report; a client's viewer reads the portal; hostile
// alerts posted through the ingest API render inert everywhere. Screenshots of the main pages go to
// .artifacts/screenshots.
func TestBrowser(t *testing.T) {
	path := chromium(t)
	shots := screenshots(t)
	e := newEnv(t, envOpts{printer: &report.Chromium{Path: path}})
	e.con.cfg.LivePoll = 200 * time.Millisecond
	e.seed()
	e.post("acme", hostileAlerts()...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), report.BrowserOptions(path, t.TempDir())...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	newTab := func(t *testing.T) *tab {
		ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		ctx, cancel2 := context.WithTimeout(ctx, 60*time.Second)
		t.Cleanup(cancel2)
		return &tab{t: t, ctx: ctx, base: e.srv.URL, shot: shots}
	}
	acme := e.tenant["acme"].ID

	t.Run("analyst works an incident", func(t *testing.T) {
		b := newTab(t)
		b.signIn("ana@acme.example")
		b.waitFor("the queues page", `location.pathname === '/queues' && !!document.querySelector('#queues-table')`)
		// Live update: a new incident's count arrives without a reload (app.js marks the update).
		var before float64
		b.eval(`[...document.querySelectorAll('.open-count')].reduce((s, e) => s + parseInt(e.textContent, 10), 0)`, &before)
		e.post("acme", wazuh(103, "Live C2 beacon", "acme-live-03", "192.0.2.203", ""))
		b.waitFor("the live queue update", fmt.Sprintf(`[...document.querySelectorAll('.open-count')].reduce((s, e) => s + parseInt(e.textContent, 10), 0) > %v && document.querySelector('#live-queues').hasAttribute('data-updated')`, before))
		b.waitFor("a countdown ticked by app.js", `[...document.querySelectorAll('.due')].some(e => /^(due in|overdue by) /.test(e.textContent))`)
		b.inert("queues", "")
		b.screenshot("01-queues.png")

		b.do("search", chromedp.Navigate(b.base+"/incidents?q=brute"), chromedp.WaitVisible(chromedp.CSS("table.incidents")))
		b.screenshot("02-incidents.png")
		b.do("open the incident", chromedp.Click(chromedp.CSS("a.title")), chromedp.WaitVisible(chromedp.CSS("#incident-title")))
		var loc string
		b.eval(`location.pathname`, &loc)
		id := strings.TrimPrefix(loc, "/incidents/")
		b.do("acknowledge", chromedp.SetValue(chromedp.CSS("#status-select"), "acknowledged"), chromedp.Click(chromedp.CSS("#status-button")))
		b.waitFor("acknowledged", `document.querySelector('#status') && document.querySelector('#status').textContent === 'acknowledged'`)
		b.eval(`document.querySelector('#assignee-input').value = ''; true`, new(bool))
		b.do("assign", chromedp.SendKeys(chromedp.CSS("#assignee-input"), "ana@acme.example"),
			chromedp.Click(chromedp.CSS("#assign-button")))
		b.waitFor("assigned", `document.querySelector('#assignee') && document.querySelector('#assignee').textContent === 'ana@acme.example'`)
		b.do("note", chromedp.SendKeys(chromedp.CSS("#note-text"), "Blocked 203.0.113.50 at the edge; password reset for the account."),
			chromedp.Click(chromedp.CSS("#note-button")))
		b.waitFor("the note", `document.querySelector('#timeline').innerText.includes('Blocked 203.0.113.50 at the edge')`)
		b.screenshot("03-incident.png")
		b.do("resolve", chromedp.SetValue(chromedp.CSS("#status-select"), "resolved"), chromedp.Click(chromedp.CSS("#status-button")))
		b.waitFor("resolved", `document.querySelector('#status') && document.querySelector('#status').textContent === 'resolved'`)
		inc, err := e.store.Incident(context.Background(), acme, mustID(id))
		if err != nil || inc.Status != socbot.StatusResolved || inc.Assignee != "ana@acme.example" || inc.AcknowledgedAt == nil {
			t.Fatalf("incident after the browser session: %+v %v", inc, err)
		}

		// Approve the pending containment action (in-memory approval gate: the node has no containment bot wired yet).
		b.do("approvals", chromedp.Navigate(b.base+"/approvals"), chromedp.WaitVisible(chromedp.CSS("#action-1")))
		b.screenshot("04-approvals.png")
		b.do("approve", chromedp.Click(chromedp.CSS("#approve-1")))
		b.waitFor("no action pending", `!!document.querySelector('#no-pending')`)
		if st := e.approvals.actions[1].State; st != "approved" {
			t.Fatalf("action state %s after approval", st)
		}

		// Produce a report with the real Chromium printer and download it through the browser's session.
		b.do("reports", chromedp.Navigate(b.base+"/reports"), chromedp.WaitVisible(chromedp.CSS("#generate-form")),
			chromedp.SetValue(chromedp.CSS("#period"), e.clock.Now().Format("2006-01")), chromedp.Click(chromedp.CSS("#generate")))
		b.waitFor("the report", `!!document.querySelector('tr.run-ok a.download-pdf')`)
		b.screenshot("05-reports.png")
		var dl string
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(async () => {
			const a = document.querySelector('tr.run-ok a.download-pdf');
			const r = await fetch(a.href);
			const buf = new Uint8Array(await r.arrayBuffer());
			return r.status + ' ' + r.headers.get('content-type') + ' ' + r.headers.get('content-disposition') + ' ' + String.fromCharCode(...buf.slice(0, 5)) + ' ' + buf.length;
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		dl = v
		if !strings.HasPrefix(dl, "200 application/pdf attachment;") || !strings.Contains(dl, " %PDF-") {
			t.Fatalf("report download: %s", dl)
		}
	})

	t.Run("hostile alerts render inert", func(t *testing.T) {
		b := newTab(t)
		b.signIn("ana@acme.example")
		b.do("incidents", chromedp.Navigate(b.base+"/incidents"), chromedp.WaitVisible(chromedp.CSS("table.incidents")))
		b.inert("incident list", "Hostile title <script>document.title='pwned'</script>")
		ctx := context.Background()
		res, _ := e.store.SearchIncidents(ctx, socbot.IncidentQuery{TenantID: acme, Search: "hostile", Now: e.clock.Now()})
		if len(res.Incidents) == 0 {
			t.Fatal("the hostile incident was not created")
		}
		for _, inc := range res.Incidents {
			b.do("hostile incident", chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", b.base, inc.ID)), chromedp.WaitVisible(chromedp.CSS("#incident-title")))
			// Open every alert so the raw payloads are laid out too.
			b.eval(`document.querySelectorAll('details').forEach(d => d.open = true); true`, new(bool))
			b.inert("incident page", `<script>window.__xss=4</script>`)
		}
		b.screenshot("07-hostile-incident.png")
		b.do("queues", chromedp.Navigate(b.base+"/queues"), chromedp.WaitVisible(chromedp.CSS("#queues-table")))
		time.Sleep(500 * time.Millisecond) // let a live update arrive
		b.inert("queues", "")
		v := newTab(t)
		v.signIn("vic@acme.example")
		v.waitFor("the portal", `location.pathname === '/portal'`)
		v.inert("portal", "Hostile title")
	})

	t.Run("client viewer reads the portal", func(t *testing.T) {
		b := newTab(t)
		b.signIn("vic@acme.example")
		b.waitFor("the portal", `location.pathname === '/portal' && document.body.innerText.includes('Your incidents')`)
		var text string
		b.eval(`document.body.innerText`, &text)
		if strings.Contains(strings.ToLower(text), marker) {
			t.Fatal("the portal shows another tenant's data")
		}
		b.screenshot("06-portal.png")
		b.do("staff page", chromedp.Navigate(b.base+"/queues"))
		b.waitFor("refusal", `document.querySelector('#error-message') !== null`)
	})

	t.Run("MSSP admin sees every tenant", func(t *testing.T) {
		b := newTab(t)
		b.signIn("admin@mssp.example")
		b.do("tenants", chromedp.Navigate(b.base+"/tenants"), chromedp.WaitVisible(chromedp.CSS("#tenants")))
		b.screenshot("08-tenants.png")
		b.do("login page", chromedp.Navigate(b.base+"/login"))
	})

	t.Run("sign-in page", func(t *testing.T) {
		b := newTab(t)
		b.do("login", chromedp.EmulateViewport(1280, 860), chromedp.Navigate(b.base+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")))
		b.screenshot("00-login.png")
	})
}
