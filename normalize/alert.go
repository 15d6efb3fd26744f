package normalize

import (
	"strings"
	"unicode/utf8"

	socbot "github.com/socbot/socbot"
)

// Length caps for the text fields (the whole record stays in Raw).
const (
	maxTitle       = 512
	maxDescription = 32 << 10
)

// newAlert starts an alert of the given vendor and product with room for a few observables.
func newAlert(vendor, product string) socbot.Alert {
	return socbot.Alert{Vendor: vendor, Product: product, Observables: make([]socbot.Observable, 0, 8)}
}

// finish applies the rules every alert follows: a title is never empty (rule name, then category, then
// "<product> alert"), text fields are capped, empty slices are nil.
func finish(a *socbot.Alert) {
	if a.Title == "" {
		a.Title = a.RuleName
	}
	if a.Title == "" {
		a.Title = a.Category
	}
	if a.Title == "" {
		a.Title = strings.TrimSpace(a.Vendor + " " + a.Product + " alert")
	}
	a.Title = capText(a.Title, maxTitle)
	a.Description = capText(a.Description, maxDescription)
	if len(a.Observables) == 0 {
		a.Observables = nil
	}
}

// capText cuts s to at most n bytes on a rune boundary.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
