package main

import (
	"net/http"
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
}
