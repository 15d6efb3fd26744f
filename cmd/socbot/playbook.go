package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/playbook"
)

func init() {
	register("playbook", "Check containment playbooks and show what they would do for an incident.", &playbookCmd{})
}

type playbookCmd struct {
	Test playbookTestCmd `cmd:"" help:"Dry run: show what a playbook (or the default library) would do for an incident, changing nothing."`
	Lint playbookLintCmd `cmd:"" help:"Parse and validate playbook files; errors name the step and field."`
	List playbookListCmd `cmd:"" help:"List the default playbook library."`
	Show playbookShowCmd `cmd:"" help:"Print a default playbook's YAML."`
}

type playbookTestCmd struct {
	File            []string `arg:"" optional:"" type:"existingfile" help:"Playbook YAML files (default: the embedded default library)."`
	Incident        string   `required:"" help:"The incident: a JSON file, or inline JSON, with the incident's fields and an \"alerts\" list." placeholder:"JSON"`
	ConnectorConfig string   `name:"connector-config" type:"existingfile" help:"YAML list of connector configurations: contain steps then show each connector's exact planned change." placeholder:"FILE"`
	JSON            bool     `help:"Print the runs as JSON."`
}

type playbookLintCmd struct {
	File []string `arg:"" type:"existingfile" help:"Playbook YAML files."`
}

type playbookListCmd struct{}

type playbookShowCmd struct {
	Name string `arg:"" help:"Name of a default playbook (see 'socbot playbook list')."`
}

// incidentDoc is the JSON form `playbook test` reads: an incident with its alerts.
type incidentDoc struct {
	socbot.Incident
	Priority string     `json:"priority"`
	Alerts   []alertDoc `json:"alerts"`
}

type alertDoc struct {
	socbot.Alert
	Severity string `json:"severity"`
}

func readIncident(arg string) (socbot.Incident, []socbot.Alert, error) {
	const op = "playbook.test"
	b := []byte(arg)
	if !strings.HasPrefix(strings.TrimSpace(arg), "{") {
		var err error
		if b, err = os.ReadFile(arg); err != nil {
			return socbot.Incident{}, nil, socbot.E(op, socbot.KindNotFound, err)
		}
	}
	var d incidentDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return socbot.Incident{}, nil, socbot.FieldError(op, "incident", "not an incident JSON object: %v", err)
	}
	inc := d.Incident
	if d.Priority != "" {
		p, ok := socbot.ParsePriority(d.Priority)
		if !ok {
			return inc, nil, socbot.FieldError(op, "incident.priority", "%q is not P1..P4", d.Priority)
		}
		inc.Priority = p
	}
	if inc.TenantID == "" {
		inc.TenantID = "default"
	}
	if inc.Status == "" {
		inc.Status = socbot.StatusNew
	}
	var alerts []socbot.Alert
	for _, a := range d.Alerts {
		al := a.Alert
		if s, ok := socbot.ParseSeverity(a.Severity); ok {
			al.Severity = s
		}
		alerts = append(alerts, al)
	}
	inc.AlertCount = max(inc.AlertCount, len(alerts))
	return inc, alerts, nil
}

func loadPlaybooks(files []string) ([]*playbook.Playbook, error) {
	if len(files) == 0 {
		return playbook.Defaults()
	}
	var out []*playbook.Playbook
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, socbot.E("playbook", socbot.KindNotFound, err)
		}
		p, err := playbook.Parse(b)
		if err != nil {
			return nil, socbot.E("playbook", f, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (c *playbookTestCmd) Run(g *Globals) error {
	ctx := context.Background()
	pbs, err := loadPlaybooks(c.File)
	if err != nil {
		return err
	}
	inc, alerts, err := readIncident(c.Incident)
	if err != nil {
		return err
	}
	lib := playbook.NewLibrary()
	for _, p := range pbs {
		if err := lib.Add("", p); err != nil {
			return err
		}
	}
	cfg := playbook.Config{Library: lib, Log: g.Logger()}
	if c.ConnectorConfig != "" {
		cfgs, err := loadConnectorConfigs(c.ConnectorConfig)
		if err != nil {
			return err
		}
		conns := containment.NewConnectors(nil, nil, nil)
		for _, cc := range cfgs {
			cc.TenantID = inc.TenantID
			conn, err := socbot.NewConnector(cc)
			if err != nil {
				return socbot.E("playbook.test", "connector "+cc.ID, err)
			}
			conns.Add(inc.TenantID, cc.ID, conn)
		}
		cfg.Containment = containment.New(containment.Config{Store: containment.NewMemStore(), Resolver: conns, Log: g.Logger()})
	}
	runs, err := playbook.NewEngine(cfg).Start(ctx, inc, alerts, true)
	if err != nil {
		return err
	}
	if c.JSON {
		type out struct {
			Playbook string             `json:"playbook"`
			Version  int                `json:"version"`
			State    string             `json:"state"`
			Steps    []playbook.Outcome `json:"steps"`
		}
		var o []out
		for _, r := range runs {
			o = append(o, out{r.Playbook, r.Version, r.State, r.Outcomes})
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(o)
	}
	matched := map[string]bool{}
	for _, r := range runs {
		matched[r.Playbook] = true
	}
	fmt.Printf("incident %d (%s, %s, confidence %d) with %d alert(s), tenant %s: DRY RUN, nothing is changed\n",
		inc.Number, inc.Title, inc.Priority, inc.Confidence, len(alerts), inc.TenantID)
	for _, p := range pbs {
		if !matched[p.Name] {
			fmt.Printf("\n%s v%d: trigger not met\n", p.Name, p.Version)
		}
	}
	for _, r := range runs {
		fmt.Printf("\n%s v%d: trigger met\n", r.Playbook, r.Version)
		for i, o := range r.Outcomes {
			fmt.Printf("  %d. %-20s %-8s %-8s %s\n", i+1, o.Step, o.Kind, o.Status, o.Text)
		}
	}
	return nil
}

func (c *playbookLintCmd) Run() error {
	bad := 0
	for _, f := range c.File {
		b, err := os.ReadFile(f)
		if err == nil {
			var p *playbook.Playbook
			if p, err = playbook.Parse(b); err == nil {
				fmt.Printf("%s: ok: %s v%d, %d step(s)\n", f, p.Name, p.Version, len(p.Steps))
				continue
			}
		}
		bad++
		fmt.Printf("%s: %v\n", f, err)
	}
	if bad > 0 {
		return socbot.E("playbook.lint", socbot.KindInvalid, fmt.Sprintf("%d of %d file(s) invalid", bad, len(c.File)))
	}
	return nil
}

func (c *playbookListCmd) Run() error {
	pbs, err := playbook.Defaults()
	if err != nil {
		return err
	}
	for _, p := range pbs {
		fmt.Printf("%-22s v%d  %s\n", p.Name, p.Version, strings.TrimSpace(strings.ReplaceAll(p.Description, "\n", " ")))
	}
	return nil
}

func (c *playbookShowCmd) Run() error {
	b, err := playbook.DefaultSource(c.Name)
	if err != nil {
		return socbot.E("playbook.show", socbot.KindNotFound, "no default playbook "+c.Name)
	}
	_, err = os.Stdout.Write(b)
	return err
}
