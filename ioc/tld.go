package ioc

import (
	"strings"

	"github.com/weppos/publicsuffix-go/publicsuffix"
)

// tlds is the set of top-level domains: the last label of every ICANN rule of the public suffix list
// (which includes every IANA-delegated TLD), plus the special-use names that appear in intelligence
// (onion for Tor hidden services, arpa for reverse DNS).
var tlds = func() map[string]struct{} {
	m := make(map[string]struct{}, 1600)
	for _, r := range publicsuffix.DefaultRules() {
		if r.Private {
			continue
		}
		v := r.Value
		if i := strings.LastIndexByte(v, '.'); i >= 0 {
			v = v[i+1:]
		}
		v = strings.TrimPrefix(v, "*")
		if v == "" || strings.ContainsAny(v, "!*") {
			continue
		}
		if a, err := publicsuffix.ToASCII(v); err == nil {
			v = a
		}
		m[strings.ToLower(v)] = struct{}{}
	}
	m["onion"] = struct{}{}
	m["arpa"] = struct{}{}
	return m
}()

// fileLikeTLDs are top-level domains that are far more often file extensions in security writing
// (invoice.zip, clip.mov, run.sh, script.py, README.md, libc.so, setup.cab, notes.one). A name ending in
// one of them is taken as a domain only when it was defanged or appears as the host of a URL or e-mail.
var fileLikeTLDs = map[string]struct{}{
	"zip": {}, "mov": {}, "sh": {}, "py": {}, "md": {}, "so": {}, "cab": {}, "one": {}, "ps": {}, "cat": {},
}

// IsTLD reports whether s (case-insensitive, without dots) is a top-level domain.
func IsTLD(s string) bool {
	_, ok := tlds[strings.ToLower(s)]
	return ok
}

// RegisteredDomain returns the registrable domain of a host name (example.co.uk for a.b.example.co.uk),
// or the name itself when it has no public suffix.
func RegisteredDomain(host string) string {
	d, err := publicsuffix.Domain(host)
	if err != nil || d == "" {
		return host
	}
	return d
}
