package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs the README's first command (with a short replay) and uses what it prints.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs socbot demo")
	}
	bin := socbotBinary(t)
	data := t.TempDir()
	addr := freePort(t)
	out, err := exec.Command(bin, "demo", "--data", data, "--listen", addr, "--alerts", "200", "--rate", "2000", "--once", "--log-level", "warn").CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"Tenant acme-corp", "Tenant globex", "the scripted intrusion", "MSSP admin token", "/api/v1/incidents"} {
		if !strings.Contains(text, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "the scripted intrusion") != 2 {
		t.Fatalf("want the intrusion correlated into one incident per tenant:\n%s", text)
	}
	// The printed tokens work against the same data once a server runs on it.
	analyst := regexp.MustCompile(`analyst token: (sbt_\w+)`).FindStringSubmatch(text)
	if analyst == nil {
		t.Fatalf("no analyst token printed:\n%s", text)
	}
	srv := startServer(t, bin, data, freePort(t))
	defer srv.cmd.Process.Kill()
	req, _ := http.NewRequest("GET", srv.url+"/api/v1/incidents?priority=P1", nil)
	req.Header.Set("Authorization", "Bearer "+analyst[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("printed analyst token: %v %v", err, resp)
	}
	resp.Body.Close()

	// The printed console sign-ins work: MSSP staff see every tenant, a client's viewer their portal.
	for _, who := range []struct{ email, page, want, not string }{
		{"soc@mssp.example", "/incidents", "acme-corp", ""},
		{"viewer@globex.example", "/incidents", "globex", "acme-corp"},
	} {
		m := regexp.MustCompile(regexp.QuoteMeta(who.email) + `\s+password (\w+)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no console sign-in printed for %s:\n%s", who.email, text)
		}
		body := demoSignIn(t, srv.url, who.email, m[1], who.page)
		if !strings.Contains(body, who.want) || (who.not != "" && strings.Contains(body, who.not)) {
			t.Fatalf("%s %s: want %q and not %q:\n%s", who.email, who.page, who.want, who.not, body)
		}
	}
}

// demoSignIn signs in to the console with a password and returns the body of page.
func demoSignIn(t *testing.T, base, email, password, page string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) string {
		r, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/login"))
	if csrf == nil {
		t.Fatal("no CSRF field on the sign-in page")
	}
	r, err := c.PostForm(base+"/login", url.Values{"csrf": {csrf[1]}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.Request.URL.Path == "/login" {
		t.Fatalf("sign-in of %s refused: %d", email, r.StatusCode)
	}
	return get(page)
}
