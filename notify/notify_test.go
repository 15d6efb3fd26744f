package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/sqlite"
	"github.com/socbot/socbot/sqlstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// mailbox is a real SMTP server in-process that keeps what it receives.
type mailbox struct {
	mu       sync.Mutex
	messages []received
	reject   atomic.Int32 // reply 451 to this many DATA commands first
}

type received struct {
	from string
	to   []string
	data []byte
}

func (m *mailbox) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &session{box: m}, nil }

type session struct {
	box *mailbox
	cur received
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.box.reject.Load() > 0 {
		s.box.reject.Add(-1)
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.cur.data = b
	s.box.mu.Lock()
	s.box.messages = append(s.box.messages, s.cur)
	s.box.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T) (*mailbox, string, int) {
	t.Helper()
	box := &mailbox{}
	srv := gosmtp.NewServer(box)
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	return box, host, p
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var admin = socbot.Principal{Role: socbot.RoleAdmin, Name: "test:admin"}

type fixture struct {
	store  *sqlstore.Store
	clock  *clock
	tenant socbot.Tenant
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "n.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)}
	s := sqlstore.New(db, sqlstore.SQLite, c, quiet)
	t.Cleanup(func() { s.Close() })
	tn := socbot.Tenant{Name: "acme"}
	if err := s.CreateTenant(context.Background(), &tn, admin); err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, clock: c, tenant: tn}
}

func (f *fixture) channel(t *testing.T, c socbot.Channel) socbot.Channel {
	t.Helper()
	c.TenantID, c.Enabled = f.tenant.ID, true
	if c.Name == "" {
		c.Name = c.Kind
	}
	if err := f.store.CreateChannel(context.Background(), &c, admin); err != nil {
		t.Fatal(err)
	}
	return c
}

// incident creates an incident through triage, which queues the incident.created notices.
func (f *fixture) incident(t *testing.T, title string) socbot.Incident {
	t.Helper()
	now := f.clock.Now()
	inc := socbot.Incident{TenantID: f.tenant.ID, Title: title, Priority: socbot.P1, Queue: "triage", FirstSeen: now, LastSeen: now,
		CreatedAt: now, UpdatedAt: now, AlertCount: 3, Reasons: []string{"host db-01 is a crown jewel", "<script>alert(1)</script>"}}
	err := f.store.TriageTx(context.Background(), func(tx socbot.TriageTx) error {
		if err := tx.CreateIncident(&inc); err != nil {
			return err
		}
		return tx.Notify(f.tenant.ID, socbot.EventIncidentCreated, inc, "3 alerts on db-01")
	})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func (f *fixture) log(t *testing.T) []socbot.Notification {
	t.Helper()
	l, err := f.store.Notifications(context.Background(), f.tenant.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestEmailOverSMTP(t *testing.T) {
	f := newFixture(t)
	box, host, port := startSMTP(t)
	f.channel(t, socbot.Channel{Kind: socbot.ChannelEmail, Target: "soc@acme.example, ciso@acme.example"})
	inc := f.incident(t, "Ransomware on db-01")
	d := New(f.store, Config{SMTP: SMTPConfig{Host: host, Port: port, From: "SOC <soc@mssp.example>", TLS: "none"}, ConsoleURL: "https://soc.mssp.example"}, f.clock, quiet, nil)
	if n, err := d.RunOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("RunOnce: %d %v", n, err)
	}
	if len(box.messages) != 1 {
		t.Fatalf("%d messages delivered", len(box.messages))
	}
	got := box.messages[0]
	if got.from != "soc@mssp.example" || len(got.to) != 2 {
		t.Fatalf("envelope %+v", got)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got.data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if !strings.Contains(subject, "Ransomware on db-01") || !strings.Contains(subject, "#1") {
		t.Fatalf("subject %q", subject)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	parts := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(b)
	}
	if !strings.Contains(parts["text/plain"], "host db-01 is a crown jewel") || !strings.Contains(parts["text/plain"], "https://soc.mssp.example/incidents/") {
		t.Fatalf("text part:\n%s", parts["text/plain"])
	}
	if !strings.Contains(parts["text/html"], "&lt;script&gt;") || strings.Contains(parts["text/html"], "<script>") {
		t.Fatalf("HTML part is not escaped:\n%s", parts["text/html"])
	}
	l := f.log(t)
	if l[0].Status != socbot.DeliverySent || l[0].Attempts != 1 || l[0].SentAt == nil {
		t.Fatalf("delivery log %+v", l[0])
	}
	tl, _ := f.store.Timeline(context.Background(), f.tenant.ID, inc.ID)
	if len(tl) == 0 || tl[len(tl)-1].Kind != "notified" || !strings.Contains(tl[len(tl)-1].Text, "soc@acme.example") {
		t.Fatalf("timeline %+v", tl)
	}
}

func TestEmailRetryAndPermanentFailure(t *testing.T) {
	f := newFixture(t)
	box, host, port := startSMTP(t)
	box.reject.Store(2)
	f.channel(t, socbot.Channel{Kind: socbot.ChannelEmail, Target: "soc@acme.example"})
	f.channel(t, socbot.Channel{Name: "typo", Kind: socbot.ChannelEmail, Target: "nobody@acme.example"})
	f.incident(t, "x")
	d := New(f.store, Config{SMTP: SMTPConfig{Host: host, Port: port, From: "soc@mssp.example", TLS: "none"}, BaseBackoff: time.Minute}, f.clock, quiet, nil)
	d.RunOnce(context.Background())
	l := f.log(t)
	byTarget := map[int64]socbot.Notification{}
	for _, n := range l {
		byTarget[n.ChannelID] = n
	}
	var good, bad socbot.Notification
	for _, n := range byTarget {
		if n.Status == socbot.DeliveryFailed {
			bad = n
		} else {
			good = n
		}
	}
	if !strings.Contains(bad.LastError, "no such mailbox") || bad.Attempts != 1 {
		t.Fatalf("550 should fail at once: %+v", bad)
	}
	if good.Status != socbot.DeliveryPending || good.Attempts != 1 || !strings.Contains(good.LastError, "451") {
		t.Fatalf("451 should be retried: %+v", good)
	}
	// Not due yet: nothing happens.
	if n, _ := d.RunOnce(context.Background()); n != 0 {
		t.Fatalf("retried before the backoff: %d", n)
	}
	f.clock.Advance(2 * time.Minute)
	d.RunOnce(context.Background()) // second 451
	f.clock.Advance(5 * time.Minute)
	d.RunOnce(context.Background())
	if len(box.messages) != 1 {
		t.Fatalf("%d delivered after retries, want 1", len(box.messages))
	}
	for _, n := range f.log(t) {
		if n.ID == good.ID && (n.Status != socbot.DeliverySent || n.Attempts != 3) {
			t.Fatalf("after retries: %+v", n)
		}
	}
}

func TestWebhooksSlackTeams(t *testing.T) {
	f := newFixture(t)
	type hit struct {
		path string
		hdr  http.Header
		body []byte
	}
	var mu sync.Mutex
	var hits []hit
	var fail429 atomic.Int32
	fail429.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/hook" && fail429.Load() > 0 {
			fail429.Add(-1)
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(429)
			return
		}
		if r.URL.Path == "/gone" {
			w.WriteHeader(404)
			return
		}
		mu.Lock()
		hits = append(hits, hit{r.URL.Path, r.Header.Clone(), b})
		mu.Unlock()
	}))
	defer srv.Close()
	f.channel(t, socbot.Channel{Kind: socbot.ChannelSlack, Target: srv.URL + "/slack"})
	f.channel(t, socbot.Channel{Kind: socbot.ChannelTeams, Target: srv.URL + "/teams"})
	f.channel(t, socbot.Channel{Kind: socbot.ChannelWebhook, Target: srv.URL + "/hook", Secret: "s3cret"})
	f.channel(t, socbot.Channel{Name: "dead", Kind: socbot.ChannelSlack, Target: srv.URL + "/gone"})
	f.incident(t, "C2 beacon from ws-7")
	d := New(f.store, Config{BaseBackoff: time.Second}, f.clock, quiet, nil)
	d.RunOnce(context.Background())
	if len(hits) != 2 {
		t.Fatalf("first round: %d deliveries", len(hits))
	}
	for _, n := range f.log(t) {
		if strings.Contains(n.LastError, "429") && !n.NextAttemptAt.After(f.clock.Now().Add(100*time.Second)) {
			t.Fatalf("Retry-After not honoured: next attempt %v", n.NextAttemptAt)
		}
		if strings.Contains(n.LastError, "404") && n.Status != socbot.DeliveryFailed {
			t.Fatalf("404 should be permanent: %+v", n)
		}
	}
	f.clock.Advance(3 * time.Minute)
	d.RunOnce(context.Background())
	if len(hits) != 3 {
		t.Fatalf("after retry: %d deliveries", len(hits))
	}
	for _, h := range hits {
		switch h.path {
		case "/slack":
			var p struct {
				Text   string           `json:"text"`
				Blocks []map[string]any `json:"blocks"`
			}
			if json.Unmarshal(h.body, &p) != nil || !strings.Contains(p.Text, "C2 beacon") || len(p.Blocks) < 2 {
				t.Errorf("slack payload %s", h.body)
			}
		case "/teams":
			if !strings.Contains(string(h.body), "application/vnd.microsoft.card.adaptive") || !strings.Contains(string(h.body), "C2 beacon") {
				t.Errorf("teams payload %s", h.body)
			}
		case "/hook":
			ts, _ := strconv.ParseInt(h.hdr.Get(HeaderTimestamp), 10, 64)
			if !Verify("s3cret", ts, h.body, h.hdr.Get(HeaderSignature)) {
				t.Errorf("webhook signature does not verify")
			}
			if Verify("wrong", ts, h.body, h.hdr.Get(HeaderSignature)) {
				t.Errorf("signature verifies with the wrong secret")
			}
			var b socbot.NotificationBody
			if json.Unmarshal(h.body, &b) != nil || b.Event != socbot.EventIncidentCreated || b.Incident.Title != "C2 beacon from ws-7" {
				t.Errorf("webhook body %s", h.body)
			}
		}
	}
}

// A dispatcher that dies after claiming leaves the notice to the next one once the lease runs out.
func TestCrashedDispatcherLosesNothing(t *testing.T) {
	f := newFixture(t)
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	f.channel(t, socbot.Channel{Kind: socbot.ChannelSlack, Target: srv.URL})
	f.incident(t, "x")
	claimed, err := f.store.ClaimNotifications(context.Background(), f.clock.Now(), 2*time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %d", err, len(claimed))
	} // ...and the process dies here.
	d := New(f.store, Config{}, f.clock, quiet, nil)
	if n, _ := d.RunOnce(context.Background()); n != 0 {
		t.Fatal("a leased notice was sent twice at once")
	}
	f.clock.Advance(3 * time.Minute)
	if n, _ := d.RunOnce(context.Background()); n != 1 || got.Load() != 1 {
		t.Fatalf("notice not delivered after the lease: tried %d, got %d", n, got.Load())
	}
}
