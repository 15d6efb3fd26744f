package celexpr

import (
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestAlertExpressions(t *testing.T) {
	a := &socbot.Alert{Title: "EICAR test file", RuleName: "AV detection", Format: "defender", Severity: socbot.SeverityLow, SeverityScore: 30,
		Techniques: []string{"T1204"}}
	a.AddObservable(socbot.ObsHost, "scanner-01", socbot.AsTarget)
	a.AddObservable(socbot.ObsIP, "10.0.0.5", socbot.AsSource)
	tests := []struct {
		expr string
		want bool
	}{
		{`"scanner-01" in alert.hosts`, true},
		{`alert.title.contains("EICAR") && alert.severity == "low"`, true},
		{`alert.severity_score >= 50`, false},
		{`"10.0.0.5" in alert.src_ips && !("10.0.0.5" in alert.dst_ips)`, true},
		{`alert.observables.exists(o, o.type == "host" && o.value.startsWith("scanner"))`, true},
		{`"T1204" in alert.techniques && alert.format == "defender"`, true},
		{`alert.users.size() > 0`, false},
	}
	for _, tc := range tests {
		p, err := CompileAlert(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		got, err := p.Match(AlertVars(a))
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got != tc.want {
			t.Errorf("%s = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, expr := range []string{``, `alert.title +`, `alert.severity_score + 1`, `"x"`, `incident.priority == "P1"`} {
		_, err := CompileAlert(expr)
		if err == nil {
			t.Errorf("%q compiled", expr)
			continue
		}
		if socbot.ErrorField(err) != "expression" {
			t.Errorf("%q: error does not name the expression field: %v", expr, err)
		}
	}
}

func TestRuntimeErrorDoesNotMatch(t *testing.T) {
	p, err := CompileAlert(`alert.nonexistent == "x"`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := p.Match(AlertVars(&socbot.Alert{}))
	if ok || err == nil {
		t.Fatalf("missing field: got %v, %v; want false and an error", ok, err)
	}
}

func TestIncidentExpressions(t *testing.T) {
	inc := &socbot.Incident{TenantID: "t", Priority: socbot.P1, Category: "malware", Tactics: []string{"TA0040"}}
	p, err := CompileIncident(`incident.priority == "P1" && incident.category == "malware" && incident.tenant == "acme"`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := p.Match(IncidentVars(inc, "acme", []string{"crowdstrike"}))
	if err != nil || !ok {
		t.Fatalf("got %v %v", ok, err)
	}
}

func TestCostLimit(t *testing.T) {
	p, err := CompileAlert(`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Match(AlertVars(&socbot.Alert{})); err == nil {
		t.Fatal("an expensive expression ran past the cost limit")
	}
}
