// Package playbook runs declarative containment playbooks: YAML documents, per tenant and versioned,
// with a trigger (a CEL condition over the incident and its alerts) and steps (enrich, contain,
// notify, approval, wait, branch) whose outcomes are written to the incident's timeline. A small
// library of default playbooks is embedded (phishing sender, C2 address, compromised account,
// ransomware host). `socbot playbook test` runs a playbook as a dry run against an incident.
package playbook

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	socbot "github.com/socbot/socbot"
	"gopkg.in/yaml.v3"
)

// Playbook is one version of a playbook.
type Playbook struct {
	Name        string `yaml:"name" json:"name"`
	Version     int    `yaml:"version" json:"version"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	Tenant      string `yaml:"tenant,omitempty" json:"tenant,omitempty"` // empty: a library playbook for every tenant
	Disabled    bool   `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	Trigger     string `yaml:"trigger" json:"trigger"` // CEL, bool
	Steps       []Step `yaml:"steps" json:"steps"`

	trigger cel.Program
	index   map[string]int // step id -> position
	src     []byte         // the document it was parsed from
}

// Source returns the YAML document the playbook was parsed from.
func (p *Playbook) Source() []byte { return p.src }

// Step is one step; exactly one of the action fields is set.
type Step struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	If   string `yaml:"if,omitempty" json:"if,omitempty"` // CEL guard: the step is skipped when false

	Enrich   *EnrichStep   `yaml:"enrich,omitempty" json:"enrich,omitempty"`
	Contain  *ContainStep  `yaml:"contain,omitempty" json:"contain,omitempty"`
	Notify   *NotifyStep   `yaml:"notify,omitempty" json:"notify,omitempty"`
	Approval *ApprovalStep `yaml:"approval,omitempty" json:"approval,omitempty"`
	Wait     *WaitStep     `yaml:"wait,omitempty" json:"wait,omitempty"`
	Branch   *BranchStep   `yaml:"branch,omitempty" json:"branch,omitempty"`

	line   int
	guard  cel.Program
	values cel.Program
	cond   cel.Program
	tmpl   []segment
	subj   []segment
	ttl    time.Duration
	wait   time.Duration
}

// EnrichStep looks the incident's observables up again (assets, intel, vulnerabilities).
type EnrichStep struct {
	Observables string `yaml:"observables,omitempty" json:"observables,omitempty"` // CEL list of observables; default all
}

// ContainStep requests a containment action for each value on the tenant's connectors.
type ContainStep struct {
	Action     string   `yaml:"action" json:"action"` // block_ip, block_domain, block_url, block_sender, purge_message, disable_user, isolate_host
	Values     string   `yaml:"values" json:"values"` // CEL list of strings
	Connectors []string `yaml:"connectors,omitempty" json:"connectors,omitempty"`
	TTL        string   `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	Reason     string   `yaml:"reason,omitempty" json:"reason,omitempty"`
	MaxValues  int      `yaml:"max_values,omitempty" json:"max_values,omitempty"` // refuse more than this many values (default 20)
}

// NotifyStep tells people. Subject and message may hold {{ CEL }} expressions.
type NotifyStep struct {
	Channel string `yaml:"channel,omitempty" json:"channel,omitempty"` // a channel name of the tenant; default "soc"
	Subject string `yaml:"subject,omitempty" json:"subject,omitempty"`
	Message string `yaml:"message" json:"message"`
}

// ApprovalStep makes every later contain step of the run need at least Approvers distinct
// approvers, whatever the tenant's policy says (the policy may still ask for more).
type ApprovalStep struct {
	Approvers int    `yaml:"approvers" json:"approvers"`
	Reason    string `yaml:"reason,omitempty" json:"reason,omitempty"`
}

// WaitStep pauses the run.
type WaitStep struct {
	For string `yaml:"for" json:"for"` // duration: 30s, 15m, 1h
}

// BranchStep jumps forward: to Then when If holds, else to Else (or the next step). "end" ends the run.
type BranchStep struct {
	If   string `yaml:"if" json:"if"`
	Then string `yaml:"then,omitempty" json:"then,omitempty"`
	Else string `yaml:"else,omitempty" json:"else,omitempty"`
}

// Kind names the step's action.
func (s Step) Kind() string {
	switch {
	case s.Enrich != nil:
		return "enrich"
	case s.Contain != nil:
		return "contain"
	case s.Notify != nil:
		return "notify"
	case s.Approval != nil:
		return "approval"
	case s.Wait != nil:
		return "wait"
	case s.Branch != nil:
		return "branch"
	}
	return ""
}

// Ref is how the step is named in run records and action ledgers: "<playbook>@v<version>/<step>".
func (p *Playbook) Ref(step string) string { return fmt.Sprintf("%s@v%d/%s", p.Name, p.Version, step) }

var containActions = map[string]socbot.ActionKind{
	"block_ip": socbot.ActBlockIP, "block_domain": socbot.ActBlockDomain, "block_url": socbot.ActBlockURL,
	"block_sender": socbot.ActBlockSender, "purge_message": socbot.ActPurgeMessage, "disable_user": socbot.ActDisableUser,
	"isolate_host": socbot.ActIsolateHost,
}

// ParseError is a parse or validation failure: the playbook, the step and the field it is about.
func perr(pb, step, field, format string, args ...any) error {
	where := "playbook"
	if pb != "" {
		where = fmt.Sprintf("playbook %q", pb)
	}
	if step != "" {
		where += ": " + step
	}
	return socbot.FieldError("playbook.Parse", field, "%s: %s", where, fmt.Sprintf(format, args...))
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// MaxSize is the largest playbook document accepted.
const MaxSize = 256 << 10

// Parse reads and validates one playbook document. Errors name the playbook, the step (its id,
// position and line) and the field.
func Parse(data []byte) (*Playbook, error) {
	if len(data) > MaxSize {
		return nil, socbot.E("playbook.Parse", socbot.KindTooLarge, fmt.Sprintf("playbook is %d bytes, max %d", len(data), MaxSize))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, socbot.E("playbook.Parse", socbot.KindInvalid, "YAML: "+err.Error())
	}
	if len(root.Content) == 0 {
		return nil, perr("", "", "name", "empty document")
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, perr("", "", "", "line %d: a playbook is a mapping with name, version, trigger and steps", doc.Line)
	}
	var p Playbook
	if err := decodeStrict(data, &p); err != nil {
		return nil, err
	}
	// Step lines, for messages.
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "steps" && doc.Content[i+1].Kind == yaml.SequenceNode {
			for j, n := range doc.Content[i+1].Content {
				if j < len(p.Steps) {
					p.Steps[j].line = n.Line
				}
			}
		}
	}
	if err := p.compile(); err != nil {
		return nil, err
	}
	p.src = append([]byte(nil), data...)
	return &p, nil
}

// decodeStrict decodes the document with unknown fields refused; messages keep the line numbers.
func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return socbot.E("playbook.Parse", socbot.KindInvalid, msg)
	}
	return nil
}

func (p *Playbook) compile() error {
	if !validID(p.Name) {
		return perr(p.Name, "", "name", "must be 1-64 characters of a-z, 0-9, '-' and '_', got %q", p.Name)
	}
	if p.Version < 1 {
		return perr(p.Name, "", "version", "must be a positive integer, got %d", p.Version)
	}
	if strings.TrimSpace(p.Trigger) == "" {
		return perr(p.Name, "", "trigger", "required: a CEL condition over incident, alerts and observables")
	}
	var err error
	if p.trigger, err = compileCEL(p.Trigger, cel.BoolType); err != nil {
		return perr(p.Name, "", "trigger", "%v", err)
	}
	if len(p.Steps) == 0 {
		return perr(p.Name, "", "steps", "a playbook needs at least one step")
	}
	if len(p.Steps) > 100 {
		return perr(p.Name, "", "steps", "at most 100 steps, got %d", len(p.Steps))
	}
	p.index = map[string]int{}
	for i := range p.Steps {
		s := &p.Steps[i]
		where := fmt.Sprintf("step %d", i+1)
		if s.ID != "" {
			where = fmt.Sprintf("step %d (%s)", i+1, s.ID)
		}
		if s.line > 0 {
			where += fmt.Sprintf(" at line %d", s.line)
		}
		field := func(f string) string { return fmt.Sprintf("steps[%d].%s", i, f) }
		if !validID(s.ID) {
			return perr(p.Name, where, field("id"), "must be 1-64 characters of a-z, 0-9, '-' and '_', got %q", s.ID)
		}
		if s.ID == "end" {
			return perr(p.Name, where, field("id"), `"end" is reserved for branch targets`)
		}
		if _, dup := p.index[s.ID]; dup {
			return perr(p.Name, where, field("id"), "duplicate step id %q", s.ID)
		}
		p.index[s.ID] = i
		n := 0
		for _, set := range []bool{s.Enrich != nil, s.Contain != nil, s.Notify != nil, s.Approval != nil, s.Wait != nil, s.Branch != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return perr(p.Name, where, field("enrich|contain|notify|approval|wait|branch"), "a step has exactly one action, found %d", n)
		}
		if s.If != "" {
			if s.guard, err = compileCEL(s.If, cel.BoolType); err != nil {
				return perr(p.Name, where, field("if"), "%v", err)
			}
		}
		switch {
		case s.Enrich != nil:
			if s.Enrich.Observables != "" {
				if s.values, err = compileCEL(s.Enrich.Observables, cel.ListType(cel.DynType)); err != nil {
					return perr(p.Name, where, field("enrich.observables"), "%v", err)
				}
			}
		case s.Contain != nil:
			c := s.Contain
			if _, ok := containActions[c.Action]; !ok {
				return perr(p.Name, where, field("contain.action"), "unknown action %q (one of block_ip, block_domain, block_url, block_sender, purge_message, disable_user, isolate_host)", c.Action)
			}
			if strings.TrimSpace(c.Values) == "" {
				return perr(p.Name, where, field("contain.values"), "required: a CEL list of strings")
			}
			if s.values, err = compileCEL(c.Values, cel.ListType(cel.DynType)); err != nil {
				return perr(p.Name, where, field("contain.values"), "%v", err)
			}
			if c.TTL != "" {
				if s.ttl, err = socbot.ParseDuration(c.TTL); err != nil || s.ttl <= 0 {
					return perr(p.Name, where, field("contain.ttl"), "bad duration %q", c.TTL)
				}
			}
			if c.MaxValues < 0 || c.MaxValues > 1000 {
				return perr(p.Name, where, field("contain.max_values"), "must be 0 to 1000")
			}
			for j, id := range c.Connectors {
				if id == "" {
					return perr(p.Name, where, field(fmt.Sprintf("contain.connectors[%d]", j)), "empty connector id")
				}
			}
		case s.Notify != nil:
			if strings.TrimSpace(s.Notify.Message) == "" {
				return perr(p.Name, where, field("notify.message"), "required")
			}
			if s.tmpl, err = compileTemplate(s.Notify.Message); err != nil {
				return perr(p.Name, where, field("notify.message"), "%v", err)
			}
			if s.subj, err = compileTemplate(s.Notify.Subject); err != nil {
				return perr(p.Name, where, field("notify.subject"), "%v", err)
			}
		case s.Approval != nil:
			if s.Approval.Approvers < 1 || s.Approval.Approvers > 5 {
				return perr(p.Name, where, field("approval.approvers"), "must be 1 to 5, got %d", s.Approval.Approvers)
			}
		case s.Wait != nil:
			if s.wait, err = socbot.ParseDuration(s.Wait.For); err != nil || s.wait <= 0 || s.wait > 7*24*time.Hour {
				return perr(p.Name, where, field("wait.for"), "bad duration %q (1s to 7d)", s.Wait.For)
			}
		case s.Branch != nil:
			if strings.TrimSpace(s.Branch.If) == "" {
				return perr(p.Name, where, field("branch.if"), "required: a CEL condition")
			}
			if s.cond, err = compileCEL(s.Branch.If, cel.BoolType); err != nil {
				return perr(p.Name, where, field("branch.if"), "%v", err)
			}
			if s.Branch.Then == "" && s.Branch.Else == "" {
				return perr(p.Name, where, field("branch.then"), "a branch needs then or else")
			}
		}
	}
	// Branch targets must exist and lie ahead, so every run ends.
	for i, s := range p.Steps {
		if s.Branch == nil {
			continue
		}
		for _, t := range []struct{ f, v string }{{"then", s.Branch.Then}, {"else", s.Branch.Else}} {
			if t.v == "" || t.v == "end" {
				continue
			}
			j, ok := p.index[t.v]
			where := fmt.Sprintf("step %d (%s) at line %d", i+1, s.ID, s.line)
			if !ok {
				return perr(p.Name, where, fmt.Sprintf("steps[%d].branch.%s", i, t.f), "unknown step %q", t.v)
			}
			if j <= i {
				return perr(p.Name, where, fmt.Sprintf("steps[%d].branch.%s", i, t.f), "step %q is not after this one (branches only jump forward)", t.v)
			}
		}
	}
	return nil
}
