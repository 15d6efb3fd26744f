// Package celexpr compiles and evaluates the CEL expressions people write into socbot: suppression
// rules over an alert and routing rules over an incident. Expressions must yield a boolean and run
// under a cost limit, so a rule can neither break triage with a type error nor stall it.
package celexpr

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"

	socbot "github.com/socbot/socbot"
)

// costLimit bounds the work one evaluation may do.
const costLimit = 100000

// Program is a compiled expression.
type Program struct {
	Source string
	prg    cel.Program
}

var (
	alertEnv    = mustEnv("alert")
	incidentEnv = mustEnv("incident")
)

func mustEnv(name string) *cel.Env {
	env, err := cel.NewEnv(cel.Variable(name, cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		panic(err)
	}
	return env
}

// CompileAlert compiles an expression over `alert` (see AlertVars for its fields).
func CompileAlert(expr string) (*Program, error) { return compile(alertEnv, expr) }

// CompileIncident compiles an expression over `incident` (see IncidentVars for its fields).
func CompileIncident(expr string) (*Program, error) { return compile(incidentEnv, expr) }

func compile(env *cel.Env, expr string) (*Program, error) {
	const op = "celexpr.Compile"
	if strings.TrimSpace(expr) == "" {
		return nil, socbot.FieldError(op, "expression", "expression is empty")
	}
	if len(expr) > 8192 {
		return nil, socbot.FieldError(op, "expression", "expression is longer than 8 KiB")
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, socbot.FieldError(op, "expression", "%s", strings.TrimSpace(iss.Err().Error()))
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, socbot.FieldError(op, "expression", "expression must be true or false, not %s", t)
	}
	prg, err := env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, socbot.FieldError(op, "expression", "%v", err)
	}
	return &Program{Source: expr, prg: prg}, nil
}

// Match evaluates the program. A runtime error (a missing field, a wrong type) is returned, and the
// caller treats the rule as not matching.
func (p *Program) Match(vars map[string]any) (bool, error) {
	out, _, err := p.prg.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("expression gave %v, not true or false", out.Value())
	}
	return b, nil
}

// AlertVars is the `alert` an expression sees: its fields plus its observables grouped by type.
//
//	title, description, rule_id, rule_name, category, format, vendor, product, source_id,
//	severity ("info".."critical"), severity_score (0-100), tactics, techniques,
//	hosts, users, ips, src_ips, dst_ips, domains, urls, hashes, emails, processes, files,
//	observables (list of {type, value, role})
func AlertVars(a *socbot.Alert) map[string]any {
	groups := map[string][]string{}
	obs := make([]map[string]any, 0, len(a.Observables))
	for _, o := range a.Observables {
		key := map[socbot.ObservableType]string{
			socbot.ObsHost: "hosts", socbot.ObsUser: "users", socbot.ObsIP: "ips", socbot.ObsDomain: "domains",
			socbot.ObsURL: "urls", socbot.ObsMD5: "hashes", socbot.ObsSHA1: "hashes", socbot.ObsSHA256: "hashes",
			socbot.ObsEmail: "emails", socbot.ObsProcess: "processes", socbot.ObsFile: "files",
		}[o.Type]
		if key != "" {
			groups[key] = append(groups[key], o.Value)
		}
		if o.Type == socbot.ObsIP {
			switch o.Role {
			case socbot.AsSource:
				groups["src_ips"] = append(groups["src_ips"], o.Value)
			case socbot.AsDestination:
				groups["dst_ips"] = append(groups["dst_ips"], o.Value)
			}
		}
		obs = append(obs, map[string]any{"type": string(o.Type), "value": o.Value, "role": string(o.Role)})
	}
	vars := map[string]any{
		"title": a.Title, "description": a.Description, "rule_id": a.RuleID, "rule_name": a.RuleName, "category": a.Category,
		"format": a.Format, "vendor": a.Vendor, "product": a.Product, "source_id": a.SourceID,
		"severity": a.Severity.String(), "severity_score": int64(a.SeverityScore),
		"tactics": strs(a.Tactics), "techniques": strs(a.Techniques), "observables": obs,
	}
	for _, k := range []string{"hosts", "users", "ips", "src_ips", "dst_ips", "domains", "urls", "hashes", "emails", "processes", "files"} {
		vars[k] = strs(groups[k])
	}
	return map[string]any{"alert": vars}
}

// IncidentVars is the `incident` a routing expression sees:
//
//	tenant (name), tenant_id, title, priority ("P1".."P4"), category, confidence, alert_count,
//	tactics, techniques, entities ("type:value" strings), formats (of its alerts)
func IncidentVars(inc *socbot.Incident, tenantName string, formats []string) map[string]any {
	return map[string]any{"incident": map[string]any{
		"tenant": tenantName, "tenant_id": inc.TenantID, "title": inc.Title, "priority": inc.Priority.String(),
		"category": inc.Category, "confidence": int64(inc.Confidence), "alert_count": int64(inc.AlertCount),
		"tactics": strs(inc.Tactics), "techniques": strs(inc.Techniques), "entities": strs(inc.Entities), "formats": strs(formats),
	}}
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
