package triage

import (
	"encoding/hex"
	"hash/fnv"
	"net/netip"
	"sort"
	"strings"

	socbot "github.com/socbot/socbot"
)

// noiseUsers are accounts too generic to tie alerts together.
var noiseUsers = map[string]bool{
	"system": true, "nt authority\\system": true, "local service": true, "network service": true, "-": true,
	"n/a": true, "unknown": true, "null": true, "anonymous logon": true, "nt authority\\anonymous logon": true,
}

// entities returns the observable keys that correlate an alert with others: hosts, users, IPs,
// domains, URLs, hashes and e-mail addresses. Processes and file names are left out (powershell.exe
// would tie every incident together), as are generic accounts, loopback, link-local, multicast and
// unspecified addresses, and whatever the tenant excludes (its own egress addresses, resolvers).
func entities(a *socbot.Alert, ex exclusions) []string {
	out := make([]string, 0, len(a.Observables))
	seen := make(map[string]bool, len(a.Observables))
	for _, o := range a.Observables {
		switch o.Type {
		case socbot.ObsProcess, socbot.ObsFile:
			continue
		case socbot.ObsUser:
			if noiseUsers[strings.ToLower(o.Value)] {
				continue
			}
		case socbot.ObsIP:
			if addr, err := netip.ParseAddr(o.Value); err != nil || addr.IsLoopback() || addr.IsLinkLocalUnicast() ||
				addr.IsMulticast() || addr.IsUnspecified() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				continue
			}
		}
		if ex.has(o) {
			continue
		}
		k := o.Key()
		if o.Type == socbot.ObsHost || o.Type == socbot.ObsUser || o.Type == socbot.ObsDomain || o.Type == socbot.ObsEmail {
			k = strings.ToLower(k)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// fingerprint identifies "the same detection": same tenant, source, rule and key entities (with their
// roles). Times, vendor ids and free text are left out so that repeats hash alike.
func fingerprint(a *socbot.Alert) string {
	rule := a.RuleID
	if rule == "" {
		rule = a.RuleName
	}
	if rule == "" {
		rule = a.Title
	}
	keys := make([]string, 0, len(a.Observables))
	for _, o := range a.Observables {
		switch o.Type {
		case socbot.ObsHost, socbot.ObsUser, socbot.ObsIP, socbot.ObsMD5, socbot.ObsSHA1, socbot.ObsSHA256, socbot.ObsDomain, socbot.ObsURL, socbot.ObsEmail:
			keys = append(keys, string(o.Role)+"/"+strings.ToLower(o.Key()))
		}
	}
	sort.Strings(keys)
	h := fnv.New128a()
	for _, s := range []string{a.TenantID, a.Format, rule} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// primaryEntity names what an incident is about, for its title: a host, else a user, else an IP.
func primaryEntity(a *socbot.Alert) string {
	for _, t := range []socbot.ObservableType{socbot.ObsHost, socbot.ObsUser, socbot.ObsIP, socbot.ObsDomain} {
		for _, r := range []socbot.ObsRole{socbot.AsTarget, "", socbot.AsActor, socbot.AsSource, socbot.AsDestination, socbot.AsRelated} {
			if v := a.First(t, r); v != "" {
				return v
			}
		}
	}
	return ""
}
