package httpapi

import (
	_ "embed"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// The containment API: the action ledger (list, get, request with dry run, remove), approvals
// (pending, approve, deny), each tenant's connector instances (credentials accepted, never
// returned), playbooks (list, get, upload a version) and never-block lists. The work is done by
// Deps.Containment; without it every route answers 503.

//go:embed openapi_containment.json
var openapiContainment []byte

func init() {
	routeGroups = append(routeGroups, (*Server).containmentRoutes)
	addOpenAPI(openapiContainment)
}

func (s *Server) containmentRoutes() {
	s.handle("GET", "/actions", PermRead, "List containment actions (the ledger)", s.listActions)
	s.handle("POST", "/actions", PermWork, "Request a containment action, or plan it with dry_run", s.requestAction)
	s.handle("GET", "/actions/{id}", PermRead, "Get a containment action with its approvals and attempts", s.getAction)
	s.handle("POST", "/actions/{id}/remove", PermWork, "Undo an applied containment action", s.removeAction)
	s.handle("POST", "/actions/{id}/approve", PermWork, "Approve a containment action", s.approveAction)
	s.handle("POST", "/actions/{id}/deny", PermWork, "Deny a containment action", s.denyAction)
	s.handle("GET", "/approvals", PermRead, "Containment actions waiting for approval", s.pendingApprovals)
	s.handle("POST", "/incidents/{id}/rollback", PermWork, "Undo every reversible containment action of an incident", s.rollbackIncident)

	s.handle("GET", "/connectors", PermRead, "List the tenant's connector instances (never their credentials)", s.listConnectors)
	s.handle("POST", "/connectors", PermAdmin, "Create a connector instance; credentials are sealed and never returned", s.createConnector)
	s.handle("GET", "/connectors/{id}", PermRead, "Get a connector instance", s.getConnector)
	s.handle("PUT", "/connectors/{id}", PermAdmin, "Replace a connector instance (without credentials: keep the stored ones)", s.putConnector)
	s.handle("DELETE", "/connectors/{id}", PermAdmin, "Delete a connector instance without live actions", s.deleteConnector)
	s.handle("POST", "/connectors/{id}/plan", PermWork, "Dry run on one connector: what it would change", s.planConnector)

	s.handle("GET", "/playbooks", PermRead, "List the playbooks a tenant runs (or the MSSP-wide library)", s.listPlaybooks)
	s.handle("POST", "/playbooks", PermAdmin, "Upload a new playbook version (YAML)", s.uploadPlaybook)
	s.handle("GET", "/playbooks/{id}", PermRead, "Get a playbook version with its YAML", s.getPlaybook)

	s.handle("GET", "/never-block", PermRead, "The tenant's (or the MSSP-wide) never-block list", s.listNeverBlock)
	s.handle("POST", "/never-block", PermWork, "Add never-block entries", s.addNeverBlock)
	s.handle("DELETE", "/never-block/{id}", PermWork, "Remove a never-block entry", s.deleteNeverBlock)
}

// containment returns the service, or answers 503.
func (s *Server) containment(w http.ResponseWriter, r *http.Request) (socbot.ContainmentService, bool) {
	if s.Containment == nil {
		writeError(w, r, s.Logger, socbot.E("httpapi.containment", socbot.KindUnavailable, "the containment bot does not run on this node"))
		return nil, false
	}
	return s.Containment, true
}

// scoped returns the service and the tenant of the request.
func (s *Server) scoped(w http.ResponseWriter, r *http.Request, required bool) (socbot.ContainmentService, string, bool) {
	svc, ok := s.containment(w, r)
	if !ok {
		return nil, "", false
	}
	tenant, err := s.tenantOf(r, required)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return nil, "", false
	}
	return svc, tenant, true
}

// scopedItem also reads the numeric {id}.
func (s *Server) scopedItem(w http.ResponseWriter, r *http.Request) (socbot.ContainmentService, string, int64, bool) {
	id, err := idParam(r, "id")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return nil, "", 0, false
	}
	svc, tenant, ok := s.scoped(w, r, false)
	return svc, tenant, id, ok
}

func optDuration(v, field string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := socbot.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, socbot.FieldError("httpapi", field, "%q is not a duration (30s, 15m, 24h, 7d)", v)
	}
	return d, nil
}

// ---- actions

func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, false)
	if !ok {
		return
	}
	qv := r.URL.Query()
	q := socbot.ContainmentQuery{ConnectorID: qv.Get("connector")}
	if st := qv.Get("state"); st != "" {
		q.States = strings.Split(st, ",")
	}
	var err error
	if q.IncidentID, err = optInt(qv.Get("incident"), "incident"); err == nil {
		if q.Limit, err = optIntN(qv.Get("limit"), "limit"); err == nil {
			q.AfterID, err = optInt(qv.Get("after"), "after")
		}
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	list, err := svc.ListActions(r.Context(), principal(r), tenant, q)
	writeList(s, w, r, "actions", list, err)
}

// ActionRequest is the body of POST /actions and POST /connectors/{id}/plan.
type ActionRequest struct {
	Kind        socbot.ActionKind `json:"kind"`
	Value       string            `json:"value"`
	ConnectorID string            `json:"connector_id,omitempty"`
	TTL         string            `json:"ttl,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	IncidentID  int64             `json:"incident_id,omitempty"`
	Confidence  int               `json:"confidence,omitempty"`
	CrownJewel  bool              `json:"crown_jewel,omitempty"`
	DryRun      bool              `json:"dry_run,omitempty"`
}

func (a ActionRequest) ask() (socbot.ContainmentAsk, error) {
	ttl, err := optDuration(a.TTL, "ttl")
	return socbot.ContainmentAsk{Kind: a.Kind, Value: a.Value, ConnectorID: a.ConnectorID, TTL: ttl, Reason: a.Reason, IncidentID: a.IncidentID,
		Confidence: a.Confidence, CrownJewel: a.CrownJewel, DryRun: a.DryRun}, err
}

func (s *Server) requestAction(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, true)
	if !ok {
		return
	}
	var body ActionRequest
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	ask, err := body.ask()
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	ans, err := svc.RequestAction(r.Context(), principal(r), tenant, ask)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	code := http.StatusCreated
	if ans.DryRun {
		code = http.StatusOK
	}
	writeJSON(w, code, ans)
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request) {
	svc, tenant, id, ok := s.scopedItem(w, r)
	if !ok {
		return
	}
	a, err := svc.GetAction(r.Context(), principal(r), tenant, id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, a)
}

// Decision is the body of approve, deny, remove and rollback.
type Decision struct {
	Comment string `json:"comment,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (d Decision) text() string {
	if d.Comment != "" {
		return d.Comment
	}
	return d.Reason
}

// decision reads an optional Decision body.
func decision(r *http.Request) (Decision, error) {
	var d Decision
	if r.ContentLength == 0 {
		return d, nil
	}
	err := decodeJSON(r, &d)
	if err != nil && strings.HasSuffix(err.Error(), ": EOF") { // an empty body of unknown length
		return d, nil
	}
	return d, err
}

func (s *Server) actionDecision(w http.ResponseWriter, r *http.Request, do func(svc socbot.ContainmentService, tenant string, id int64, text string) (socbot.ContainmentAction, error)) {
	svc, tenant, id, ok := s.scopedItem(w, r)
	if !ok {
		return
	}
	d, err := decision(r)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	a, err := do(svc, tenant, id, d.text())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, a)
}

func (s *Server) removeAction(w http.ResponseWriter, r *http.Request) {
	s.actionDecision(w, r, func(svc socbot.ContainmentService, tenant string, id int64, text string) (socbot.ContainmentAction, error) {
		return svc.RemoveAction(r.Context(), principal(r), tenant, id, text)
	})
}

func (s *Server) approveAction(w http.ResponseWriter, r *http.Request) {
	s.actionDecision(w, r, func(svc socbot.ContainmentService, tenant string, id int64, text string) (socbot.ContainmentAction, error) {
		return svc.Approve(r.Context(), principal(r), tenant, id, text)
	})
}

func (s *Server) denyAction(w http.ResponseWriter, r *http.Request) {
	s.actionDecision(w, r, func(svc socbot.ContainmentService, tenant string, id int64, text string) (socbot.ContainmentAction, error) {
		return svc.Deny(r.Context(), principal(r), tenant, id, text)
	})
}

func (s *Server) pendingApprovals(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, false)
	if !ok {
		return
	}
	list, err := svc.PendingApprovals(r.Context(), principal(r), tenant)
	writeList(s, w, r, "actions", list, err)
}

func (s *Server) rollbackIncident(w http.ResponseWriter, r *http.Request) {
	svc, tenant, id, ok := s.scopedItem(w, r)
	if !ok {
		return
	}
	d, err := decision(r)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	n, err := svc.RollbackIncident(r.Context(), principal(r), tenant, id, d.text())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, map[string]any{"incident_id": id, "actions": n})
}

// ---- connectors

// ConnectorBody is the body of POST /connectors and PUT /connectors/{id}. Credentials are write-only.
type ConnectorBody struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	BaseURL     string            `json:"base_url,omitempty"`
	Options     map[string]string `json:"options,omitempty"`
	Timeout     string            `json:"timeout,omitempty"`
	Credentials map[string]string `json:"credentials,omitempty"`
	Reason      string            `json:"reason,omitempty"`
}

func (b ConnectorBody) config() (socbot.ConnectorConfig, error) {
	t, err := optDuration(b.Timeout, "timeout")
	return socbot.ConnectorConfig{ID: b.ID, Type: b.Type, BaseURL: b.BaseURL, Options: b.Options, Timeout: t, Credentials: b.Credentials}, err
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, true)
	if !ok {
		return
	}
	list, err := svc.ListConnectors(r.Context(), principal(r), tenant)
	writeList(s, w, r, "connectors", list, err)
}

func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, true)
	if !ok {
		return
	}
	var body ConnectorBody
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	cfg, err := body.config()
	if err == nil {
		if _, gerr := svc.GetConnector(r.Context(), principal(r), tenant, body.ID); gerr == nil {
			err = socbot.E("httpapi.createConnector", socbot.KindConflict, "connector "+body.ID+" exists: PUT /connectors/"+body.ID+" replaces it")
		}
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	info, _, err := svc.PutConnector(r.Context(), principal(r), tenant, cfg, body.Reason)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) putConnector(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, true)
	if !ok {
		return
	}
	var body ConnectorBody
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	id := chiParam(r, "id")
	if body.ID != "" && body.ID != id {
		writeError(w, r, s.Logger, socbot.FieldError("httpapi.putConnector", "id", "the body names %q, the path %q", body.ID, id))
		return
	}
	body.ID = id
	cfg, err := body.config()
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	info, created, err := svc.PutConnector(r.Context(), principal(r), tenant, cfg, body.Reason)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	code := 200
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, info)
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, true)
	if !ok {
		return
	}
	info, err := svc.GetConnector(r.Context(), principal(r), tenant, chiParam(r, "id"))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, 200, info)
}

func (s *Server) deleteConnector(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, true)
	if !ok {
		return
	}
	if err := svc.DeleteConnector(r.Context(), principal(r), tenant, chiParam(r, "id"), r.URL.Query().Get("reason")); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) planConnector(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, true)
	if !ok {
		return
	}
	var body ActionRequest
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	ask, err := body.ask()
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	planned, err := svc.PlanConnector(r.Context(), principal(r), tenant, chiParam(r, "id"), ask)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if planned == nil {
		planned = []socbot.PlannedChange{}
	}
	writeJSON(w, 200, map[string]any{"planned": planned})
}

// ---- playbooks

func (s *Server) listPlaybooks(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, false)
	if !ok {
		return
	}
	list, err := svc.ListPlaybooks(r.Context(), principal(r), tenant)
	writeList(s, w, r, "playbooks", list, err)
}

func (s *Server) getPlaybook(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, false)
	if !ok {
		return
	}
	v, err := optIntN(r.URL.Query().Get("version"), "version")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	pb, err := svc.GetPlaybook(r.Context(), principal(r), tenant, chiParam(r, "id"), v)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Accept")); mt == "application/yaml" || mt == "text/yaml" {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = io.WriteString(w, pb.Source)
		return
	}
	writeJSON(w, 200, pb)
}

// PlaybookUpload is the JSON form of POST /playbooks; a YAML body (Content-Type application/yaml or
// text/yaml) is the playbook itself.
type PlaybookUpload struct {
	Source string `json:"source"`
	Reason string `json:"reason,omitempty"`
}

func (s *Server) uploadPlaybook(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, false)
	if !ok {
		return
	}
	var up PlaybookUpload
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/yaml", "text/yaml", "application/x-yaml", "text/plain":
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10+1))
		if err != nil {
			writeError(w, r, s.Logger, socbot.E("httpapi.uploadPlaybook", socbot.KindTooLarge, "playbook over 256 KiB"))
			return
		}
		up.Source, up.Reason = string(b), r.URL.Query().Get("reason")
	default:
		if err := decodeJSON(r, &up); err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
	}
	if strings.TrimSpace(up.Source) == "" {
		writeError(w, r, s.Logger, socbot.FieldError("httpapi.uploadPlaybook", "source", "the playbook YAML is required"))
		return
	}
	pb, err := svc.PutPlaybook(r.Context(), principal(r), tenant, []byte(up.Source), up.Reason)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, pb)
}

// ---- never-block lists

// NeverBlockAdd is the body of POST /never-block: entries, or one value.
type NeverBlockAdd struct {
	Entries []NeverBlockItem `json:"entries,omitempty"`
	Value   string           `json:"value,omitempty"`
	Comment string           `json:"comment,omitempty"`
	Reason  string           `json:"reason,omitempty"`
}

// NeverBlockItem is one entry to add.
type NeverBlockItem struct {
	Value   string `json:"value"`
	Comment string `json:"comment,omitempty"`
}

func (s *Server) listNeverBlock(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, false)
	if !ok {
		return
	}
	list, err := svc.NeverBlock(r.Context(), principal(r), tenant)
	writeList(s, w, r, "entries", list, err)
}

func (s *Server) addNeverBlock(w http.ResponseWriter, r *http.Request) {
	svc, tenant, ok := s.scoped(w, r, false)
	if !ok {
		return
	}
	var body NeverBlockAdd
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	var es []socbot.NeverBlockEntry
	if body.Value != "" {
		es = append(es, socbot.NeverBlockEntry{Value: body.Value, Comment: body.Comment})
	}
	for _, it := range body.Entries {
		es = append(es, socbot.NeverBlockEntry{Value: it.Value, Comment: it.Comment})
	}
	out, err := svc.AddNeverBlock(r.Context(), principal(r), tenant, es, body.Reason)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"entries": out})
}

func (s *Server) deleteNeverBlock(w http.ResponseWriter, r *http.Request) {
	svc, tenant, id, ok := s.scopedItem(w, r)
	if !ok {
		return
	}
	if err := svc.DeleteNeverBlock(r.Context(), principal(r), tenant, id, r.URL.Query().Get("reason")); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
