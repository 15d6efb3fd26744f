package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/celexpr"
)

func (c *Console) registerRoutes() {
	c.handle("GET", "/login", Public, c.loginPage)
	c.handle("POST", "/login", Public, c.login)
	c.handle("GET", "/sso/start", Public, c.ssoStart)
	c.handle("GET", "/sso/callback", Public, c.ssoCallback)
	c.handle("POST", "/logout", Read, c.logout)
	c.handle("GET", "/", Read, c.home)
	c.handle("GET", "/account", Read, c.account)
	c.handle("POST", "/account/totp", Read, c.totpStart)
	c.handle("POST", "/account/totp/confirm", Read, c.totpConfirm)
	c.handle("POST", "/account/totp/remove", Read, c.totpRemove)

	c.handle("POST", "/tenant", Admin, c.switchTenant)
	c.handle("GET", "/tenants", Admin, c.tenants)
	c.handle("GET", "/queues", Staff, c.queues)
	c.handle("GET", "/events/queues", Staff, c.queueEvents)
	c.handle("GET", "/incidents", Staff, c.incidents)
	c.handle("GET", "/incidents/{id}", Read, c.incident)
	c.handle("POST", "/incidents/{id}/status", Work, c.setStatus)
	c.handle("POST", "/incidents/{id}/assign", Work, c.assign)
	c.handle("POST", "/incidents/{id}/notes", Work, c.addNote)
	c.handle("GET", "/suppressions", Staff, c.suppressions)
	c.handle("POST", "/suppressions", Work, c.createSuppression)
	c.handle("POST", "/suppressions/{id}/toggle", Work, c.toggleSuppression)
	c.handle("POST", "/suppressions/{id}/delete", Work, c.deleteSuppression)
	c.handle("GET", "/assets", Staff, c.assets)
	c.handle("GET", "/approvals", Staff, c.approvalsPage)
	c.handle("POST", "/approvals/{id}/approve", Work, c.decide(true))
	c.handle("POST", "/approvals/{id}/deny", Work, c.decide(false))
	c.handle("GET", "/indicators", Staff, c.indicatorsPage)
	c.handle("GET", "/reports", Read, c.reports)
	c.handle("POST", "/reports", Work, c.generateReport)
	c.handle("GET", "/reports/{id}/download", Read, c.downloadReport)
	c.handle("POST", "/reports/schedules", Work, c.createSchedule)
	c.handle("POST", "/reports/schedules/{id}/delete", Work, c.deleteSchedule)
	c.handle("GET", "/portal", Read, c.portal)
}

func idOf(r *http.Request) (int64, error) {
	v := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, socbot.FieldError("console", "id", "%q is not an id", v)
	}
	return id, nil
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) {
	if s.p.Role == socbot.RoleViewer {
		http.Redirect(w, r, "/portal", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/queues", http.StatusSeeOther)
}

// switchTenant sets the tenant an MSSP-wide user works in ("" for all).
func (c *Console) switchTenant(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PostForm.Get("tenant")
	if id != "" {
		if _, err := c.Store.Tenant(r.Context(), id); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	if err := c.Console.UpdateSession(r.Context(), s.cs.IDHash, id, c.now()); err != nil {
		c.fail(w, r, err)
		return
	}
	next := r.PostForm.Get("next")
	if next == "" {
		if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
			next = ref.RequestURI()
		}
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (c *Console) tenants(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := c.Console.TenantSummaries(r.Context(), c.now())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, 200, "tenants", s, page{Title: "All tenants", Body: list})
}

// ---- queues

type queuesView struct {
	Stats  []socbot.QueueStats
	Urgent []socbot.Incident
	At     time.Time
}

func (c *Console) queuesData(r *http.Request, s *session) (queuesView, error) {
	now := c.now()
	stats, err := c.Store.QueueStats(r.Context(), s.scope(), now)
	if err != nil {
		return queuesView{}, err
	}
	v := queuesView{Stats: stats, At: now}
	for _, p := range []socbot.Priority{socbot.P1, socbot.P2} {
		page, err := c.Console.SearchIncidents(r.Context(), socbot.IncidentQuery{TenantID: s.scope(), Open: true, Priority: []socbot.Priority{p}, Limit: 10, Now: now})
		if err != nil {
			return v, err
		}
		v.Urgent = append(v.Urgent, page.Incidents...)
	}
	return v, nil
}

func (c *Console) queues(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := c.queuesData(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, 200, "queues", s, page{Title: "Queues", Body: v})
}

// queueEvents streams the queue fragment as server-sent events whenever it changes.
func (c *Console) queueEvents(w http.ResponseWriter, r *http.Request, s *session) {
	fl, ok := w.(http.Flusher)
	if !ok {
		c.fail(w, r, socbot.E("console.events", socbot.KindUnsupported, "streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(200)
	fmt.Fprint(w, "retry: 3000\n\n")
	fl.Flush()
	t := time.NewTicker(c.cfg.LivePoll)
	defer t.Stop()
	last := ""
	keepAlive := time.Now()
	for {
		v, err := c.queuesData(r, s)
		if err != nil {
			return
		}
		var b strings.Builder
		if err := c.pages["queues"].ExecuteTemplate(&b, "queuesFragment", v); err != nil {
			c.Logger.Error("console template", "fragment", "queues", "err", err)
			return
		}
		// The "Updated" line changes every time; compare what matters.
		frag := b.String()
		key := frag
		if i := strings.Index(key, `<p class="note">Updated`); i >= 0 {
			if j := strings.Index(key[i:], "</p>"); j >= 0 {
				key = key[:i] + key[i+j:]
			}
		}
		if key != last || time.Since(keepAlive) > 30*time.Second {
			last, keepAlive = key, time.Now()
			fmt.Fprint(w, "event: queues\n")
			for _, line := range strings.Split(frag, "\n") {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// ---- incidents

type incidentFilter struct {
	Tenant, Q, Priority, Status, Queue, Assignee, Age string
	Page                                              int
}

type incidentsView struct {
	F          incidentFilter
	Incidents  []socbot.Incident
	Total      int64
	TotalMore  bool
	Page       int
	More       bool
	Prev, Next string
}

const pageSize = 50

func parseAge(a string) (minAge, maxAge time.Duration, err error) {
	if a == "" {
		return 0, 0, nil
	}
	older := strings.HasPrefix(a, ">")
	d, err := socbot.ParseDuration(strings.TrimPrefix(a, ">"))
	if err != nil || d <= 0 {
		return 0, 0, socbot.FieldError("console", "age", "age must be like 24h, 7d or >7d")
	}
	if older {
		return d, 0, nil
	}
	return 0, d, nil
}

func (c *Console) incidents(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := incidentFilter{Tenant: q.Get("tenant"), Q: q.Get("q"), Priority: q.Get("priority"), Status: q.Get("status"), Queue: q.Get("queue"),
		Assignee: q.Get("assignee"), Age: q.Get("age")}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	f.Page = max(f.Page, 1)
	iq := socbot.IncidentQuery{TenantID: s.scope(), Search: f.Q, Queue: f.Queue, Assignee: f.Assignee, Now: c.now(), Limit: pageSize + 1,
		Offset: (f.Page - 1) * pageSize, WantTotal: true}
	if f.Tenant != "" {
		if !s.p.CanAccessTenant(f.Tenant) {
			c.fail(w, r, socbot.E("console", socbot.KindNotFound, "no such tenant"))
			return
		}
		iq.TenantID = f.Tenant
	}
	if f.Priority != "" {
		p, ok := socbot.ParsePriority(f.Priority)
		if !ok {
			c.fail(w, r, socbot.FieldError("console", "priority", "priority must be P1-P4"))
			return
		}
		iq.Priority = []socbot.Priority{p}
	}
	switch {
	case f.Status == "open":
		iq.Open = true
	case f.Status != "":
		if !socbot.ValidStatus(f.Status) && f.Status != socbot.StatusMerged {
			c.fail(w, r, socbot.FieldError("console", "status", "unknown status %q", f.Status))
			return
		}
		iq.Status = []string{f.Status}
	}
	var err error
	if iq.MinAge, iq.MaxAge, err = parseAge(f.Age); err != nil {
		c.fail(w, r, err)
		return
	}
	res, err := c.Console.SearchIncidents(r.Context(), iq)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := incidentsView{F: f, Incidents: res.Incidents, Total: res.Total, TotalMore: res.More, Page: f.Page}
	if len(v.Incidents) > pageSize {
		v.Incidents, v.More = v.Incidents[:pageSize], true
	}
	link := func(p int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		return "/incidents?" + q.Encode()
	}
	v.Prev, v.Next = link(f.Page-1), link(f.Page+1)
	c.render(w, r, 200, "incidents", s, page{Title: "Incidents", Body: v})
}

// observableView is one observable of an incident with what enrichment and intel said about it.
type observableView struct {
	Type, Value, Roles string
	Context, Intel     []socbot.Enrichment
}

type incidentView struct {
	Incident    socbot.Incident
	Timeline    []socbot.TimelineEntry
	Alerts      []socbot.Alert
	MoreAlerts  bool
	Observables []observableView
	Actions     []socbot.PendingAction
	Next        []string
	People      []string
	CanWork     bool
	ShowRaw     bool
}

var allStatuses = []string{socbot.StatusAcknowledged, socbot.StatusContained, socbot.StatusResolved, socbot.StatusFalsePositive}

func (c *Console) incident(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := idOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	// Tenant-bound users reach only their own tenant's incidents; MSSP-wide users any.
	scope := ""
	if !s.p.MSSPWide() {
		scope = s.p.TenantID
	}
	inc, err := c.Store.Incident(r.Context(), scope, id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := incidentView{Incident: inc, CanWork: Work.allows(s.p.Role), ShowRaw: Staff.allows(s.p.Role)}
	if v.Timeline, err = c.Store.Timeline(r.Context(), inc.TenantID, id); err != nil {
		c.fail(w, r, err)
		return
	}
	if v.Alerts, err = c.Store.Alerts(r.Context(), socbot.AlertFilter{TenantID: inc.TenantID, IncidentID: id, Limit: 100}); err != nil {
		c.fail(w, r, err)
		return
	}
	v.MoreAlerts = inc.AlertCount > len(v.Alerts)
	v.Observables = observables(v.Alerts)
	for _, st := range allStatuses {
		if socbot.CanTransition(inc.Status, st) {
			v.Next = append(v.Next, st)
		}
	}
	if aq := c.approvals(); aq != nil {
		if pending, err := aq.Pending(r.Context(), s.p, inc.TenantID); err == nil {
			for _, a := range pending {
				if a.IncidentID == id {
					v.Actions = append(v.Actions, a)
				}
			}
		}
	}
	if v.CanWork {
		if users, err := c.Store.Users(r.Context(), inc.TenantID); err == nil {
			for _, u := range users {
				if u.Role != socbot.RoleViewer {
					v.People = append(v.People, u.Email)
				}
			}
		}
	}
	c.render(w, r, 200, "incident", s, page{Title: fmt.Sprintf("#%d %s", inc.Number, inc.Title), Nav: "incidents", Body: v})
}

// observables gathers the observables of an incident's alerts with their enrichment, intel hits
// (enrichers "intel" and "indicators") apart from context (assets and others).
func observables(alerts []socbot.Alert) []observableView {
	byKey := map[string]*observableView{}
	roles := map[string]map[string]bool{}
	var keys []string
	seenEnr := map[string]bool{}
	for _, a := range alerts {
		for _, o := range a.Observables {
			k := o.Key()
			if byKey[k] == nil {
				byKey[k] = &observableView{Type: string(o.Type), Value: o.Value}
				roles[k] = map[string]bool{}
				keys = append(keys, k)
			}
			if o.Role != "" {
				roles[k][string(o.Role)] = true
			}
		}
		for _, e := range a.Enrichment {
			ov := byKey[e.Observable]
			if ov == nil {
				continue
			}
			sig := e.Observable + "|" + e.Enricher + "|" + e.Verdict + "|" + e.Detail + "|" + e.Ref
			if seenEnr[sig] {
				continue
			}
			seenEnr[sig] = true
			if e.Enricher == "intel" || e.Enricher == "indicators" {
				ov.Intel = append(ov.Intel, e)
			} else {
				ov.Context = append(ov.Context, e)
			}
		}
	}
	sort.Strings(keys)
	out := make([]observableView, 0, len(keys))
	for _, k := range keys {
		var rs []string
		for r := range roles[k] {
			rs = append(rs, r)
		}
		sort.Strings(rs)
		byKey[k].Roles = strings.Join(rs, ", ")
		out = append(out, *byKey[k])
	}
	return out
}

// itemScope is the tenant a change is made in: a tenant-bound user's own, any for MSSP-wide users.
func itemScope(s *session) string {
	if s.p.MSSPWide() {
		return ""
	}
	return s.p.TenantID
}

func (c *Console) setStatus(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := idOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	st := r.PostForm.Get("status")
	if _, err := c.Store.UpdateIncident(ctxOf(r, s), itemScope(s), id, socbot.IncidentUpdate{Status: &st, Reason: strings.TrimSpace(r.PostForm.Get("reason"))}, s.p); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/incidents/%d", id), http.StatusSeeOther)
}

func (c *Console) assign(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := idOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	who := strings.TrimSpace(r.PostForm.Get("assignee"))
	if len(who) > 200 {
		c.fail(w, r, socbot.FieldError("console", "assignee", "assignee is longer than 200 characters"))
		return
	}
	if _, err := c.Store.UpdateIncident(ctxOf(r, s), itemScope(s), id, socbot.IncidentUpdate{Assignee: &who}, s.p); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/incidents/%d", id), http.StatusSeeOther)
}

func (c *Console) addNote(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := idOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if _, err := c.Store.AddNote(ctxOf(r, s), itemScope(s), id, r.PostForm.Get("text"), s.p); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/incidents/%d#timeline", id), http.StatusSeeOther)
}

// ---- suppressions and assets

func (c *Console) suppressions(w http.ResponseWriter, r *http.Request, s *session) {
	v := map[string]any{"CanWork": Work.allows(s.p.Role), "NeedTenant": s.scope() == ""}
	if s.scope() != "" {
		rules, err := c.Store.Suppressions(r.Context(), s.scope())
		if err != nil {
			c.fail(w, r, err)
			return
		}
		v["Rules"] = rules
	}
	c.render(w, r, 200, "suppressions", s, page{Title: "Suppression rules", Body: v})
}

func (c *Console) needTenant(s *session) error {
	if s.scope() == "" {
		return socbot.FieldError("console", "tenant", "choose a tenant with the switcher first")
	}
	return nil
}

func (c *Console) createSuppression(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.needTenant(s); err != nil {
		c.fail(w, r, err)
		return
	}
	f := r.PostForm
	rule := socbot.SuppressionRule{TenantID: s.scope(), Name: strings.TrimSpace(f.Get("name")), Expression: strings.TrimSpace(f.Get("expression")),
		Reason: strings.TrimSpace(f.Get("reason")), Author: s.p.Name, Enabled: true}
	if _, err := celexpr.CompileAlert(rule.Expression); err != nil {
		c.fail(w, r, socbot.FieldError("console", "expression", "%s", userMessage(err)))
		return
	}
	if e := f.Get("expires"); e != "" {
		d, err := time.ParseDuration(e)
		if err != nil || d <= 0 {
			c.fail(w, r, socbot.FieldError("console", "expires", "bad expiry"))
			return
		}
		t := c.now().Add(d)
		rule.ExpiresAt = &t
	}
	if err := c.Store.CreateSuppression(ctxOf(r, s), &rule, s.p); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/suppressions", http.StatusSeeOther)
}

func (c *Console) toggleSuppression(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := idOf(r)
	if err == nil {
		err = c.needTenant(s)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rule, err := c.Store.Suppression(r.Context(), s.scope(), id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rule.Enabled = !rule.Enabled
	if err := c.Store.UpdateSuppression(ctxOf(r, s), rule, s.p); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/suppressions", http.StatusSeeOther)
}

func (c *Console) deleteSuppression(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := idOf(r)
	if err == nil {
		err = c.needTenant(s)
	}
	if err == nil {
		err = c.Store.DeleteSuppression(ctxOf(r, s), s.scope(), id, s.p)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/suppressions", http.StatusSeeOther)
}

func (c *Console) assets(w http.ResponseWriter, r *http.Request, s *session) {
	v := map[string]any{"NeedTenant": s.scope() == ""}
	if s.scope() != "" {
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		off = max(off, 0)
		list, err := c.Store.Assets(r.Context(), s.scope(), 201, off)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if len(list) > 200 {
			list = list[:200]
			v["Next"] = fmt.Sprintf("/assets?offset=%d", off+200)
		}
		if off > 0 {
			v["Prev"] = fmt.Sprintf("/assets?offset=%d", max(off-200, 0))
		}
		v["Assets"] = list
	}
	c.render(w, r, 200, "assets", s, page{Title: "Assets", Body: v})
}

// ---- approvals and indicators

func (c *Console) approvalsPage(w http.ResponseWriter, r *http.Request, s *session) {
	v := map[string]any{"Enabled": false, "CanWork": Work.allows(s.p.Role)}
	if aq := c.approvals(); aq != nil {
		v["Enabled"] = true
		list, err := aq.Pending(r.Context(), s.p, s.scope())
		if err != nil {
			c.fail(w, r, err)
			return
		}
		v["Pending"] = list
	}
	c.render(w, r, 200, "approvals", s, page{Title: "Approvals", Body: v})
}

func (c *Console) decide(approve bool) func(w http.ResponseWriter, r *http.Request, s *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		aq := c.approvals()
		if aq == nil {
			c.fail(w, r, socbot.E("console.approvals", socbot.KindUnavailable, "containment approvals are not enabled on this node"))
			return
		}
		id, err := idOf(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		tenant := r.PostForm.Get("tenant")
		if !s.p.MSSPWide() {
			tenant = s.p.TenantID // a tenant-bound user decides only in their own tenant, whatever the form says
		}
		comment := strings.TrimSpace(r.PostForm.Get("comment"))
		if approve {
			_, err = aq.Approve(ctxOf(r, s), s.p, tenant, id, comment)
		} else {
			_, err = aq.Deny(ctxOf(r, s), s.p, tenant, id, comment)
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/approvals", http.StatusSeeOther)
	}
}

func (c *Console) indicatorsPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := map[string]any{"Enabled": false, "Q": q}
	if is := c.indicators(); is != nil {
		v["Enabled"] = true
		if q != "" {
			res, err := is.SearchIndicators(r.Context(), s.p, s.scope(), q, 100)
			if err != nil {
				c.fail(w, r, err)
				return
			}
			v["Results"] = res
		}
	}
	if s.scope() != "" {
		list, err := c.Store.ListIndicators(r.Context(), s.scope())
		if err != nil {
			c.fail(w, r, err)
			return
		}
		v["List"] = list
	}
	c.render(w, r, 200, "indicators", s, page{Title: "Indicators", Body: v})
}

// ---- reports

func (c *Console) reports(w http.ResponseWriter, r *http.Request, s *session) {
	rs := c.reportsSvc()
	v := map[string]any{"Enabled": rs != nil, "CanWork": Work.allows(s.p.Role), "Staff": Staff.allows(s.p.Role), "NeedTenant": s.scope() == ""}
	if rs != nil {
		runs, err := rs.Runs(r.Context(), s.scope(), 100)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		v["Runs"] = runs
		if Staff.allows(s.p.Role) {
			scs, err := rs.Schedules(r.Context(), s.scope())
			if err != nil {
				c.fail(w, r, err)
				return
			}
			v["Schedules"] = scs
		}
		v["DefaultPeriod"] = c.now().AddDate(0, -1, 0).Format("2006-01")
	}
	nav := "reports"
	c.render(w, r, 200, "reports", s, page{Title: "Reports", Nav: nav, Body: v})
}

func (c *Console) reportService(w http.ResponseWriter, r *http.Request) socbot.ReportService {
	rs := c.reportsSvc()
	if rs == nil {
		c.fail(w, r, socbot.E("console.reports", socbot.KindUnavailable, "reports are not enabled on this node"))
	}
	return rs
}

func (c *Console) generateReport(w http.ResponseWriter, r *http.Request, s *session) {
	rs := c.reportService(w, r)
	if rs == nil {
		return
	}
	if err := c.needTenant(s); err != nil {
		c.fail(w, r, err)
		return
	}
	_, err := rs.Generate(ctxOf(r, s), socbot.ReportRequest{TenantID: s.scope(), Period: strings.TrimSpace(r.PostForm.Get("period")), Audience: r.PostForm.Get("audience")}, s.p)
	if err != nil && socbot.ErrorField(err) != "" {
		c.fail(w, r, err)
		return
	}
	// A failure past validation is stored with its reason and shown in the list.
	http.Redirect(w, r, "/reports", http.StatusSeeOther)
}

func (c *Console) downloadReport(w http.ResponseWriter, r *http.Request, s *session) {
	rs := c.reportService(w, r)
	if rs == nil {
		return
	}
	id, err := idOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	run, err := rs.Run(r.Context(), itemScope(s), id, true)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if run.Status != socbot.ReportOK {
		c.fail(w, r, socbot.E("console.reports", socbot.KindConflict, "this report failed: "+run.Error))
		return
	}
	format := r.URL.Query().Get("format")
	body, typ := run.PDF, "application/pdf"
	if format == socbot.FormatHTML {
		body, typ = run.HTML, "text/html; charset=utf-8"
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	} else {
		format = socbot.FormatPDF
	}
	name := fmt.Sprintf("%s-%s-%s.%s", c.tenantName(run.TenantID), run.Period, run.Audience, format)
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, name)
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func (c *Console) createSchedule(w http.ResponseWriter, r *http.Request, s *session) {
	rs := c.reportService(w, r)
	if rs == nil {
		return
	}
	if err := c.needTenant(s); err != nil {
		c.fail(w, r, err)
		return
	}
	var recips []string
	for _, part := range strings.Split(r.PostForm.Get("recipients"), ",") {
		if p := strings.TrimSpace(part); p != "" {
			recips = append(recips, p)
		}
	}
	sc := socbot.ReportSchedule{TenantID: s.scope(), Cadence: r.PostForm.Get("cadence"), Audience: r.PostForm.Get("audience"), Recipients: recips}
	if err := rs.CreateSchedule(ctxOf(r, s), &sc, s.p); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/reports", http.StatusSeeOther)
}

func (c *Console) deleteSchedule(w http.ResponseWriter, r *http.Request, s *session) {
	rs := c.reportService(w, r)
	if rs == nil {
		return
	}
	id, err := idOf(r)
	if err == nil {
		err = rs.DeleteSchedule(ctxOf(r, s), itemScope(s), id, s.p)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/reports", http.StatusSeeOther)
}

// ---- client portal

type portalItem struct {
	Incident socbot.Incident
	Done     []socbot.TimelineEntry
}

// portalKinds are the timeline entries a client sees as "what was done": people's and bots' actions,
// not triage's bookkeeping.
var portalKinds = map[string]bool{"status": true, "assigned": true, "note": true, "escalated": true, "priority": true,
	"containment_approved": true, "containment_denied": true, "containment_applied": true, "containment_removed": true, "contained": true}

func (c *Console) portal(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := s.scope()
	if tenant == "" {
		c.fail(w, r, socbot.FieldError("console", "tenant", "the portal shows one tenant: choose one with the switcher"))
		return
	}
	t, err := c.Store.Tenant(r.Context(), tenant)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	now := c.now()
	res, err := c.Console.SearchIncidents(r.Context(), socbot.IncidentQuery{TenantID: tenant, Limit: 30, Now: now})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	open, err := c.Console.SearchIncidents(r.Context(), socbot.IncidentQuery{TenantID: tenant, Open: true, Limit: 1, WantTotal: true, Now: now})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	closed, err := c.Console.SearchIncidents(r.Context(), socbot.IncidentQuery{TenantID: tenant, Status: []string{socbot.StatusResolved, socbot.StatusFalsePositive},
		MaxAge: 30 * 24 * time.Hour, Limit: 1, WantTotal: true, Now: now})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := map[string]any{"Tenant": t, "Open": open.Total, "OpenMore": open.More, "Closed": closed.Total, "ClosedMore": closed.More}
	var ids []int64
	for _, inc := range res.Incidents {
		ids = append(ids, inc.ID)
	}
	kinds := make([]string, 0, len(portalKinds))
	for k := range portalKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	done, err := c.Console.Activity(r.Context(), tenant, ids, kinds)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var items []portalItem
	for _, inc := range res.Incidents {
		if inc.Status != socbot.StatusMerged {
			items = append(items, portalItem{Incident: inc, Done: done[inc.ID]})
		}
	}
	v["Items"] = items
	c.render(w, r, 200, "portal", s, page{Title: "Our incidents", Body: v})
}
