package playbook

import (
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	socbot "github.com/socbot/socbot"
)

// The CEL environment of playbooks. Variables:
//
//	incident     map: id, number, tenant_id, title, priority ("P1".."P4"), status, category, queue,
//	             confidence, alert_count, entities, tactics, techniques
//	alerts       list of maps: uid, title, category, severity, severity_score, confidence, rule_name,
//	             format, vendor, product, tactics, techniques, observables
//	observables  list of maps over every alert: type, value, role, malicious, suspicious, benign,
//	             crown_jewel, criticality, score (from enrichment)
//	steps        map step id -> outcome map: status, kind, count, ... (steps run so far)
//	tenant       string
var playEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("incident", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("alerts", cel.ListType(cel.DynType)),
		cel.Variable("observables", cel.ListType(cel.DynType)),
		cel.Variable("steps", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("tenant", cel.StringType),
	)
})

func compileCEL(expr string, want *cel.Type) (cel.Program, error) {
	env, err := playEnv()
	if err != nil {
		return nil, err
	}
	if len(expr) > 4096 {
		return nil, fmt.Errorf("expression longer than 4096 characters")
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("CEL: %s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	out := ast.OutputType()
	if want != nil && !out.IsAssignableType(want) && out != cel.DynType {
		return nil, fmt.Errorf("CEL: must be %s, is %s", want, out)
	}
	return env.Program(ast, cel.CostLimit(100000))
}

func evalBool(p cel.Program, vars map[string]any) (bool, error) {
	out, _, err := p.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition gave %v, not a bool", out.Type())
	}
	return b, nil
}

func evalStrings(p cel.Program, vars map[string]any) ([]string, error) {
	out, _, err := p.Eval(vars)
	if err != nil {
		return nil, err
	}
	native, err := out.ConvertToNative(anySliceType)
	if err != nil {
		return nil, fmt.Errorf("values gave %v, not a list", out.Type())
	}
	var res []string
	seen := map[string]bool{}
	for _, v := range native.([]any) {
		s := ""
		switch x := v.(type) {
		case string:
			s = x
		case ref.Val:
			s = fmt.Sprint(x.Value())
		case map[string]any:
			s, _ = x["value"].(string)
		default:
			s = fmt.Sprint(x)
		}
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			res = append(res, s)
		}
	}
	return res, nil
}

// segment is literal text or a {{ CEL }} expression of a message template.
type segment struct {
	text string
	prog cel.Program
}

func compileTemplate(s string) ([]segment, error) {
	var out []segment
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			out = append(out, segment{text: s})
			break
		}
		if i > 0 {
			out = append(out, segment{text: s[:i]})
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ at offset %d", i)
		}
		expr := strings.TrimSpace(s[i+2 : i+j])
		if expr == "" {
			return nil, fmt.Errorf("empty {{ }} at offset %d", i)
		}
		p, err := compileCEL(expr, nil)
		if err != nil {
			return nil, fmt.Errorf("in {{ %s }}: %v", expr, err)
		}
		out = append(out, segment{prog: p})
		s = s[i+j+2:]
	}
	return out, nil
}

func render(segs []segment, vars map[string]any) string {
	var b strings.Builder
	for _, s := range segs {
		if s.prog == nil {
			b.WriteString(s.text)
			continue
		}
		out, _, err := s.prog.Eval(vars)
		if err != nil {
			b.WriteString("<" + err.Error() + ">")
			continue
		}
		if out.Type() == types.ListType {
			native, err := out.ConvertToNative(anySliceType)
			if err == nil {
				var parts []string
				for _, v := range native.([]any) {
					parts = append(parts, fmt.Sprint(v))
				}
				b.WriteString(strings.Join(parts, ", "))
				continue
			}
		}
		b.WriteString(fmt.Sprint(out.Value()))
	}
	return b.String()
}

// Vars builds the CEL variables of an incident and its alerts.
func Vars(inc socbot.Incident, alerts []socbot.Alert, extra []socbot.Enrichment) map[string]any {
	strs := func(ss []string) []any {
		out := make([]any, len(ss))
		for i, s := range ss {
			out[i] = s
		}
		return out
	}
	incident := map[string]any{
		"id": inc.ID, "number": inc.Number, "tenant_id": inc.TenantID, "title": inc.Title, "priority": inc.Priority.String(),
		"status": inc.Status, "category": inc.Category, "queue": inc.Queue, "confidence": int64(inc.Confidence),
		"alert_count": int64(inc.AlertCount), "entities": strs(inc.Entities), "tactics": strs(inc.Tactics), "techniques": strs(inc.Techniques),
	}
	type obsInfo struct {
		m     map[string]any
		order int
	}
	obs := map[string]*obsInfo{}
	var order []string
	enrich := func(e socbot.Enrichment) {
		o := obs[e.Observable]
		if o == nil {
			return
		}
		switch e.Verdict {
		case socbot.VerdictMalicious:
			o.m["malicious"] = true
		case socbot.VerdictSuspicious:
			o.m["suspicious"] = true
		case socbot.VerdictBenign:
			o.m["benign"] = true
		}
		if e.CrownJewel {
			o.m["crown_jewel"] = true
		}
		if e.Criticality != "" {
			o.m["criticality"] = e.Criticality
		}
		if int64(e.Score) > o.m["score"].(int64) {
			o.m["score"] = int64(e.Score)
		}
	}
	var alertList []any
	for _, a := range alerts {
		var aobs []any
		for _, o := range a.Observables {
			if obs[o.Key()] == nil {
				obs[o.Key()] = &obsInfo{m: map[string]any{"type": string(o.Type), "value": o.Value, "role": string(o.Role),
					"malicious": false, "suspicious": false, "benign": false, "crown_jewel": false, "criticality": "", "score": int64(0)}, order: len(order)}
				order = append(order, o.Key())
			}
			aobs = append(aobs, map[string]any{"type": string(o.Type), "value": o.Value, "role": string(o.Role)})
		}
		alertList = append(alertList, map[string]any{
			"uid": a.UID, "title": a.Title, "category": a.Category, "severity": a.Severity.String(), "severity_score": int64(a.SeverityScore),
			"confidence": int64(a.Confidence), "rule_name": a.RuleName, "format": a.Format, "vendor": a.Vendor, "product": a.Product,
			"tactics": strs(a.Tactics), "techniques": strs(a.Techniques), "observables": aobs,
		})
	}
	for _, a := range alerts {
		for _, e := range a.Enrichment {
			enrich(e)
		}
	}
	for _, e := range extra {
		enrich(e)
	}
	observables := make([]any, len(order))
	for i, k := range order {
		observables[i] = obs[k].m
	}
	if alertList == nil {
		alertList = []any{}
	}
	return map[string]any{"incident": incident, "alerts": alertList, "observables": observables,
		"steps": map[string]any{}, "tenant": inc.TenantID}
}
