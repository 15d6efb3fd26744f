package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	g := &Globals{LogLevel: "error", LogFormat: "text"}
	cfg, err := loadConfig(g, storeFlags{Data: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openStore(context.Background(), cfg, g.Logger(), socbot.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	tn := socbot.Tenant{Name: "acme", TimeZone: "Europe/Berlin"}
	if err := s.CreateTenant(context.Background(), &tn, cliPrincipal()); err != nil {
		t.Fatal(err)
	}
	s.Close()

	out := filepath.Join(dir, "acme.html")
	c := &reportCmd{storeFlags: storeFlags{Data: dir}, Tenant: "acme", Period: "2026-Q3", Audience: "technical", Format: "html", Output: out}
	if err := c.Run(g); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte("acme")) || !bytes.Contains(b, []byte("Open items")) || !bytes.Contains(b, []byte("2026-Q3")) {
		t.Fatalf("report file: %v %.200s", err, b)
	}
	bad := &reportCmd{storeFlags: storeFlags{Data: dir}, Tenant: "acme", Period: "2026-13", Audience: "management", Format: "html", Output: filepath.Join(dir, "bad.html")}
	if err := bad.Run(g); socbot.ErrorField(err) != "period" {
		t.Fatalf("bad period: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.html")); !os.IsNotExist(err) {
		t.Fatal("a failed report left a file")
	}
	nobody := &reportCmd{storeFlags: storeFlags{Data: dir}, Tenant: "nobody", Period: "2026-10", Audience: "management", Format: "html", Output: out}
	if err := nobody.Run(g); socbot.ErrorField(err) != "tenant" {
		t.Fatalf("unknown tenant: %v", err)
	}
	// PDF: a Chromium that is not there fails clearly and writes nothing.
	missing := &reportCmd{storeFlags: storeFlags{Data: dir}, Tenant: "acme", Period: "2026-10", Audience: "management", Format: "pdf",
		Output: filepath.Join(dir, "x.pdf"), Chromium: "/nonexistent/chromium"}
	if err := missing.Run(g); err == nil || !strings.Contains(err.Error(), "Chromium not found") {
		t.Fatalf("missing Chromium: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pdf")); !os.IsNotExist(err) {
		t.Fatal("a failed PDF left a file")
	}
	path := os.Getenv("SOCBOT_TEST_CHROMIUM")
	if path == "" {
		t.Skip("set SOCBOT_TEST_CHROMIUM to print the PDF")
	}
	pdf := &reportCmd{storeFlags: storeFlags{Data: dir}, Tenant: "acme", Period: "2026-10", Audience: "management", Format: "pdf",
		Output: filepath.Join(dir, "acme.pdf"), Chromium: path, Store: true}
	if err := pdf.Run(g); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "acme.pdf")); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
}
