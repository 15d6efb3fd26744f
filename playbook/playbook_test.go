package playbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestParseErrors(t *testing.T) {
	head := "name: pb\nversion: 1\ntrigger: 'true'\nsteps:\n"
	tests := []struct {
		name, doc string
		field     string // want socbot.ErrorField
		msg       string // and this in the message
	}{
		{"ok", head + "  - id: a\n    notify: {message: hi}\n", "", ""},
		{"not yaml", "name: [", "", "YAML"},
		{"unknown top field", head + "  - id: a\n    notify: {message: hi}\nextra: 1\n", "", "field extra not found"},
		{"unknown step field", head + "  - id: a\n    notfy: {message: hi}\n", "", "field notfy not found"},
		{"bad name", "name: Bad Name\nversion: 1\ntrigger: 'true'\nsteps: [{id: a, notify: {message: x}}]\n", "name", "must be"},
		{"no version", "name: pb\ntrigger: 'true'\nsteps: [{id: a, notify: {message: x}}]\n", "version", "positive"},
		{"no trigger", "name: pb\nversion: 1\nsteps: [{id: a, notify: {message: x}}]\n", "trigger", "required"},
		{"bad trigger", "name: pb\nversion: 1\ntrigger: 'incident.confidence >'\nsteps: [{id: a, notify: {message: x}}]\n", "trigger", "CEL"},
		{"trigger not bool", "name: pb\nversion: 1\ntrigger: 'incident.confidence + 1'\nsteps: [{id: a, notify: {message: x}}]\n", "trigger", "must be bool"},
		{"no steps", "name: pb\nversion: 1\ntrigger: 'true'\nsteps: []\n", "steps", "at least one"},
		{"missing id", head + "  - notify: {message: hi}\n", "steps[0].id", "step 1 at line 5"},
		{"dup id", head + "  - id: a\n    notify: {message: hi}\n  - id: a\n    notify: {message: hi}\n", "steps[1].id", "duplicate"},
		{"two actions", head + "  - id: a\n    notify: {message: hi}\n    wait: {for: 1m}\n", "steps[0].enrich|contain|notify|approval|wait|branch", "found 2"},
		{"no action", head + "  - id: a\n", "steps[0].enrich|contain|notify|approval|wait|branch", "found 0"},
		{"bad action", head + "  - id: blk\n    contain: {action: blok_ip, values: '[]'}\n", "steps[0].contain.action", `step 1 (blk) at line 5: unknown action "blok_ip"`},
		{"no values", head + "  - id: blk\n    contain: {action: block_ip}\n", "steps[0].contain.values", "required"},
		{"values not list", head + "  - id: blk\n    contain: {action: block_ip, values: 'incident.title == \"x\"'}\n", "steps[0].contain.values", "must be list"},
		{"bad ttl", head + "  - id: blk\n    contain: {action: block_ip, values: '[]', ttl: forever}\n", "steps[0].contain.ttl", "bad duration"},
		{"bad guard", head + "  - id: a\n    if: 'nope('\n    notify: {message: hi}\n", "steps[0].if", "CEL"},
		{"bad template", head + "  - id: a\n    notify: {message: 'x {{ incident. }}'}\n", "steps[0].notify.message", "in {{"},
		{"unclosed template", head + "  - id: a\n    notify: {message: 'x {{ incident.id'}\n", "steps[0].notify.message", "unclosed"},
		{"approvers", head + "  - id: a\n    approval: {approvers: 0}\n", "steps[0].approval.approvers", "1 to 5"},
		{"wait", head + "  - id: a\n    wait: {for: 30d}\n", "steps[0].wait.for", "bad duration"},
		{"branch unknown", head + "  - id: a\n    branch: {if: 'true', then: zz}\n", "steps[0].branch.then", `unknown step "zz"`},
		{"branch backwards", head + "  - id: a\n    notify: {message: hi}\n  - id: b\n    branch: {if: 'true', then: a}\n", "steps[1].branch.then", "only jump forward"},
		{"branch no target", head + "  - id: a\n    branch: {if: 'true'}\n", "steps[0].branch.then", "then or else"},
		{"reserved id", head + "  - id: end\n    notify: {message: hi}\n", "steps[0].id", "reserved"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !socbot.IsKind(err, socbot.KindInvalid) {
				t.Errorf("kind %v", socbot.ErrorKind(err))
			}
			if got := socbot.ErrorField(err); got != tc.field {
				t.Errorf("field %q, want %q (%v)", got, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q lacks %q", err, tc.msg)
			}
		})
	}
}

func TestDefaultLibrary(t *testing.T) {
	pbs, err := Defaults()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pbs {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "c2-address,compromised-account,phishing-sender,ransomware-host" {
		t.Fatalf("library: %s", got)
	}
}

func TestLibraryVersions(t *testing.T) {
	l := NewLibrary()
	mk := func(v int, trigger string) *Playbook {
		p, err := Parse([]byte("name: x\nversion: " + string(rune('0'+v)) + "\ntrigger: '" + trigger + "'\nsteps: [{id: a, notify: {message: hi}}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := l.Add("", mk(1, "true")); err != nil {
		t.Fatal(err)
	}
	if err := l.Add("acme", mk(2, "false")); err != nil {
		t.Fatal(err)
	}
	if err := l.Add("acme", mk(2, "false")); !socbot.IsKind(err, socbot.KindConflict) {
		t.Fatalf("same version twice: %v", err)
	}
	if got := l.For("acme"); len(got) != 1 || got[0].Version != 2 {
		t.Fatalf("acme sees %+v", got)
	}
	if got := l.For("globex"); len(got) != 1 || got[0].Version != 1 {
		t.Fatalf("globex sees %+v", got)
	}
	if p, ok := l.Version("acme", "x", 1); !ok || p.Version != 1 {
		t.Fatal("old version lost")
	}
}

func corpusSeeds(f interface{ Add(...any) }) {
	for _, dir := range []string{"library", "testdata"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, fn := range files {
			if b, err := os.ReadFile(fn); err == nil {
				f.Add(b)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	corpusSeeds(f)
	f.Add([]byte("name: a\nversion: 1\ntrigger: 'true'\nsteps: [{id: b, branch: {if: 'true', then: end}}]"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if socbot.ErrorKind(err) != socbot.KindInvalid && socbot.ErrorKind(err) != socbot.KindTooLarge {
				t.Fatalf("error of kind %v: %v", socbot.ErrorKind(err), err)
			}
			return
		}
		if p.Name == "" || p.Version < 1 || len(p.Steps) == 0 || p.trigger == nil {
			t.Fatalf("accepted an incomplete playbook: %+v", p)
		}
		for i, s := range p.Steps {
			if s.Kind() == "" {
				t.Fatalf("step %d has no action", i)
			}
		}
	})
}
