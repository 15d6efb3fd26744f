package normalize

import (
	"strings"

	socbot "github.com/socbot/socbot"
)

// tacticIDs maps ATT&CK Enterprise tactic names, folded by foldKey, to their ids.
var tacticIDs = map[string]string{
	"reconnaissance":      "TA0043",
	"resourcedevelopment": "TA0042",
	"initialaccess":       "TA0001",
	"execution":           "TA0002",
	"persistence":         "TA0003",
	"privilegeescalation": "TA0004",
	"defenseevasion":      "TA0005",
	"credentialaccess":    "TA0006",
	"discovery":           "TA0007",
	"lateralmovement":     "TA0008",
	"collection":          "TA0009",
	"exfiltration":        "TA0010",
	"commandandcontrol":   "TA0011",
	"impact":              "TA0040",
}

// foldKey lower-cases s and drops everything but letters and digits into buf:
// "Command and Control", "COMMAND_AND_CONTROL" and "CommandAndControl" all fold to "commandandcontrol".
func foldKey(buf []byte, s string) []byte {
	buf = buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			buf = append(buf, c)
		case c >= 'A' && c <= 'Z':
			buf = append(buf, c+32)
		}
	}
	return buf
}

// tacticID returns the ATT&CK id of a tactic given as an id ("TA0005", "ta0005", "TA0005 - Defense
// Evasion") or a name in any spelling ("Defense Evasion", "DEFENSE_EVASION", "DefenseEvasion"), or "".
func tacticID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 6 && (s[0] == 'T' || s[0] == 't') && (s[1] == 'A' || s[1] == 'a') && allDigits(s[2:6]) &&
		(len(s) == 6 || !isAlnum(s[6])) {
		if id := tacticByNumber(s[2:6]); id != "" {
			return id
		}
		return "TA" + s[2:6]
	}
	var buf [48]byte
	if len(s) > len(buf) {
		return ""
	}
	return tacticIDs[string(foldKey(buf[:0], s))]
}

// tacticByNumber returns the constant id string for a known tactic number (no allocation).
func tacticByNumber(n string) string {
	for _, id := range tacticIDs {
		if id[2:] == n {
			return id
		}
	}
	return ""
}

// techniqueID returns the canonical ATT&CK technique id ("T1059" or "T1059.001") found at the start of
// s ("t1190", "T1059.001 - PowerShell", "T1078/003") or in an attack.mitre.org technique URL, or "".
func techniqueID(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "/techniques/"); i >= 0 {
		s = s[i+len("/techniques/"):]
	}
	if len(s) < 5 || (s[0] != 'T' && s[0] != 't') || !allDigits(s[1:5]) {
		return ""
	}
	if len(s) == 5 || !isAlnum(s[5]) && s[5] != '.' && s[5] != '/' {
		if s[0] == 'T' {
			return s[:5]
		}
		return "T" + s[1:5]
	}
	if (s[5] == '.' || s[5] == '/') && len(s) >= 9 && allDigits(s[6:9]) && (len(s) == 9 || !isAlnum(s[9])) {
		if s[0] == 'T' && s[5] == '.' {
			return s[:9]
		}
		return "T" + s[1:5] + "." + s[6:9]
	}
	if s[5] == '/' || (s[5] == '.' && len(s) == 6) {
		return "T" + s[1:5]
	}
	return ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// addTactic adds the ATT&CK tactic s names (id or name) to a; values that are not ATT&CK tactics are
// ignored (vendors mix in their own categories such as "Malware" or "Machine Learning").
func addTactic(a *socbot.Alert, s string) {
	id := tacticID(s)
	if id == "" {
		return
	}
	for _, t := range a.Tactics {
		if t == id {
			return
		}
	}
	a.Tactics = append(a.Tactics, id)
}

// addTechnique adds the ATT&CK technique id found in s to a (see techniqueID).
func addTechnique(a *socbot.Alert, s string) {
	id := techniqueID(s)
	if id == "" {
		return
	}
	for _, t := range a.Techniques {
		if t == id {
			return
		}
	}
	a.Techniques = append(a.Techniques, id)
}

// addMitre classifies s as a technique or a tactic and adds it.
func addMitre(a *socbot.Alert, s string) {
	if techniqueID(s) != "" {
		addTechnique(a, s)
		return
	}
	addTactic(a, s)
}
