package console

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	socbot "github.com/socbot/socbot"
)

// TestPagesRender opens every page as the admin, an analyst and a viewer.
func TestPagesRender(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.seed()
	acmeInc := firstIncident(t, e, "acme")
	for _, tc := range []struct {
		who   string
		paths map[string]int
	}{
		{"admin@mssp.example", map[string]int{"/queues": 200, "/incidents": 200, "/incidents?q=brute&priority=P2&status=open&age=24h": 200,
			"/incidents/" + acmeInc: 200, "/tenants": 200, "/suppressions": 200, "/assets": 200, "/approvals": 200, "/indicators": 200,
			"/reports": 200, "/account": 200, "/": 303, "/incidents?age=bogus": 400, "/nope": 404}},
		{"ana@acme.example", map[string]int{"/queues": 200, "/incidents": 200, "/incidents/" + acmeInc: 200, "/suppressions": 200, "/assets": 200,
			"/approvals": 200, "/indicators": 200, "/reports": 200, "/portal": 200, "/tenants": 403, "/": 303}},
		{"vic@acme.example", map[string]int{"/portal": 200, "/reports": 200, "/incidents/" + acmeInc: 200, "/queues": 403, "/incidents": 403,
			"/approvals": 403, "/tenants": 403, "/": 303}},
	} {
		c := e.login(tc.who)
		for path, want := range tc.paths {
			r := c.do("GET", path, nil)
			if r.code != want {
				t.Errorf("%s GET %s: %d, want %d: %.300s", tc.who, path, r.code, want, r.body)
			}
			if r.code == 200 && !strings.Contains(r.hdr.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("%s: no CSP", path)
			}
		}
	}
}

func firstIncident(t *testing.T, e *env, tenant string) string {
	t.Helper()
	incs, err := e.store.Incidents(context.Background(), socbot.IncidentFilter{TenantID: e.tenant[tenant].ID})
	if err != nil || len(incs) == 0 {
		t.Fatalf("no incident in %s: %v", tenant, err)
	}
	return fmt.Sprint(incs[len(incs)-1].ID)
}

func TestLoginLockoutAndTOTP(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.client()
	try := func(email, pw, code string) resp {
		c.do("GET", "/login", nil)
		return c.do("POST", "/login", url.Values{"csrf": {c.csrf}, "email": {email}, "password": {pw}, "code": {code}})
	}
	if r := try("nobody@acme.example", password, ""); r.code != 401 || !strings.Contains(r.body, "Wrong e-mail, password or code") {
		t.Fatalf("unknown user: %d", r.code)
	}
	for i := 0; i < 5; i++ {
		if r := try("ana@acme.example", "wrong", ""); r.code != 401 {
			t.Fatalf("attempt %d: %d", i, r.code)
		}
	}
	if r := try("ana@acme.example", password, ""); r.code != 429 || !strings.Contains(r.body, "locked") {
		t.Fatalf("locked account let in: %d", r.code)
	}
	e.clock.Advance(16 * time.Minute)
	if r := try("ana@acme.example", password, ""); r.code != 303 {
		t.Fatalf("after the lockout: %d %s", r.code, r.body)
	}
	// The login form's own CSRF token is required.
	c2 := e.client()
	if r := c2.do("POST", "/login", url.Values{"email": {"ana@acme.example"}, "password": {password}}); r.code != 403 {
		t.Fatalf("login without the form token: %d", r.code)
	}
	// TOTP.
	u, _, _ := e.store.UserByEmail(context.Background(), "bo@acme.example")
	key, _ := totp.Generate(totp.GenerateOpts{Issuer: "socbot", AccountName: u.Email})
	if err := e.store.SetTOTPSecret(context.Background(), u.ID, key.Secret(), rootP); err != nil {
		t.Fatal(err)
	}
	c = e.client()
	if r := try("bo@acme.example", password, ""); r.code != 200 || !strings.Contains(r.body, "Enter the code") {
		t.Fatalf("password without code: %d", r.code)
	}
	if r := try("bo@acme.example", password, "000000"); r.code != 401 {
		t.Fatalf("wrong code: %d", r.code)
	}
	code, _ := totp.GenerateCode(key.Secret(), time.Now())
	if r := try("bo@acme.example", password, code); r.code != 303 {
		t.Fatalf("right code: %d %s", r.code, r.body)
	}
	if r := c.do("GET", "/account", nil); r.code != 200 || !strings.Contains(r.body, "totp") {
		t.Fatalf("account: %d", r.code)
	}
	// A disabled user's session ends (the store re-checks the user on every request).
	if r := c.do("GET", "/queues", nil); r.code != 200 {
		t.Fatalf("queues: %d", r.code)
	}
	c.post("/logout", nil)
	if r := c.do("GET", "/queues", nil); r.code != 303 {
		t.Fatalf("after sign-out: %d", r.code)
	}
}

func TestTOTPEnrolment(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.login("ana@acme.example")
	r := c.post("/account/totp", nil)
	m := strings.Split(strings.Split(r.body, `id="totp-secret">`)[1], "<")[0]
	if r.code != 200 || len(m) < 16 || !strings.Contains(r.body, "data:image/png;base64,") {
		t.Fatalf("enrolment page: %d %q", r.code, m)
	}
	if r := c.post("/account/totp/confirm", url.Values{"secret": {m}, "code": {"123456"}}); r.code != 400 {
		t.Fatalf("wrong confirmation code: %d", r.code)
	}
	code, _ := totp.GenerateCode(m, time.Now())
	if r := c.post("/account/totp/confirm", url.Values{"secret": {m}, "code": {code}}); r.code != 303 {
		t.Fatalf("confirm: %d %s", r.code, r.body)
	}
	u, _, _ := e.store.UserByEmail(context.Background(), "ana@acme.example")
	st, _ := e.store.LoginState(context.Background(), u.ID)
	if st.TOTPSecret != m {
		t.Fatal("secret not stored")
	}
}

func TestCSRFAndCookies(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.seed()
	id := firstIncident(t, e, "acme")
	c := e.login("ana@acme.example")
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"no token", url.Values{"text": {"x"}}, nil},
		{"wrong token", url.Values{"text": {"x"}, "csrf": {"forged"}}, nil},
		{"other origin", url.Values{"text": {"x"}, "csrf": {c.csrf}}, []string{"Origin", "https://evil.example"}},
		{"cross-site fetch", url.Values{"text": {"x"}, "csrf": {c.csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		if r := c.do("POST", "/incidents/"+id+"/notes", tc.form, tc.hdr...); r.code != 403 {
			t.Errorf("%s: %d", tc.name, r.code)
		}
	}
	tl, _ := e.store.Timeline(context.Background(), "", mustID(id))
	for _, en := range tl {
		if en.Kind == "note" {
			t.Fatal("a forged request added a note")
		}
	}
	if r := c.post("/incidents/"+id+"/notes", url.Values{"text": {"real note"}}); r.code != 303 {
		t.Fatalf("real note: %d %s", r.code, r.body)
	}
	// Cookies: HttpOnly, SameSite=Lax; behind TLS, Secure with the __Host- prefix.
	c2 := e.client()
	c2.do("GET", "/login", nil)
	r := c2.do("POST", "/login", url.Values{"csrf": {c2.csrf}, "email": {"ana@acme.example"}, "password": {password}})
	ck := r.hdr.Values("Set-Cookie")
	if len(ck) == 0 || !strings.Contains(strings.Join(ck, ";"), "HttpOnly") || !strings.Contains(strings.Join(ck, ";"), "SameSite=Lax") {
		t.Fatalf("cookies %v", ck)
	}
	c3 := e.client()
	c3.do("GET", "/login", nil, "X-Forwarded-Proto", "https")
	req, _ := http.NewRequest("GET", e.srv.URL+"/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	sc := strings.Join(res.Header.Values("Set-Cookie"), ";")
	if !strings.Contains(sc, "__Host-socbot_login=") || !strings.Contains(sc, "Secure") {
		t.Fatalf("secure cookie: %s", sc)
	}
	// Redirects stay on the console.
	for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example"} {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
}

func mustID(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}

// TestWorkAnIncident: acknowledge, assign, note, contain, resolve through the console's forms.
func TestWorkAnIncident(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.seed()
	id := firstIncident(t, e, "acme")
	c := e.login("ana@acme.example")
	steps := []struct {
		path string
		form url.Values
	}{
		{"/incidents/" + id + "/status", url.Values{"status": {"acknowledged"}}},
		{"/incidents/" + id + "/assign", url.Values{"assignee": {"ana@acme.example"}}},
		{"/incidents/" + id + "/notes", url.Values{"text": {"blocked at the edge"}}},
		{"/incidents/" + id + "/status", url.Values{"status": {"contained"}}},
		{"/incidents/" + id + "/status", url.Values{"status": {"resolved"}, "reason": {"password reset"}}},
	}
	for _, s := range steps {
		if r := c.post(s.path, s.form); r.code != 303 {
			t.Fatalf("%s %v: %d %s", s.path, s.form, r.code, r.body)
		}
	}
	inc, _ := e.store.Incident(context.Background(), e.tenant["acme"].ID, mustID(id))
	if inc.Status != "resolved" || inc.Assignee != "ana@acme.example" || inc.ContainedAt == nil {
		t.Fatalf("incident %+v", inc)
	}
	page := c.do("GET", "/incidents/"+id, nil).body
	for _, want := range []string{"blocked at the edge", "status contained → resolved — password reset", "user:ana@acme.example"} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if r := c.post("/incidents/"+id+"/status", url.Values{"status": {"contained"}}); r.code != 409 {
		t.Fatalf("resolved -> contained: %d", r.code)
	}
	// The client's viewer sees what was done, and cannot change anything.
	v := e.login("vic@acme.example")
	portal := v.do("GET", "/portal", nil).body
	if !strings.Contains(portal, "blocked at the edge") || !strings.Contains(portal, "status acknowledged → contained") {
		t.Fatalf("portal does not show what was done: %s", portal)
	}
	if r := v.post("/incidents/"+id+"/notes", url.Values{"text": {"viewer note"}}); r.code != 403 {
		t.Fatalf("viewer added a note: %d", r.code)
	}
	if strings.Contains(v.do("GET", "/incidents/"+id, nil).body, `id="note-form"`) {
		t.Fatal("viewer is shown the note form")
	}
}

func TestApprovalsAndSuppressions(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.seed()
	c := e.login("ana@acme.example")
	page := c.do("GET", "/approvals", nil).body
	if !strings.Contains(page, "POST /api/ type=user-id register 203.0.113.50") || strings.Contains(page, marker) {
		t.Fatalf("approvals page: %s", page)
	}
	if r := c.post("/approvals/1/approve", url.Values{"comment": {"ok"}}); r.code != 303 {
		t.Fatalf("approve: %d %s", r.code, r.body)
	}
	if e.approvals.actions[1].State != "approved" {
		t.Fatal("not approved")
	}
	// Without a containment bot the page says so.
	e.con.Approvals = func() socbot.ApprovalQueue { return nil }
	if r := c.do("GET", "/approvals", nil); !strings.Contains(r.body, "not enabled on this node") {
		t.Fatal("no containment: no notice")
	}
	if r := c.do("GET", "/indicators", nil); !strings.Contains(r.body, "not enabled on this node") {
		t.Fatal("no intel: no notice")
	}
	if r := c.post("/suppressions", url.Values{"name": {"scanner"}, "expression": {`alert.title == "Known scanner"`}, "reason": {"our scanner"}, "expires": {"168h"}}); r.code != 303 {
		t.Fatalf("suppression: %d %s", r.code, r.body)
	}
	if r := c.post("/suppressions", url.Values{"name": {"bad"}, "expression": {`alert.nope(`}, "reason": {"x"}}); r.code != 400 {
		t.Fatalf("bad CEL: %d", r.code)
	}
	rules, _ := e.store.Suppressions(context.Background(), e.tenant["acme"].ID)
	if len(rules) != 1 || rules[0].Author != "user:ana@acme.example" || rules[0].ExpiresAt == nil {
		t.Fatalf("rules %+v", rules)
	}
	if r := c.post(fmt.Sprintf("/suppressions/%d/toggle", rules[0].ID), nil); r.code != 303 {
		t.Fatalf("toggle: %d", r.code)
	}
	rules, _ = e.store.Suppressions(context.Background(), e.tenant["acme"].ID)
	if rules[0].Enabled {
		t.Fatal("not disabled")
	}
}

func TestReportsInConsole(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.seed()
	c := e.login("ana@acme.example")
	period := e.clock.Now().Format("2006-01")
	if r := c.post("/reports", url.Values{"period": {period}, "audience": {"management"}}); r.code != 303 {
		t.Fatalf("generate: %d %s", r.code, r.body)
	}
	if r := c.post("/reports", url.Values{"period": {"2026-13"}}); r.code != 400 {
		t.Fatalf("bad period: %d", r.code)
	}
	runs, _ := e.store.ReportRuns(context.Background(), e.tenant["acme"].ID, 0, 10)
	if len(runs) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	v := e.login("vic@acme.example")
	list := v.do("GET", "/reports", nil).body
	if !strings.Contains(list, fmt.Sprintf("/reports/%d/download?format=pdf", runs[0].ID)) || strings.Contains(list, marker) {
		t.Fatalf("viewer's report list: %s", list)
	}
	r := v.do("GET", fmt.Sprintf("/reports/%d/download?format=pdf", runs[0].ID), nil)
	if r.code != 200 || !strings.HasPrefix(r.body, "%PDF-") || !strings.Contains(r.hdr.Get("Content-Disposition"), "acme-"+period+"-management.pdf") {
		t.Fatalf("download: %d %v", r.code, r.hdr)
	}
	if r := c.post("/reports/schedules", url.Values{"cadence": {"monthly"}, "audience": {"management"}, "recipients": {"ciso@acme.example, soc@mssp.example"}}); r.code != 303 {
		t.Fatalf("schedule: %d %s", r.code, r.body)
	}
	scs, _ := e.store.ReportSchedules(context.Background(), e.tenant["acme"].ID)
	if len(scs) != 1 || len(scs[0].Recipients) != 2 {
		t.Fatalf("schedules %+v", scs)
	}
	// Failures show in the list.
	e.con.Reports = func() socbot.ReportService { return nil }
	if r := c.do("GET", "/reports", nil); !strings.Contains(r.body, "not enabled on this node") {
		t.Fatal("no report bot: no notice")
	}
}

// TestLiveQueues: the queue fragment arrives over server-sent events and again when a new incident opens.
func TestLiveQueues(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.con.cfg.LivePoll = 50 * time.Millisecond
	e.seed()
	c := e.login("ana@acme.example")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/events/queues", nil)
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	next := func() string {
		var b strings.Builder
		inEvent := false
		for sc.Scan() {
			line := sc.Text()
			if line == "event: queues" {
				inEvent = true
				continue
			}
			if inEvent && line == "" {
				return b.String()
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok && inEvent {
				b.WriteString(d + "\n")
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return ""
	}
	first := next()
	if !strings.Contains(first, `class="n open-count">2<`) || strings.Contains(first, marker) {
		t.Fatalf("first fragment: %s", first)
	}
	e.post("acme", wazuh(9, "New C2 beacon", "acme-srv-09", "192.0.2.200", ""))
	second := next()
	if !strings.Contains(second, `class="n open-count">3<`) {
		t.Fatalf("after a new incident: %s", second)
	}
}
