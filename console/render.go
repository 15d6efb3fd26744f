package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

// page is what every template sees: the page's own data in Body, and the frame around it.
type page struct {
	Title string
	CSRF  string
	Flash string
	Nav   string
	Body  any

	User      *socbot.User
	Staff     bool
	Admin     bool
	Tenants   []socbot.Tenant
	Scope     string
	ScopeName string
}

var pageNames = []string{"login", "error", "queues", "incidents", "incident", "tenants", "suppressions", "assets", "approvals", "indicators",
	"reports", "portal", "account", "totp"}

// tenantNames caches tenant id -> name for the templates.
type tenantNames struct {
	mu    sync.RWMutex
	names map[string]string
	at    time.Time
}

func (c *Console) parseTemplates() error {
	c.names = &tenantNames{names: map[string]string{}}
	funcs := template.FuncMap{
		"epoch":      func(t any) int64 { return timeOf(t).UnixMilli() },
		"until":      func(t any) string { return untilText(timeOf(t), c.now()) },
		"ago":        func(t any) string { return agoText(timeOf(t), c.now()) },
		"ts":         func(t any) string { return tsText(timeOf(t)) },
		"closed":     socbot.Closed,
		"list":       func(v ...string) []string { return v },
		"ageLabel":   ageLabel,
		"first":      func(a socbot.Alert, typ string) string { return a.First(socbot.ObservableType(typ), "") },
		"raw":        rawText,
		"tenantName": c.tenantName,
	}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return socbot.E("console.templates", err)
	}
	c.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return socbot.E("console.templates", name, err)
		}
		c.pages[name] = t
	}
	return nil
}

func (c *Console) tenantName(id string) string {
	if id == "" {
		return "MSSP-wide"
	}
	c.names.mu.RLock()
	n, ok := c.names.names[id]
	c.names.mu.RUnlock()
	if ok {
		return n
	}
	return id
}

// refreshNames reloads the tenant names when they are older than 10 seconds.
func (c *Console) refreshNames(r *http.Request) []socbot.Tenant {
	list, err := c.Store.Tenants(r.Context())
	if err != nil {
		return nil
	}
	c.names.mu.Lock()
	for _, t := range list {
		c.names.names[t.ID] = t.Name
	}
	c.names.at = c.now()
	c.names.mu.Unlock()
	return list
}

// render executes page name within the layout. A template error is logged and answered with a
// plain 500: the page is rendered to a buffer first, so a half page never goes out.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, name string, s *session, p page) {
	if s != nil {
		p.User = &s.user
		p.Staff = s.p.Role == socbot.RoleAdmin || s.p.Role == socbot.RoleAnalyst
		p.Admin = s.p.Role == socbot.RoleAdmin
		if p.CSRF == "" {
			p.CSRF = s.cs.CSRF
		}
		p.Scope = s.scope()
		if p.Admin {
			p.Tenants = c.refreshNames(r)
		} else {
			c.names.mu.RLock()
			_, ok := c.names.names[s.p.TenantID]
			c.names.mu.RUnlock()
			if !ok {
				if t, err := c.Store.Tenant(r.Context(), s.p.TenantID); err == nil {
					c.names.mu.Lock()
					c.names.names[t.ID] = t.Name
					c.names.mu.Unlock()
				}
			}
		}
		if p.Scope != "" {
			p.ScopeName = c.tenantName(p.Scope)
		}
		if p.Nav == "" {
			p.Nav = name
		}
	}
	var b bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		c.Logger.Error("console template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

func timeOf(t any) time.Time {
	switch v := t.(type) {
	case time.Time:
		return v
	case *time.Time:
		if v != nil {
			return *v
		}
	}
	return time.Time{}
}

func tsText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	s := int64(d / time.Second)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd %dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh %02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dm %02ds", s/60, s%60)
}

func untilText(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	if d := t.Sub(now); d >= 0 {
		return "due in " + span(d)
	}
	return "overdue by " + span(now.Sub(t))
}

func agoText(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return span(now.Sub(t)) + " ago"
}

func ageLabel(a string) string {
	if rest, ok := strings.CutPrefix(a, ">"); ok {
		return "older than " + rest
	}
	return "last " + a
}

// rawText shows a raw record: indented when it is JSON, as text otherwise. The template escapes it.
func rawText(b []byte) string {
	if len(b) == 0 {
		return "(no raw record)"
	}
	var out bytes.Buffer
	if json.Valid(b) && json.Indent(&out, b, "", "  ") == nil {
		if out.Len() > 64<<10 {
			return out.String()[:64<<10] + "\n… (cut at 64 KiB)"
		}
		return out.String()
	}
	s := strings.ToValidUTF8(string(b), "�")
	if len(s) > 64<<10 {
		s = s[:64<<10] + "\n… (cut at 64 KiB)"
	}
	return s
}
