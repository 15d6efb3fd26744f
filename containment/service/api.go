package service

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/playbook"
)

// The socbot.ContainmentService methods: every one checks that the principal may see the tenant (an
// object of another tenant is not found) and may do what it asks; the store audits the change in the
// same transaction, with the principal and the reason given here.

const op = "containment/service"

func notFound(what string) error { return socbot.E(op, socbot.KindNotFound, what+" not found") }

// scope checks that p may act on tenantID; "" is every tenant or the MSSP-wide list, for MSSP-wide
// principals only.
func scope(p socbot.Principal, tenantID string) error {
	if tenantID == "" {
		if !p.MSSPWide() {
			return socbot.FieldError(op, "tenant", "name the tenant")
		}
		return nil
	}
	if !p.CanAccessTenant(tenantID) {
		return notFound("tenant")
	}
	return nil
}

func canWork(p socbot.Principal) error {
	if p.Role == socbot.RoleAdmin || p.Role == socbot.RoleAnalyst {
		return nil
	}
	return socbot.E(op, socbot.KindForbidden, "role "+string(p.Role)+" cannot change containment")
}

func canAdmin(p socbot.Principal) error {
	if p.Role == socbot.RoleAdmin {
		return nil
	}
	return socbot.E(op, socbot.KindForbidden, "only admins configure connectors, playbooks and MSSP-wide lists")
}

func canRead(p socbot.Principal) error {
	switch p.Role {
	case socbot.RoleAdmin, socbot.RoleAnalyst, socbot.RoleViewer, socbot.RoleBot:
		return nil
	}
	return socbot.E(op, socbot.KindForbidden, "role "+string(p.Role)+" cannot read containment")
}

// View converts a ledger action into the API's form.
func View(a containment.Action) socbot.ContainmentAction {
	v := socbot.ContainmentAction{ID: a.ID, TenantID: a.TenantID, Kind: a.Kind, Value: a.Value, ConnectorID: a.ConnectorID, State: string(a.State),
		RequestedBy: a.RequestedBy, Reason: a.Reason, IncidentID: a.IncidentID, PlaybookStep: a.PlaybookStep, Confidence: a.Confidence,
		CrownJewel: a.CrownJewel, RequiredApprovals: a.RequiredApprovals, ApprovalDeadline: a.ApprovalDeadline, Escalations: a.Escalations,
		PolicyRule: a.PolicyRule, VendorRef: a.VendorRef, AppliedAt: a.AppliedAt, ExpiresAt: a.ExpiresAt, NativeExpiry: a.NativeExpiry,
		RemovedAt: a.RemovedAt, Rollback: a.Rollback, InDoubt: a.InDoubt, Detail: a.Detail, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		Version: a.Version}
	if a.TTL > 0 {
		v.TTL = a.TTL.String()
	}
	if !a.NextAttemptAt.IsZero() && !a.State.Terminal() && a.State != containment.StateApplied && a.State != containment.StateAwaitingApproval {
		t := a.NextAttemptAt
		v.NextAttemptAt = &t
	}
	for _, ap := range a.Approvals {
		v.Approvals = append(v.Approvals, socbot.ContainmentDecision{By: ap.By, At: ap.At, Approved: ap.Approved, Comment: ap.Comment})
	}
	for _, at := range a.Attempts {
		x := socbot.ContainmentAttempt{N: at.N, Op: at.Op, At: at.At, TookMS: float64(at.Took.Microseconds()) / 1000, Outcome: at.Outcome,
			Error: at.Error, Status: at.Status, Code: at.Code}
		if at.RetryAfter > 0 {
			x.RetryAfter = at.RetryAfter.String()
		}
		v.Attempts = append(v.Attempts, x)
	}
	return v
}

func views(as []containment.Action) []socbot.ContainmentAction {
	out := make([]socbot.ContainmentAction, len(as))
	for i, a := range as {
		out[i] = View(a)
	}
	return out
}

// ListActions implements socbot.ContainmentService.
func (s *Service) ListActions(ctx context.Context, p socbot.Principal, tenantID string, q socbot.ContainmentQuery) ([]socbot.ContainmentAction, error) {
	if err := canRead(p); err != nil {
		return nil, err
	}
	if err := scope(p, tenantID); err != nil {
		return nil, err
	}
	f := containment.ActionFilter{TenantID: tenantID, AllTenants: tenantID == "", IncidentID: q.IncidentID, ConnectorID: q.ConnectorID,
		AfterID: q.AfterID, Limit: q.Limit}
	for i, st := range q.States {
		if !containment.State(st).Valid() {
			return nil, socbot.FieldError(op, "state", "unknown state %q (states[%d])", st, i)
		}
		f.States = append(f.States, containment.State(st))
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	as, err := s.bot.Actions(ctx, p, f)
	if err != nil {
		return nil, err
	}
	return views(as), nil
}

// GetAction implements socbot.ContainmentService.
func (s *Service) GetAction(ctx context.Context, p socbot.Principal, tenantID string, id int64) (socbot.ContainmentAction, error) {
	if err := canRead(p); err != nil {
		return socbot.ContainmentAction{}, err
	}
	if err := scope(p, tenantID); err != nil {
		return socbot.ContainmentAction{}, err
	}
	a, err := s.store.GetAction(ctx, tenantID, id)
	if err != nil {
		return socbot.ContainmentAction{}, err
	}
	return View(a), nil
}

func (s *Service) request(p socbot.Principal, tenantID string, r socbot.ContainmentAsk) (containment.Request, error) {
	if !r.Kind.Valid() {
		return containment.Request{}, socbot.FieldError(op, "kind", "unknown action kind %q", r.Kind)
	}
	if strings.TrimSpace(r.Value) == "" {
		return containment.Request{}, socbot.FieldError(op, "value", "required")
	}
	if r.Confidence < 0 || r.Confidence > 100 {
		return containment.Request{}, socbot.FieldError(op, "confidence", "must be 0 to 100")
	}
	if r.TTL < 0 {
		return containment.Request{}, socbot.FieldError(op, "ttl", "must not be negative")
	}
	return containment.Request{TenantID: tenantID, Kind: r.Kind, Value: r.Value, ConnectorID: r.ConnectorID, TTL: r.TTL, RequestedBy: p.Name,
		Reason: r.Reason, IncidentID: r.IncidentID, Confidence: r.Confidence, CrownJewel: r.CrownJewel}, nil
}

// RequestAction implements socbot.ContainmentService.
func (s *Service) RequestAction(ctx context.Context, p socbot.Principal, tenantID string, r socbot.ContainmentAsk) (socbot.ContainmentAnswer, error) {
	if err := canWork(p); err != nil {
		return socbot.ContainmentAnswer{}, err
	}
	if tenantID == "" {
		return socbot.ContainmentAnswer{}, socbot.FieldError(op, "tenant", "name the tenant")
	}
	if err := scope(p, tenantID); err != nil {
		return socbot.ContainmentAnswer{}, err
	}
	req, err := s.request(p, tenantID, r)
	if err != nil {
		return socbot.ContainmentAnswer{}, err
	}
	if r.ConnectorID != "" {
		if _, err := s.store.GetConnector(ctx, tenantID, r.ConnectorID); err != nil {
			return socbot.ContainmentAnswer{}, err
		}
	}
	if r.DryRun {
		planned, err := s.bot.Plan(ctx, req)
		if err != nil {
			return socbot.ContainmentAnswer{}, err
		}
		return socbot.ContainmentAnswer{Planned: planned, DryRun: true}, nil
	}
	var as []containment.Action
	if r.IncidentID != 0 {
		inc, err := s.store.Incident(ctx, tenantID, r.IncidentID)
		if err != nil {
			return socbot.ContainmentAnswer{}, socbot.E(op, "incident_id", err)
		}
		if req.Confidence == 0 {
			req.Confidence = inc.Confidence
		}
		as, err = s.bot.RequestForIncident(ctx, req, inc)
		if err != nil {
			return socbot.ContainmentAnswer{}, err
		}
	} else if as, err = s.bot.Request(ctx, req); err != nil {
		return socbot.ContainmentAnswer{}, err
	}
	return socbot.ContainmentAnswer{Actions: views(as)}, nil
}

// RemoveAction implements socbot.ContainmentService.
func (s *Service) RemoveAction(ctx context.Context, p socbot.Principal, tenantID string, id int64, reason string) (socbot.ContainmentAction, error) {
	if err := scope(p, tenantID); err != nil {
		return socbot.ContainmentAction{}, err
	}
	if tenantID == "" { // staff: find the action's tenant
		a, err := s.store.GetAction(ctx, "", id)
		if err != nil {
			return socbot.ContainmentAction{}, err
		}
		tenantID = a.TenantID
	}
	a, err := s.bot.Remove(ctx, p, tenantID, id, reason)
	if err != nil {
		return socbot.ContainmentAction{}, err
	}
	return View(a), nil
}

// RollbackIncident implements socbot.ContainmentService.
func (s *Service) RollbackIncident(ctx context.Context, p socbot.Principal, tenantID string, incidentID int64, reason string) (int, error) {
	if err := canWork(p); err != nil {
		return 0, err
	}
	if err := scope(p, tenantID); err != nil {
		return 0, err
	}
	inc, err := s.store.Incident(ctx, tenantID, incidentID)
	if err != nil {
		return 0, err
	}
	if reason == "" {
		reason = "rollback asked by " + p.Name
	}
	return s.bot.Rollback(containment.WithAudit(ctx, p, reason), inc.TenantID, inc.ID, reason)
}

// PendingApprovals implements socbot.ContainmentService.
func (s *Service) PendingApprovals(ctx context.Context, p socbot.Principal, tenantID string) ([]socbot.ContainmentAction, error) {
	if err := canRead(p); err != nil {
		return nil, err
	}
	if err := scope(p, tenantID); err != nil {
		return nil, err
	}
	as, err := s.bot.Pending(ctx, p, tenantID)
	if err != nil {
		return nil, err
	}
	return views(as), nil
}

func (s *Service) decide(ctx context.Context, p socbot.Principal, tenantID string, id int64, comment string, approve bool) (socbot.ContainmentAction, error) {
	if err := scope(p, tenantID); err != nil {
		return socbot.ContainmentAction{}, err
	}
	if tenantID == "" {
		a, err := s.store.GetAction(ctx, "", id)
		if err != nil {
			return socbot.ContainmentAction{}, err
		}
		tenantID = a.TenantID
	}
	var a containment.Action
	var err error
	if approve {
		a, err = s.bot.Approve(ctx, p, tenantID, id, comment)
	} else {
		a, err = s.bot.Deny(ctx, p, tenantID, id, comment)
	}
	if err != nil {
		return socbot.ContainmentAction{}, err
	}
	return View(a), nil
}

// Approve implements socbot.ContainmentService.
func (s *Service) Approve(ctx context.Context, p socbot.Principal, tenantID string, id int64, comment string) (socbot.ContainmentAction, error) {
	return s.decide(ctx, p, tenantID, id, comment, true)
}

// Deny implements socbot.ContainmentService.
func (s *Service) Deny(ctx context.Context, p socbot.Principal, tenantID string, id int64, comment string) (socbot.ContainmentAction, error) {
	return s.decide(ctx, p, tenantID, id, comment, false)
}

// ---- connectors

func (s *Service) info(ctx context.Context, in containment.ConnectorInstance) socbot.ConnectorInfo {
	ci := socbot.ConnectorInfo{TenantID: in.TenantID, ID: in.ID, Type: in.Type, BaseURL: in.BaseURL, Options: in.Options,
		CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt}
	if in.Timeout > 0 {
		ci.Timeout = in.Timeout.String()
	}
	if len(in.SealedCredentials) > 0 && s.cfg.Sealer != nil {
		// Only the names of the credential fields: the values never leave the store unsealed.
		if plain, err := s.cfg.Sealer.Open(in.TenantID, in.SealedCredentials); err == nil {
			var m map[string]string
			if json.Unmarshal(plain, &m) == nil {
				ci.CredentialKeys = sortedKeys(m)
			}
		}
	}
	if conn, err := s.conns.Connector(ctx, in.TenantID, in.ID); err == nil {
		for _, k := range []socbot.ActionKind{socbot.ActBlockIP, socbot.ActBlockDomain, socbot.ActBlockURL, socbot.ActBlockSender,
			socbot.ActPurgeMessage, socbot.ActDisableUser, socbot.ActIsolateHost} {
			if conn.Supports(k) {
				ci.Supports = append(ci.Supports, k)
			}
		}
	}
	return ci
}

// ListConnectors implements socbot.ContainmentService.
func (s *Service) ListConnectors(ctx context.Context, p socbot.Principal, tenantID string) ([]socbot.ConnectorInfo, error) {
	if err := canRead(p); err != nil {
		return nil, err
	}
	if tenantID == "" {
		return nil, socbot.FieldError(op, "tenant", "name the tenant")
	}
	if err := scope(p, tenantID); err != nil {
		return nil, err
	}
	ins, err := s.store.ListConnectors(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]socbot.ConnectorInfo, 0, len(ins))
	for _, in := range ins {
		out = append(out, s.info(ctx, in))
	}
	return out, nil
}

// GetConnector implements socbot.ContainmentService.
func (s *Service) GetConnector(ctx context.Context, p socbot.Principal, tenantID, id string) (socbot.ConnectorInfo, error) {
	if err := canRead(p); err != nil {
		return socbot.ConnectorInfo{}, err
	}
	if tenantID == "" {
		return socbot.ConnectorInfo{}, socbot.FieldError(op, "tenant", "name the tenant")
	}
	if err := scope(p, tenantID); err != nil {
		return socbot.ConnectorInfo{}, err
	}
	in, err := s.store.GetConnector(ctx, tenantID, id)
	if err != nil {
		return socbot.ConnectorInfo{}, err
	}
	return s.info(ctx, in), nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// PutConnector implements socbot.ContainmentService.
func (s *Service) PutConnector(ctx context.Context, p socbot.Principal, tenantID string, cfg socbot.ConnectorConfig, reason string) (socbot.ConnectorInfo, bool, error) {
	if err := canAdmin(p); err != nil {
		return socbot.ConnectorInfo{}, false, err
	}
	if tenantID == "" {
		return socbot.ConnectorInfo{}, false, socbot.FieldError(op, "tenant", "name the tenant")
	}
	if err := scope(p, tenantID); err != nil {
		return socbot.ConnectorInfo{}, false, err
	}
	if !validID(cfg.ID) {
		return socbot.ConnectorInfo{}, false, socbot.FieldError(op, "id", "1-64 characters of a-z, 0-9, '-' and '_', got %q", cfg.ID)
	}
	cfg.TenantID = tenantID
	cfg.HTTPClient, cfg.Logger, cfg.Clock = nil, nil, nil
	if cfg.Type == "edl" {
		// The lists live under the data directory, one directory per tenant and connector.
		if s.cfg.EDLRoot == "" {
			return socbot.ConnectorInfo{}, false, socbot.E(op, socbot.KindUnsupported, "this server keeps no external dynamic lists (no EDL directory)")
		}
		if d := cfg.Options["dir"]; d != "" && d != s.edlDir(tenantID, cfg.ID) {
			return socbot.ConnectorInfo{}, false, socbot.FieldError(op, "options.dir", "set by socbot for connectors configured through the API")
		}
		opts := map[string]string{}
		for k, v := range cfg.Options {
			opts[k] = v
		}
		opts["dir"] = s.edlDir(tenantID, cfg.ID)
		cfg.Options = opts
	}
	in, created, err := s.conns.ConfigureInstance(containment.WithAudit(ctx, p, reason), cfg)
	if err != nil {
		return socbot.ConnectorInfo{}, false, err
	}
	s.mu.Lock()
	s.gate[tenantID] = true
	s.mu.Unlock()
	return s.info(ctx, in), created, nil
}

// DeleteConnector implements socbot.ContainmentService. A connector with live actions (pending,
// applied, in flight) cannot be deleted: its blocks could then never be undone.
func (s *Service) DeleteConnector(ctx context.Context, p socbot.Principal, tenantID, id, reason string) error {
	if err := canAdmin(p); err != nil {
		return err
	}
	if tenantID == "" {
		return socbot.FieldError(op, "tenant", "name the tenant")
	}
	if err := scope(p, tenantID); err != nil {
		return err
	}
	if _, err := s.store.GetConnector(ctx, tenantID, id); err != nil {
		return err
	}
	live, err := s.store.ListActions(ctx, containment.ActionFilter{TenantID: tenantID, ConnectorID: id, Limit: 1,
		States: []containment.State{containment.StateRequested, containment.StateAwaitingApproval, containment.StateApproved,
			containment.StateApplying, containment.StateApplied, containment.StateExpiring}})
	if err != nil {
		return err
	}
	if len(live) > 0 {
		return socbot.E(op, socbot.KindConflict, fmt.Sprintf("connector %s still has live actions (e.g. %d, %s): remove them first", id, live[0].ID, live[0].State))
	}
	return s.store.DeleteConnector(containment.WithAudit(ctx, p, reason), tenantID, id)
}

// PlanConnector implements socbot.ContainmentService.
func (s *Service) PlanConnector(ctx context.Context, p socbot.Principal, tenantID, id string, r socbot.ContainmentAsk) ([]socbot.PlannedChange, error) {
	if err := canWork(p); err != nil {
		return nil, err
	}
	if tenantID == "" {
		return nil, socbot.FieldError(op, "tenant", "name the tenant")
	}
	if err := scope(p, tenantID); err != nil {
		return nil, err
	}
	if _, err := s.store.GetConnector(ctx, tenantID, id); err != nil {
		return nil, err
	}
	r.ConnectorID = id
	req, err := s.request(p, tenantID, r)
	if err != nil {
		return nil, err
	}
	return s.bot.Plan(ctx, req)
}

// ---- playbooks

func (s *Service) pbInfo(tenantID string, p *playbook.Playbook, versions []int, withSource bool) socbot.PlaybookInfo {
	pi := socbot.PlaybookInfo{TenantID: tenantID, Name: p.Name, Version: p.Version, Description: strings.TrimSpace(p.Description),
		Disabled: p.Disabled, Versions: versions}
	s.mu.Lock()
	pi.Builtin = tenantID == "" && s.builtinMax[p.Name] >= p.Version
	s.mu.Unlock()
	if withSource {
		pi.Source = string(p.Source())
	}
	return pi
}

// ListPlaybooks implements socbot.ContainmentService: the playbooks the tenant runs (its own and the
// MSSP-wide ones it does not replace), or the MSSP-wide library for tenant "".
func (s *Service) ListPlaybooks(ctx context.Context, p socbot.Principal, tenantID string) ([]socbot.PlaybookInfo, error) {
	if err := canRead(p); err != nil {
		return nil, err
	}
	if err := scope(p, tenantID); err != nil {
		return nil, err
	}
	own := s.lib.Own(tenantID)
	mssp := s.lib.Own("")
	var out []socbot.PlaybookInfo
	add := func(t string, vs []*playbook.Playbook) {
		var nums []int
		for _, v := range vs {
			nums = append(nums, v.Version)
		}
		out = append(out, s.pbInfo(t, vs[len(vs)-1], nums, false))
	}
	for _, vs := range own {
		add(tenantID, vs)
	}
	if tenantID != "" {
		for name, vs := range mssp {
			if _, replaced := own[name]; !replaced {
				add("", vs)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GetPlaybook implements socbot.ContainmentService.
func (s *Service) GetPlaybook(ctx context.Context, p socbot.Principal, tenantID, name string, version int) (socbot.PlaybookInfo, error) {
	if err := canRead(p); err != nil {
		return socbot.PlaybookInfo{}, err
	}
	if err := scope(p, tenantID); err != nil {
		return socbot.PlaybookInfo{}, err
	}
	for _, t := range []string{tenantID, ""} {
		vs := s.lib.Own(t)[name]
		for i := len(vs) - 1; i >= 0; i-- {
			if version == 0 || vs[i].Version == version {
				var nums []int
				for _, v := range vs {
					nums = append(nums, v.Version)
				}
				return s.pbInfo(t, vs[i], nums, true), nil
			}
		}
		if tenantID == "" {
			break
		}
	}
	return socbot.PlaybookInfo{}, notFound("playbook " + name)
}

// PutPlaybook implements socbot.ContainmentService.
func (s *Service) PutPlaybook(ctx context.Context, p socbot.Principal, tenantID string, source []byte, reason string) (socbot.PlaybookInfo, error) {
	if err := canAdmin(p); err != nil {
		return socbot.PlaybookInfo{}, err
	}
	if err := scope(p, tenantID); err != nil {
		return socbot.PlaybookInfo{}, err
	}
	pb, err := playbook.Parse(source)
	if err != nil {
		return socbot.PlaybookInfo{}, err
	}
	if pb.Tenant != "" && pb.Tenant != tenantID {
		return socbot.PlaybookInfo{}, socbot.FieldError(op, "tenant", "the playbook names tenant %q, uploaded for %q", pb.Tenant, tenantID)
	}
	if vs := s.lib.Own(tenantID)[pb.Name]; len(vs) > 0 && vs[len(vs)-1].Version >= pb.Version {
		return socbot.PlaybookInfo{}, socbot.E(op, socbot.KindConflict, fmt.Sprintf("playbook %s: version %d is not above the current version %d", pb.Name, pb.Version, vs[len(vs)-1].Version))
	}
	now := s.clock.Now()
	st := playbook.Stored{TenantID: tenantID, Name: pb.Name, Version: pb.Version, Source: source, Disabled: pb.Disabled, CreatedBy: p.Name, CreatedAt: now}
	if err := s.store.PutPlaybook(containment.WithAudit(ctx, p, reason), st); err != nil {
		return socbot.PlaybookInfo{}, err
	}
	if err := s.lib.Add(tenantID, pb); err != nil && !socbot.IsKind(err, socbot.KindConflict) {
		return socbot.PlaybookInfo{}, err
	}
	s.mu.Lock()
	if tenantID != "" {
		s.gate[tenantID] = true
	}
	s.mu.Unlock()
	var nums []int
	for _, v := range s.lib.Own(tenantID)[pb.Name] {
		nums = append(nums, v.Version)
	}
	info := s.pbInfo(tenantID, pb, nums, false)
	info.CreatedBy, info.CreatedAt = p.Name, now
	return info, nil
}

// ---- never-block lists

func (s *Service) neverScope(p socbot.Principal, tenantID string, write bool) error {
	if tenantID == "" {
		if write {
			return canAdmin(p)
		}
		if !p.MSSPWide() {
			return socbot.E(op, socbot.KindForbidden, "the MSSP-wide list is for MSSP staff")
		}
		return nil
	}
	if write {
		if err := canWork(p); err != nil {
			return err
		}
	} else if err := canRead(p); err != nil {
		return err
	}
	return scope(p, tenantID)
}

// NeverBlock implements socbot.ContainmentService.
func (s *Service) NeverBlock(ctx context.Context, p socbot.Principal, tenantID string) ([]socbot.NeverBlockEntry, error) {
	if err := s.neverScope(p, tenantID, false); err != nil {
		return nil, err
	}
	return s.store.NeverBlock(ctx, tenantID)
}

// AddNeverBlock implements socbot.ContainmentService.
func (s *Service) AddNeverBlock(ctx context.Context, p socbot.Principal, tenantID string, entries []socbot.NeverBlockEntry, reason string) ([]socbot.NeverBlockEntry, error) {
	if err := s.neverScope(p, tenantID, true); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, socbot.FieldError(op, "entries", "at least one entry")
	}
	if len(entries) > 10000 {
		return nil, socbot.FieldError(op, "entries", "at most 10,000 entries per request")
	}
	for i := range entries {
		entries[i].TenantID = tenantID
		v := strings.TrimSpace(entries[i].Value)
		if v == "" || len(v) > 512 {
			return nil, socbot.FieldError(op, fmt.Sprintf("entries[%d].value", i), "1 to 512 characters")
		}
	}
	out, err := s.store.AddNeverBlock(containment.WithAudit(ctx, p, reason), entries)
	if err != nil {
		return nil, err
	}
	return out, s.reloadNeverBlock(ctx)
}

// DeleteNeverBlock implements socbot.ContainmentService.
func (s *Service) DeleteNeverBlock(ctx context.Context, p socbot.Principal, tenantID string, id int64, reason string) error {
	if err := s.neverScope(p, tenantID, true); err != nil {
		return err
	}
	if _, err := s.store.DeleteNeverBlock(containment.WithAudit(ctx, p, reason), tenantID, id); err != nil {
		return err
	}
	return s.reloadNeverBlock(ctx)
}
