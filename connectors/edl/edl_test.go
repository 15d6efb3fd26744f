package edl

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

func newConn(t *testing.T, opts map[string]string) (*Connector, string) {
	t.Helper()
	dir := t.TempDir()
	o := map[string]string{"dir": dir}
	for k, v := range opts {
		o[k] = v
	}
	c, err := New(socbot.ConnectorConfig{Type: Type, Options: o}, vendorhttp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

func apply(t *testing.T, c *Connector, kind socbot.ActionKind, v string) socbot.ContainmentResult {
	t.Helper()
	res, err := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: kind, Value: v, Reference: "soc:CASE-1"}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func TestLifecycle(t *testing.T) {
	c, dir := newConn(t, nil)
	for _, tc := range []struct {
		kind socbot.ActionKind
		in   string
		line string
		file string
	}{
		{socbot.ActBlockIP, "203.0.113.7", "203.0.113.7", "soc-block-ip.txt"},
		{socbot.ActBlockIP, "198.51.100.9/24", "198.51.100.0/24", "soc-block-ip.txt"},
		{socbot.ActBlockIP, "192.0.2.10-192.0.2.20", "192.0.2.10-192.0.2.20", "soc-block-ip.txt"},
		{socbot.ActBlockDomain, "*.Evil.Example", "*.evil.example", "soc-block-domain.txt"},
		{socbot.ActBlockURL, "https://Bad.Example/login#x", "bad.example/login", "soc-block-url.txt"},
	} {
		pl, _ := c.Plan(context.Background(), []socbot.ContainmentRequest{{Kind: tc.kind, Value: tc.in}})
		if !strings.HasPrefix(pl[0].Change, "add line "+tc.line) {
			t.Fatalf("plan: %+v", pl[0])
		}
		if r := apply(t, c, tc.kind, tc.in); r.Outcome != socbot.OutcomeApplied {
			t.Fatalf("%s: %+v", tc.in, r)
		}
		if r := apply(t, c, tc.kind, tc.in); r.Outcome != socbot.OutcomeAlreadyPresent {
			t.Fatalf("%s again: %+v", tc.in, r)
		}
		b, _ := os.ReadFile(filepath.Join(dir, tc.file))
		if !strings.Contains(string(b), tc.line+" soc:CASE-1\n") {
			t.Fatalf("%s not written as %q:\n%s", tc.in, tc.line, b)
		}
		if r := apply(t, c, tc.kind.Inverse(), tc.in); r.Outcome != socbot.OutcomeRemoved {
			t.Fatalf("unblock %s: %+v", tc.in, r)
		}
		if r := apply(t, c, tc.kind.Inverse(), tc.in); r.Outcome != socbot.OutcomeAlreadyAbsent {
			t.Fatalf("unblock %s again: %+v", tc.in, r)
		}
		b, _ = os.ReadFile(filepath.Join(dir, tc.file))
		if strings.Contains(string(b), tc.line) {
			t.Fatalf("%s still listed", tc.line)
		}
	}
	for _, bad := range []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "0.0.0.0/0"}, {Kind: socbot.ActBlockIP, Value: "192.0.2.20-192.0.2.10"},
		{Kind: socbot.ActBlockDomain, Value: "ev*il.example"}, {Kind: socbot.ActIsolateHost, Value: "h"}} {
		if r := apply(t, c, bad.Kind, bad.Value); r.Outcome != socbot.OutcomeFailed {
			t.Errorf("%s %q accepted", bad.Kind, bad.Value)
		}
	}
}

func TestParseSpecFormats(t *testing.T) {
	in := "# header comment\n192.168.20.0/24 ; test internal subnet\n\n203.0.113.7\n192.0.2.10-192.0.2.20\tcomment\n// another\n"
	es := Parse([]byte(in))
	want := []Entry{{"192.168.20.0/24", "; test internal subnet"}, {"203.0.113.7", ""}, {"192.0.2.10-192.0.2.20", "comment"}}
	if len(es) != len(want) {
		t.Fatalf("%+v", es)
	}
	for i := range want {
		if es[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, es[i], want[i])
		}
	}
	if len(Parse(nil)) != 0 {
		t.Error("empty file")
	}
}

func TestCapacity(t *testing.T) {
	c, _ := newConn(t, map[string]string{"max_entries": "2"})
	apply(t, c, socbot.ActBlockIP, "203.0.113.1")
	apply(t, c, socbot.ActBlockIP, "203.0.113.2")
	r := apply(t, c, socbot.ActBlockIP, "203.0.113.3")
	if r.Outcome != socbot.OutcomeFailed || !socbot.IsKind(r.Err, socbot.KindTooLarge) {
		t.Fatalf("over capacity: %+v", r)
	}
}

func TestHandler(t *testing.T) {
	c, dir := newConn(t, nil)
	apply(t, c, socbot.ActBlockIP, "203.0.113.7")
	srv := httptest.NewServer(Handler(dir, "fw", "edl-pass-1234", c.Files()...))
	defer srv.Close()
	get := func(path, user, pass string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	if code, body := get("/soc-block-ip.txt", "fw", "edl-pass-1234"); code != 200 || body != "203.0.113.7 soc:CASE-1\n" {
		t.Fatalf("%d %q", code, body)
	}
	if code, body := get("/soc-block-url.txt", "fw", "edl-pass-1234"); code != 200 || body != "" {
		t.Fatalf("an unwritten list must serve empty: %d %q", code, body)
	}
	if code, _ := get("/soc-block-ip.txt", "fw", "wrong"); code != 401 {
		t.Fatalf("bad password: %d", code)
	}
	if code, _ := get("/../../etc/passwd", "fw", "edl-pass-1234"); code != 404 {
		t.Fatalf("traversal: %d", code)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("192.168.20.0/24 ; test internal subnet\n203.0.113.7\n"))
	f.Add([]byte("*.evil.example\n^exact.example\nbad.example/login?x=1 soc:CASE-1\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		es := Parse(b)
		again := Parse(Render(append([]Entry(nil), es...)))
		if len(again) != len(es) {
			t.Fatalf("render/parse changed the entry count: %d -> %d", len(es), len(again))
		}
	})
}
