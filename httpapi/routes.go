package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/celexpr"
	"github.com/socbot/socbot/inventory"
)

func (s *Server) registerRoutes() {
	s.handle("POST", "/alerts", PermIngest, "Ingest alerts (JSON object, array or NDJSON; gzip accepted)", s.ingest)
	s.handle("GET", "/alerts", PermRead, "List alerts", s.listAlerts)
	s.handle("GET", "/alerts/{id}", PermRead, "Get an alert with its raw record", s.getAlert)

	s.handle("GET", "/incidents", PermRead, "List incidents", s.listIncidents)
	s.handle("GET", "/incidents/{id}", PermRead, "Get an incident", s.getIncident)
	s.handle("PATCH", "/incidents/{id}", PermWork, "Change status, assignee, priority, queue or title", s.patchIncident)
	s.handle("POST", "/incidents/{id}/notes", PermWork, "Add a note to the timeline", s.addNote)
	s.handle("GET", "/incidents/{id}/timeline", PermRead, "The incident's timeline", s.timeline)
	s.handle("GET", "/incidents/{id}/alerts", PermRead, "The incident's alerts", s.incidentAlerts)

	s.handle("GET", "/tenants", PermRead, "List tenants (admins: all; others: their own)", s.listTenants)
	s.handle("POST", "/tenants", PermAdmin, "Create a tenant", s.createTenant)
	s.handle("GET", "/tenants/{id}", PermRead, "Get a tenant", s.getTenant)
	s.handle("PATCH", "/tenants/{id}", PermAdmin, "Change a tenant's name, time zone or settings", s.patchTenant)

	s.handle("GET", "/tokens", PermAdmin, "List API tokens (never their secrets)", s.listTokens)
	s.handle("POST", "/tokens", PermAdmin, "Create an API token; the secret is shown once", s.createToken)
	s.handle("DELETE", "/tokens/{id}", PermAdmin, "Revoke an API token", s.revokeToken)

	s.handle("GET", "/users", PermAdmin, "List users", s.listUsers)
	s.handle("POST", "/users", PermAdmin, "Create a user", s.createUser)

	s.handle("GET", "/assets", PermRead, "List the tenant's assets", s.listAssets)
	s.handle("POST", "/assets", PermWork, "Import assets (JSON or CSV); existing host names are replaced", s.importAssets)
	s.handle("GET", "/assets/{id}", PermRead, "Get an asset", s.getAsset)
	s.handle("DELETE", "/assets/{id}", PermWork, "Delete an asset", s.deleteAsset)

	s.handle("GET", "/indicators", PermRead, "List the tenant's known-bad and known-good values", s.listIndicators)
	s.handle("POST", "/indicators", PermWork, "Add indicators (one object or an array)", s.addIndicators)
	s.handle("DELETE", "/indicators/{id}", PermWork, "Delete an indicator", s.deleteIndicator)

	s.handle("GET", "/suppressions", PermRead, "List suppression rules", s.listSuppressions)
	s.handle("POST", "/suppressions", PermWork, "Create a suppression rule (CEL over alert)", s.createSuppression)
	s.handle("GET", "/suppressions/{id}", PermRead, "Get a suppression rule", s.getSuppression)
	s.handle("PATCH", "/suppressions/{id}", PermWork, "Change a suppression rule", s.patchSuppression)
	s.handle("DELETE", "/suppressions/{id}", PermWork, "Delete a suppression rule", s.deleteSuppression)

	s.handle("GET", "/queues", PermRead, "Queues with open counts, priorities and SLA breaches", s.listQueues)
	s.handle("POST", "/queues", PermWork, "Create a queue", s.createQueue)
	s.handle("GET", "/routing-rules", PermStaff, "List routing rules", s.listRoutes)
	s.handle("POST", "/routing-rules", PermWork, "Create a routing rule (CEL over incident)", s.createRoute)
	s.handle("DELETE", "/routing-rules/{id}", PermWork, "Delete a routing rule", s.deleteRoute)

	s.handle("GET", "/channels", PermStaff, "List notification channels", s.listChannels)
	s.handle("POST", "/channels", PermWork, "Create a notification channel", s.createChannel)
	s.handle("DELETE", "/channels/{id}", PermWork, "Delete a notification channel", s.deleteChannel)
	s.handle("GET", "/notifications", PermStaff, "Notification delivery log", s.listNotifications)

	s.handle("GET", "/audit", PermStaff, "Audit log entries", s.listAudit)
	s.handle("GET", "/audit/verify", PermAdmin, "Verify the audit log's hash chain", s.verifyAudit)
	s.handle("GET", "/whoami", PermAny, "The calling token's role and tenant", s.whoami)
}

// ---- alerts

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	q := r.URL.Query()
	f := socbot.AlertFilter{TenantID: tenant, Status: q.Get("status"), Format: q.Get("format")}
	if f.IncidentID, err = optInt(q.Get("incident"), "incident"); err == nil {
		if f.Limit, err = optIntN(q.Get("limit"), "limit"); err == nil {
			f.AfterID, err = optInt(q.Get("before"), "before")
		}
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Store.Alerts(r.Context(), f)
	writeList(s, w, r, "alerts", list, err)
}

// alertView is an alert with its raw record inlined as JSON.
type alertView struct {
	socbot.Alert
	Raw json.RawMessage `json:"raw,omitempty"`
}

func (v alertView) MarshalJSON() ([]byte, error) {
	a, err := json.Marshal(v.Alert)
	if err != nil || len(v.Raw) == 0 || !json.Valid(v.Raw) {
		return a, err
	}
	return append(append(a[:len(a)-1], `,"raw":`...), append(v.Raw, '}')...), nil
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	a, err := s.Store.Alert(r.Context(), tenant, id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, alertView{Alert: a, Raw: a.Raw})
}

// itemScope reads {id} and the caller's tenant scope for a single item: tenant-bound callers see only
// their own; admins see any (or the one ?tenant= names).
func (s *Server) itemScope(w http.ResponseWriter, r *http.Request) (int64, string, bool) {
	id, err := idParam(r, "id")
	if err == nil {
		var tenant string
		if tenant, err = s.tenantOf(r, false); err == nil {
			return id, tenant, true
		}
	}
	writeError(w, r, s.Logger, err)
	return 0, "", false
}

// ---- incidents

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	q := r.URL.Query()
	f := socbot.IncidentFilter{TenantID: tenant, Queue: q.Get("queue"), Assignee: q.Get("assignee"), Search: q.Get("q")}
	if st := q.Get("status"); st != "" {
		for _, v := range strings.Split(st, ",") {
			if v == "open" {
				f.Open = true
				continue
			}
			if !socbot.ValidStatus(v) && v != socbot.StatusMerged {
				writeError(w, r, s.Logger, socbot.FieldError("httpapi", "status", "unknown status %q", v))
				return
			}
			f.Status = append(f.Status, v)
		}
	}
	if pr := q.Get("priority"); pr != "" {
		for _, v := range strings.Split(pr, ",") {
			p, ok := socbot.ParsePriority(v)
			if !ok {
				writeError(w, r, s.Logger, socbot.FieldError("httpapi", "priority", "priority must be P1-P4, not %q", v))
				return
			}
			f.Priority = append(f.Priority, p)
		}
	}
	if f.Limit, err = optIntN(q.Get("limit"), "limit"); err == nil {
		f.AfterID, err = optInt(q.Get("before"), "before")
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Store.Incidents(r.Context(), f)
	writeList(s, w, r, "incidents", list, err)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	inc, err := s.Store.Incident(r.Context(), tenant, id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, inc)
}

type incidentPatch struct {
	Status   *string `json:"status"`
	Assignee *string `json:"assignee"`
	Priority *string `json:"priority"`
	Queue    *string `json:"queue"`
	Title    *string `json:"title"`
	Reason   string  `json:"reason"`
}

func (s *Server) patchIncident(w http.ResponseWriter, r *http.Request) {
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	var body incidentPatch
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	u := socbot.IncidentUpdate{Status: body.Status, Assignee: body.Assignee, Queue: body.Queue, Title: body.Title, Reason: body.Reason}
	if body.Priority != nil {
		p, ok := socbot.ParsePriority(*body.Priority)
		if !ok {
			writeError(w, r, s.Logger, socbot.FieldError("httpapi", "priority", "priority must be P1-P4, not %q", *body.Priority))
			return
		}
		u.Priority = &p
	}
	inc, err := s.Store.UpdateIncident(r.Context(), tenant, id, u, principal(r))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, inc)
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request) {
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	var body struct {
		Text string `json:"text"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	e, err := s.Store.AddNote(r.Context(), tenant, id, body.Text, principal(r))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, e)
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	tl, err := s.Store.Timeline(r.Context(), tenant, id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, map[string]any{"timeline": tl})
}

func (s *Server) incidentAlerts(w http.ResponseWriter, r *http.Request) {
	id, tenant, ok := s.itemScope(w, r)
	if !ok {
		return
	}
	inc, err := s.Store.Incident(r.Context(), tenant, id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	limit, err := optIntN(r.URL.Query().Get("limit"), "limit")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Store.Alerts(r.Context(), socbot.AlertFilter{TenantID: inc.TenantID, IncidentID: id, Limit: limit})
	writeList(s, w, r, "alerts", list, err)
}

// ---- tenants

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if _, err := s.tenantOf(r, false); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if !p.MSSPWide() {
		t, err := s.Store.Tenant(r.Context(), p.TenantID)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		writeJSON(w, 200, map[string]any{"tenants": []socbot.Tenant{t}})
		return
	}
	list, err := s.Store.Tenants(r.Context())
	writeList(s, w, r, "tenants", list, err)
}

type tenantBody struct {
	Name     *string          `json:"name"`
	TimeZone *string          `json:"time_zone"`
	Settings *socbot.Settings `json:"settings"`
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) {
	var body tenantBody
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	t := socbot.Tenant{}
	if body.Name != nil {
		t.Name = *body.Name
	}
	if body.TimeZone != nil {
		t.TimeZone = *body.TimeZone
	}
	if body.Settings != nil {
		t.Settings = *body.Settings
	}
	if err := s.Store.CreateTenant(r.Context(), &t, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, t)
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) {
	t, ok := s.ownTenant(w, r)
	if ok {
		writeJSON(w, 200, t)
	}
}

// ownTenant loads {id} if the caller may see it: admins any, others only their own.
func (s *Server) ownTenant(w http.ResponseWriter, r *http.Request) (socbot.Tenant, bool) {
	id := chiParam(r, "id")
	p := principal(r)
	if !p.CanAccessTenant(id) {
		writeError(w, r, s.Logger, socbot.E("httpapi", socbot.KindNotFound, "no tenant "+id))
		return socbot.Tenant{}, false
	}
	t, err := s.Store.Tenant(r.Context(), id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return t, false
	}
	return t, true
}

func (s *Server) patchTenant(w http.ResponseWriter, r *http.Request) {
	t, ok := s.ownTenant(w, r)
	if !ok {
		return
	}
	var body tenantBody
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if body.Name != nil {
		t.Name = *body.Name
	}
	if body.TimeZone != nil {
		t.TimeZone = *body.TimeZone
	}
	if body.Settings != nil {
		t.Settings = *body.Settings
	}
	if err := s.Store.UpdateTenant(r.Context(), t, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, t)
}

// ---- tokens and users

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Store.Tokens(r.Context(), tenant)
	writeList(s, w, r, "tokens", list, err)
}

// CreatedToken is the answer to POST /tokens: the only time the secret is shown.
type CreatedToken struct {
	socbot.Token
	Secret string `json:"token"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Role      string `json:"role"`
		Tenant    string `json:"tenant"`
		Name      string `json:"name"`
		ExpiresIn string `json:"expires_in"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	tok, secret, err := s.newToken(r, body.Role, body.Tenant, body.Name, body.ExpiresIn)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, CreatedToken{Token: tok, Secret: secret})
}

func (s *Server) newToken(r *http.Request, roleName, tenantRef, name, expiresIn string) (socbot.Token, string, error) {
	const op = "httpapi.createToken"
	role, ok := socbot.ParseRole(roleName)
	if !ok {
		return socbot.Token{}, "", socbot.FieldError(op, "role", "role must be admin, analyst, viewer or ingest")
	}
	tok := socbot.Token{Role: role, Name: name}
	if tenantRef != "" {
		id, err := s.resolveTenant(r.Context(), principal(r), tenantRef, true)
		if err != nil {
			return tok, "", err
		}
		tok.TenantID = id
	}
	if expiresIn != "" {
		d, err := socbot.ParseDuration(expiresIn)
		if err != nil || d <= 0 {
			return tok, "", socbot.FieldError(op, "expires_in", "expires_in must be a duration like 720h or 90d")
		}
		exp := s.Clock.Now().Add(d)
		tok.ExpiresAt = &exp
	}
	secret, hash := socbot.NewTokenSecret()
	tok.Hash, tok.Prefix = hash, secret[:12]
	err := s.Store.CreateToken(r.Context(), &tok, principal(r))
	return tok, secret, err
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.Store.RevokeToken(r.Context(), "", chiParam(r, "id"), principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Store.Users(r.Context(), tenant)
	writeList(s, w, r, "users", list, err)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Tenant   string `json:"tenant"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	u := socbot.User{Email: body.Email, Name: body.Name, Role: socbot.Role(body.Role)}
	if body.Tenant != "" {
		id, err := s.resolveTenant(r.Context(), principal(r), body.Tenant, true)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		u.TenantID = id
	}
	hash := ""
	if body.Password != "" {
		if len(body.Password) < 12 {
			writeError(w, r, s.Logger, socbot.FieldError("httpapi", "password", "passwords must have at least 12 characters"))
			return
		}
		h, err := bcrypt.GenerateFromPassword([]byte(body.Password), 12)
		if err != nil {
			writeError(w, r, s.Logger, socbot.FieldError("httpapi", "password", "%v", err))
			return
		}
		hash = string(h)
	}
	if err := s.Store.CreateUser(r.Context(), &u, hash, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, u)
}

// ---- assets and indicators

// requireTenant resolves the tenant for a tenant-scoped configuration route: admins must name one.
func (s *Server) requireTenant(w http.ResponseWriter, r *http.Request) (string, bool) {
	tenant, err := s.tenantOf(r, true)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return "", false
	}
	return tenant, true
}

func (s *Server) listAssets(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	limit, err := optIntN(r.URL.Query().Get("limit"), "limit")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	offset, err := optIntN(r.URL.Query().Get("offset"), "offset")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if limit == 0 {
		limit = 1000
	}
	list, err := s.Store.Assets(r.Context(), tenant, limit, offset)
	writeList(s, w, r, "assets", list, err)
}

func (s *Server) importAssets(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
	if err != nil {
		writeError(w, r, s.Logger, socbot.E("httpapi.assets", socbot.KindTooLarge, "inventory over 64 MiB"))
		return
	}
	assets, err := inventory.Parse(data)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	n, err := s.Store.UpsertAssets(r.Context(), tenant, assets, principal(r))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, map[string]int{"imported": n})
}

func (s *Server) getAsset(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	id, err := idParam(r, "id")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	a, err := s.Store.Asset(r.Context(), tenant, id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, a)
}

// deleteItem handles DELETE /x/{id} for a tenant-scoped item.
func (s *Server) deleteItem(del func(r *http.Request, tenant string, id int64) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenant, ok := s.requireTenant(w, r)
		if !ok {
			return
		}
		id, err := idParam(r, "id")
		if err == nil {
			err = del(r, tenant, id)
		}
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) deleteAsset(w http.ResponseWriter, r *http.Request) {
	s.deleteItem(func(r *http.Request, t string, id int64) error {
		return s.Store.DeleteAsset(r.Context(), t, id, principal(r))
	})(w, r)
}

func (s *Server) listIndicators(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	list, err := s.Store.ListIndicators(r.Context(), tenant)
	writeList(s, w, r, "indicators", list, err)
}

func (s *Server) addIndicators(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	var items []socbot.ListIndicator
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err == nil {
		trimmed := strings.TrimSpace(string(raw))
		if strings.HasPrefix(trimmed, "{") {
			var one socbot.ListIndicator
			err = json.Unmarshal(raw, &one)
			items = []socbot.ListIndicator{one}
		} else {
			err = json.Unmarshal(raw, &items)
		}
		if err != nil {
			err = socbot.E("httpapi.indicators", socbot.KindInvalid, "body must be an indicator object or an array of them: "+err.Error())
		}
	}
	if err == nil {
		var n int
		if n, err = s.Store.AddListIndicators(r.Context(), tenant, items, principal(r)); err == nil {
			writeJSON(w, 201, map[string]any{"added": n, "indicators": items})
			return
		}
	}
	writeError(w, r, s.Logger, err)
}

func (s *Server) deleteIndicator(w http.ResponseWriter, r *http.Request) {
	s.deleteItem(func(r *http.Request, t string, id int64) error {
		return s.Store.DeleteListIndicator(r.Context(), t, id, principal(r))
	})(w, r)
}

// ---- suppressions

type suppressionBody struct {
	Name       *string `json:"name"`
	Expression *string `json:"expression"`
	Reason     *string `json:"reason"`
	Enabled    *bool   `json:"enabled"`
	ExpiresAt  *string `json:"expires_at"`
	ExpiresIn  *string `json:"expires_in"`
}

func (s *Server) applySuppression(b suppressionBody, r *socbot.SuppressionRule) error {
	const op = "httpapi.suppression"
	if b.Name != nil {
		r.Name = *b.Name
	}
	if b.Expression != nil {
		if _, err := celexpr.CompileAlert(*b.Expression); err != nil {
			return err
		}
		r.Expression = *b.Expression
	}
	if b.Reason != nil {
		r.Reason = *b.Reason
	}
	if b.Enabled != nil {
		r.Enabled = *b.Enabled
	}
	switch {
	case b.ExpiresIn != nil && *b.ExpiresIn != "":
		d, err := socbot.ParseDuration(*b.ExpiresIn)
		if err != nil || d <= 0 {
			return socbot.FieldError(op, "expires_in", "expires_in must be a duration like 72h or 30d")
		}
		t := s.Clock.Now().Add(d)
		r.ExpiresAt = &t
	case b.ExpiresAt != nil && *b.ExpiresAt == "":
		r.ExpiresAt = nil
	case b.ExpiresAt != nil:
		t, err := time.Parse(time.RFC3339, *b.ExpiresAt)
		if err != nil {
			return socbot.FieldError(op, "expires_at", "expires_at must be an RFC 3339 time")
		}
		r.ExpiresAt = &t
	}
	return nil
}

func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	list, err := s.Store.Suppressions(r.Context(), tenant)
	writeList(s, w, r, "suppressions", list, err)
}

func (s *Server) createSuppression(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	var body suppressionBody
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if body.Expression == nil {
		writeError(w, r, s.Logger, socbot.FieldError("httpapi.suppression", "expression", "expression is required"))
		return
	}
	rule := socbot.SuppressionRule{TenantID: tenant, Enabled: true}
	err := s.applySuppression(body, &rule)
	if err == nil {
		err = s.Store.CreateSuppression(r.Context(), &rule, principal(r))
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, rule)
}

func (s *Server) getSuppression(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	id, err := idParam(r, "id")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	rule, err := s.Store.Suppression(r.Context(), tenant, id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, rule)
}

func (s *Server) patchSuppression(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	id, err := idParam(r, "id")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	var body suppressionBody
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	rule, err := s.Store.Suppression(r.Context(), tenant, id)
	if err == nil {
		if err = s.applySuppression(body, &rule); err == nil {
			err = s.Store.UpdateSuppression(r.Context(), rule, principal(r))
		}
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, rule)
}

func (s *Server) deleteSuppression(w http.ResponseWriter, r *http.Request) {
	s.deleteItem(func(r *http.Request, t string, id int64) error {
		return s.Store.DeleteSuppression(r.Context(), t, id, principal(r))
	})(w, r)
}

// ---- queues and routing

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	defs, err := s.Store.Queues(r.Context(), tenant)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	stats, err := s.Store.QueueStats(r.Context(), tenant, s.Clock.Now())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if defs == nil {
		defs = []socbot.Queue{}
	}
	writeJSON(w, 200, map[string]any{"queues": defs, "stats": stats})
}

func (s *Server) createQueue(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false) // admins without ?tenant create an MSSP-wide queue
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	var q socbot.Queue
	if err := decodeJSON(r, &q); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	q.TenantID = tenant
	if err := s.Store.CreateQueue(r.Context(), &q, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, q)
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Store.RoutingRules(r.Context(), tenant)
	writeList(s, w, r, "routing_rules", list, err)
}

func (s *Server) createRoute(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false) // admins without ?tenant create an MSSP-wide rule
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	var rule socbot.RoutingRule
	if err := decodeJSON(r, &rule); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	rule.TenantID = tenant
	if _, err := celexpr.CompileIncident(rule.Expression); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if err := s.Store.CreateRoutingRule(r.Context(), &rule, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, rule)
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false)
	if err == nil {
		var id int64
		if id, err = idParam(r, "id"); err == nil {
			err = s.Store.DeleteRoutingRule(r.Context(), tenant, id, principal(r))
		}
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- notifications

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	list, err := s.Store.Channels(r.Context(), tenant)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, map[string]any{"channels": channelViews(list)})
}

// channelView adds the priority threshold as "P1".."P4"; the secret never leaves.
type channelView struct {
	socbot.Channel
	MinPriority string `json:"min_priority"`
}

func channelViews(list []socbot.Channel) []channelView {
	out := make([]channelView, 0, len(list))
	for _, c := range list {
		c.Secret = ""
		out = append(out, channelView{Channel: c, MinPriority: c.MinPriority.String()})
	}
	return out
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	var body struct {
		Name        string   `json:"name"`
		Kind        string   `json:"kind"`
		Target      string   `json:"target"`
		Secret      string   `json:"secret"`
		Events      []string `json:"events"`
		MinPriority string   `json:"min_priority"`
		Enabled     *bool    `json:"enabled"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	c := socbot.Channel{TenantID: tenant, Name: body.Name, Kind: body.Kind, Target: body.Target, Secret: body.Secret, Events: body.Events, Enabled: true}
	if body.Enabled != nil {
		c.Enabled = *body.Enabled
	}
	if body.MinPriority != "" {
		p, ok := socbot.ParsePriority(body.MinPriority)
		if !ok {
			writeError(w, r, s.Logger, socbot.FieldError("httpapi.channel", "min_priority", "min_priority must be P1-P4"))
			return
		}
		c.MinPriority = p
	}
	if err := s.Store.CreateChannel(r.Context(), &c, principal(r)); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 201, channelViews([]socbot.Channel{c})[0])
}

func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request) {
	s.deleteItem(func(r *http.Request, t string, id int64) error {
		return s.Store.DeleteChannel(r.Context(), t, id, principal(r))
	})(w, r)
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.requireTenant(w, r)
	if !ok {
		return
	}
	limit, err := optIntN(r.URL.Query().Get("limit"), "limit")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Store.Notifications(r.Context(), tenant, limit)
	writeList(s, w, r, "notifications", list, err)
}

// ---- audit

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	tenant, err := s.tenantOf(r, false)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	after, err := optInt(r.URL.Query().Get("after"), "after")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	limit, err := optIntN(r.URL.Query().Get("limit"), "limit")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := s.Store.AuditEntries(r.Context(), tenant, after, limit)
	writeList(s, w, r, "entries", list, err)
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) {
	n, problems, err := s.Store.VerifyAudit(r.Context())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if problems == nil {
		problems = []socbot.AuditProblem{}
	}
	writeJSON(w, 200, map[string]any{"checked": n, "ok": len(problems) == 0, "problems": problems})
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	writeJSON(w, 200, map[string]string{"role": string(p.Role), "tenant_id": p.TenantID, "name": p.Name})
}

// ---- helpers

func optInt(v, field string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, socbot.FieldError("httpapi", field, "%q is not a non-negative number", v)
	}
	return n, nil
}

func optIntN(v, field string) (int, error) {
	n, err := optInt(v, field)
	if n > 1<<30 {
		return 0, socbot.FieldError("httpapi", field, "%q is too large", v)
	}
	return int(n), err
}
