package containment

import (
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestRails(t *testing.T) {
	r := DefaultRails("198.51.100.10")
	r.SetTenant("acme", TenantRails{NeverBlock: []string{"vpn.acme.example", "203.0.113.200", "ceo@acme.example", "dc01"}, MaxPerHour: 5})
	r.SetTenant("lab", TenantRails{AllowPrivate: true})
	tests := []struct {
		tenant string
		kind   socbot.ActionKind
		value  string
		count  int
		rule   string // "" = allowed
	}{
		{"acme", socbot.ActBlockIP, "203.0.113.7", 0, ""},
		{"acme", socbot.ActBlockIP, "203.0.113.0/24", 0, "never-block"}, // covers a tenant never-block address
		{"acme", socbot.ActBlockIP, "203.0.113.200", 0, "never-block"},
		{"other", socbot.ActBlockIP, "203.0.113.200", 0, ""},           // another tenant's list does not apply
		{"acme", socbot.ActBlockIP, "198.51.100.10", 0, "never-block"}, // MSSP egress
		{"acme", socbot.ActBlockIP, "8.8.8.8", 0, "never-block"},       // resolver
		{"acme", socbot.ActBlockIP, "2606:4700:4700::1111", 0, "never-block"},
		{"acme", socbot.ActBlockIP, "10.1.2.3", 0, "private-range"},
		{"acme", socbot.ActBlockIP, "192.168.0.0/24", 0, "private-range"},
		{"acme", socbot.ActBlockIP, "fd00::1", 0, "private-range"},
		{"lab", socbot.ActBlockIP, "10.1.2.3", 0, ""},
		{"lab", socbot.ActBlockIP, "127.0.0.1", 0, "private-range"}, // loopback never
		{"acme", socbot.ActBlockIP, "0.0.0.0/0", 0, "everything"},
		{"acme", socbot.ActBlockIP, "1.0.0.0/8", 0, "too-broad"},
		{"acme", socbot.ActBlockIP, "2001:db8::/16", 0, "too-broad"},
		{"acme", socbot.ActBlockIP, "not-an-ip", 0, "invalid"},
		{"acme", socbot.ActBlockIP, "203.0.113.9", 5, "blast-radius"},
		{"acme", socbot.ActUnblockIP, "203.0.113.9", 500, ""}, // undoing is never limited
		{"acme", socbot.ActBlockDomain, "evil.example", 0, ""},
		{"acme", socbot.ActBlockDomain, "login.microsoftonline.com", 0, "never-block"},
		{"acme", socbot.ActBlockDomain, "microsoftonline.com", 0, "never-block"},
		{"acme", socbot.ActBlockDomain, "x.vpn.acme.example", 0, "never-block"},
		{"acme", socbot.ActBlockDomain, "acme.example", 0, "never-block"}, // parent of a protected name
		{"acme", socbot.ActBlockDomain, "com", 0, "everything"},
		{"acme", socbot.ActBlockDomain, "co.uk", 0, "everything"},
		{"acme", socbot.ActBlockDomain, "*", 0, "everything"},
		{"acme", socbot.ActBlockDomain, "*.evil.example", 0, ""},
		{"acme", socbot.ActBlockURL, "https://docs.google.com/document/d/evil", 0, ""},
		{"acme", socbot.ActBlockURL, "https://google.com/", 0, "never-block"},
		{"acme", socbot.ActBlockURL, "evil.example/payload.exe", 0, ""},
		{"acme", socbot.ActBlockURL, "https://*/x", 0, "everything"},
		{"acme", socbot.ActBlockSender, "phish@evil.example", 0, ""},
		{"acme", socbot.ActBlockSender, "attacker@gmail.com", 0, ""},
		{"acme", socbot.ActBlockSender, "gmail.com", 0, "never-block"},
		{"acme", socbot.ActBlockSender, "ceo@acme.example", 0, "never-block"},
		{"acme", socbot.ActBlockSender, "*@*", 0, "everything"},
		{"acme", socbot.ActDisableUser, "jdoe@acme.example", 0, ""},
		{"acme", socbot.ActDisableUser, "*", 0, "everything"},
		{"acme", socbot.ActIsolateHost, "dc01", 0, "never-block"},
		{"acme", socbot.ActIsolateHost, "", 0, "everything"},
		{"acme", socbot.ActIsolateHost, "all", 0, "everything"},
		{"acme", socbot.ActIsolateHost, "ws-042", 0, ""},
		{"acme", socbot.ActionKind("nuke"), "x", 0, "invalid"},
	}
	for _, tc := range tests {
		err := r.Check(tc.tenant, tc.kind, tc.value, tc.count)
		if tc.rule == "" {
			if err != nil {
				t.Errorf("%s %s %q: refused: %v", tc.tenant, tc.kind, tc.value, err)
			}
			continue
		}
		ref, ok := RefusalOf(err)
		if !ok {
			t.Errorf("%s %s %q: got %v, want refusal %s", tc.tenant, tc.kind, tc.value, err, tc.rule)
			continue
		}
		if ref.Rule != tc.rule {
			t.Errorf("%s %s %q: refused by %s (%s), want %s", tc.tenant, tc.kind, tc.value, ref.Rule, ref.Reason, tc.rule)
		}
		if !socbot.IsKind(err, socbot.KindForbidden) {
			t.Errorf("%s %q: kind %v", tc.kind, tc.value, socbot.ErrorKind(err))
		}
	}
}
