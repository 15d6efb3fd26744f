package containment

import (
	"testing"

	socbot "github.com/socbot/socbot"
)

// A give-up after attempts that may have reached the vendor says the outcome is unknown; one after
// throttling or edit locks only (the vendor did nothing) does not.
func TestMayHaveActed(t *testing.T) {
	failed := func(status int) Attempt { return Attempt{Op: "apply", Outcome: socbot.OutcomeFailed, Status: status} }
	cases := []struct {
		name     string
		attempts []Attempt
		want     bool
	}{
		{"none", nil, false},
		{"throttled only", []Attempt{failed(429), failed(429)}, false},
		{"edit lock", []Attempt{failed(409), failed(429)}, false},
		{"server error", []Attempt{failed(429), failed(503)}, true},
		{"timeout or transport", []Attempt{failed(0)}, true},
	}
	for _, tc := range cases {
		if got := mayHaveActed(&Action{Attempts: tc.attempts}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
