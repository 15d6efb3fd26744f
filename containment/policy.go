package containment

import (
	"fmt"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	socbot "github.com/socbot/socbot"
)

// PolicyRule is one rule of an approval policy: when its CEL condition holds, the action needs
// Approvals distinct approvers (0 means automatic). Rules are tried in order; the first match wins.
//
// The condition sees these variables:
//
//	action      map: kind, value, connector, forward (bool), requested_by, playbook_step
//	confidence  int 0-100: the confidence of the incident (or of the request)
//	crown_jewel bool: the target is a crown-jewel asset
//	incident    map: id, priority, category, status, confidence (zero values when there is none)
//	tenant      string
type PolicyRule struct {
	Name      string `json:"name" yaml:"name"`
	When      string `json:"when" yaml:"when"`
	Approvals int    `json:"approvals" yaml:"approvals"`
}

// Policy is a tenant's approval policy.
type Policy struct {
	Rules          []PolicyRule  `json:"rules" yaml:"rules"`
	Timeout        time.Duration `json:"timeout" yaml:"timeout"`                 // per approval round (default 30m)
	MaxEscalations int           `json:"max_escalations" yaml:"max_escalations"` // rounds after the first before denial (default 2)

	progs []cel.Program
}

// DefaultPolicyRules are the approval rules used when a tenant has none: undoing is automatic;
// crown jewels and user or host actions need two distinct approvers; high confidence is automatic;
// everything else needs one approver.
var DefaultPolicyRules = []PolicyRule{
	{Name: "undo", When: `!action.forward`, Approvals: 0},
	{Name: "crown-jewel-or-identity", When: `crown_jewel || action.kind in ["disable_user", "isolate_host"]`, Approvals: 2},
	{Name: "high-confidence", When: `confidence >= 85`, Approvals: 0},
	{Name: "default", When: `true`, Approvals: 1},
}

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("action", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("confidence", cel.IntType),
		cel.Variable("crown_jewel", cel.BoolType),
		cel.Variable("incident", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("tenant", cel.StringType),
	)
})

// CompilePolicy checks and compiles a policy; errors name the rule and field.
func CompilePolicy(p Policy) (*Policy, error) {
	const op = "containment.CompilePolicy"
	env, err := celEnv()
	if err != nil {
		return nil, socbot.E(op, err)
	}
	if len(p.Rules) == 0 {
		return nil, socbot.FieldError(op, "rules", "a policy needs at least one rule")
	}
	if p.Timeout <= 0 {
		p.Timeout = 30 * time.Minute
	}
	if p.MaxEscalations < 0 {
		return nil, socbot.FieldError(op, "max_escalations", "must not be negative")
	}
	p.progs = make([]cel.Program, len(p.Rules))
	for i, r := range p.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		if r.Name != "" {
			field = fmt.Sprintf("rules[%d](%s)", i, r.Name)
		}
		if r.Approvals < 0 || r.Approvals > 5 {
			return nil, socbot.FieldError(op, field+".approvals", "must be 0 to 5, got %d", r.Approvals)
		}
		ast, iss := env.Compile(r.When)
		if iss.Err() != nil {
			return nil, socbot.FieldError(op, field+".when", "%v", iss.Err())
		}
		if ast.OutputType() != cel.BoolType {
			return nil, socbot.FieldError(op, field+".when", "must be a bool expression, is %s", ast.OutputType())
		}
		prg, err := env.Program(ast, cel.CostLimit(10000))
		if err != nil {
			return nil, socbot.FieldError(op, field+".when", "%v", err)
		}
		p.progs[i] = prg
	}
	return &p, nil
}

// DefaultPolicy returns the compiled default policy.
func DefaultPolicy() *Policy {
	p, err := CompilePolicy(Policy{Rules: DefaultPolicyRules, Timeout: 30 * time.Minute, MaxEscalations: 2})
	if err != nil {
		panic(err) // the default rules are fixed
	}
	return p
}

// PolicyInput is what a policy decides on.
type PolicyInput struct {
	TenantID string
	Action   Action
	Incident *socbot.Incident
}

// Decide returns how many distinct approvers the action needs and the rule that said so. A rule
// that fails to evaluate is an error (fail closed): the caller must not apply the action.
func (p *Policy) Decide(in PolicyInput) (int, string, error) {
	a := in.Action
	inc := map[string]any{"id": int64(0), "priority": "", "category": "", "status": "", "confidence": int64(0)}
	if in.Incident != nil {
		inc = map[string]any{"id": in.Incident.ID, "priority": in.Incident.Priority.String(), "category": in.Incident.Category,
			"status": in.Incident.Status, "confidence": int64(in.Incident.Confidence)}
	}
	vars := map[string]any{
		"action": map[string]any{"kind": string(a.Kind), "value": a.Value, "connector": a.ConnectorID,
			"forward": a.Kind.IsForward(), "requested_by": a.RequestedBy, "playbook_step": a.PlaybookStep},
		"confidence":  int64(a.Confidence),
		"crown_jewel": a.CrownJewel,
		"incident":    inc,
		"tenant":      in.TenantID,
	}
	for i, prg := range p.progs {
		out, _, err := prg.Eval(vars)
		if err != nil {
			return 0, p.Rules[i].Name, socbot.E("containment.Policy.Decide", socbot.KindInvalid, fmt.Sprintf("rule %d (%s)", i, p.Rules[i].Name), err)
		}
		if b, ok := out.Value().(bool); ok && b {
			return p.Rules[i].Approvals, p.Rules[i].Name, nil
		}
	}
	return 1, "no-rule-matched", nil
}

// Policies holds each tenant's approval policy, falling back to a default. Safe for concurrent use.
type Policies struct {
	mu       sync.RWMutex
	def      *Policy
	byTenant map[string]*Policy
}

// NewPolicies returns a policy set with def as the fallback (DefaultPolicy() when nil).
func NewPolicies(def *Policy) *Policies {
	if def == nil {
		def = DefaultPolicy()
	}
	return &Policies{def: def, byTenant: map[string]*Policy{}}
}

// Set installs a compiled policy for a tenant.
func (ps *Policies) Set(tenantID string, p *Policy) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.byTenant[tenantID] = p
}

// For returns the tenant's policy.
func (ps *Policies) For(tenantID string) *Policy {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	if p, ok := ps.byTenant[tenantID]; ok {
		return p
	}
	return ps.def
}
