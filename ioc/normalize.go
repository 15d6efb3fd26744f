package ioc

import (
	"net/netip"
	"strings"
)

// NormalizeURL returns the canonical form of a URL: scheme and host in lower case, a trailing dot of
// the host and the default port removed, the fragment dropped, an empty path written as "/".
// It does not decode or re-encode the path, so that the value still matches what a proxy logs.
func NormalizeURL(u string) string {
	k := strings.Index(u, "://")
	if k <= 0 {
		return u
	}
	scheme := strings.ToLower(u[:k])
	rest := u[k+3:]
	if h := strings.IndexByte(rest, '#'); h >= 0 {
		rest = rest[:h]
	}
	end := len(rest)
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == '/' || c == '?' {
			end = i
			break
		}
	}
	auth, path := rest[:end], rest[end:]
	userinfo := ""
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		userinfo, auth = auth[:at+1], auth[at+1:]
	}
	host, port := auth, ""
	if strings.HasPrefix(host, "[") {
		if j := strings.IndexByte(host, ']'); j >= 0 {
			host, port = host[:j+1], strings.TrimPrefix(host[j+1:], ":")
		}
	} else if c := strings.LastIndexByte(host, ':'); c >= 0 {
		host, port = host[:c], host[c+1:]
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") || (scheme == "ftp" && port == "21") {
		port = ""
	}
	if path == "" {
		path = "/"
	} else if path[0] == '?' {
		path = "/" + path
	}
	var b strings.Builder
	b.Grow(len(u) + 1)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(userinfo)
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(path)
	return b.String()
}

// IsNormalURL reports, without allocating, whether u is already in NormalizeURL's form (lower-case
// scheme and host, no fragment, no default port, a path); NormalizeURL(u) == u when it is true.
func IsNormalURL(u string) bool {
	k := strings.Index(u, "://")
	if k <= 0 {
		return false
	}
	for i := 0; i < k; i++ {
		if c := u[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	rest := u[k+3:]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 || strings.IndexByte(rest, '#') >= 0 {
		return false
	}
	auth := rest[:slash]
	if q := strings.IndexByte(auth, '?'); q >= 0 {
		return false
	}
	for i := 0; i < len(auth); i++ {
		if c := auth[i]; c >= 'A' && c <= 'Z' || c == '@' || c == '[' || c >= 0x80 {
			return false
		}
	}
	host := auth
	if c := strings.LastIndexByte(auth, ':'); c >= 0 {
		host = auth[:c]
		port := auth[c+1:]
		scheme := u[:k]
		if port == "" || scheme == "http" && port == "80" || scheme == "https" && port == "443" || scheme == "ftp" && port == "21" {
			return false
		}
	}
	return host != "" && !strings.HasSuffix(host, ".")
}

// URLHost returns the host of a URL (without port or brackets), or "".
func URLHost(u string) string {
	k := strings.Index(u, "://")
	if k < 0 {
		return ""
	}
	rest := u[k+3:]
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == '/' || c == '?' || c == '#' {
			rest = rest[:i]
			break
		}
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if j := strings.IndexByte(rest, ']'); j >= 0 {
			return rest[1:j]
		}
	}
	if c := strings.LastIndexByte(rest, ':'); c >= 0 {
		rest = rest[:c]
	}
	return strings.TrimSuffix(strings.ToLower(rest), ".")
}

// Normalize returns the canonical form of a value of type t and whether it is valid for that type.
// Values may be defanged. Feed parsers call it for every value they read.
func Normalize(t Type, v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false
	}
	if strings.ContainsAny(v, "[](){}\\") || hasSchemeDefang([]byte(v)) {
		var e Extractor
		r, _ := e.refang([]byte(v))
		v = string(r)
	}
	switch t {
	case IPv4:
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return "", false
		}
		return a.String(), true
	case IPv6:
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() || a.Is4In6() {
			return "", false
		}
		return a.WithZone("").String(), true
	case CIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", false
		}
		return p.Masked().String(), true
	case Domain:
		v = strings.TrimSuffix(strings.TrimPrefix(v, "*."), ".")
		return domain([]byte(v), true)
	case URL:
		if !strings.Contains(v, "://") {
			v = "http://" + v
		}
		h := URLHost(v)
		if h == "" {
			return "", false
		}
		if _, ok := parseIPv4([]byte(h)); !ok {
			if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
				if _, ok := domain([]byte(h), true); !ok {
					return "", false
				}
			}
		}
		return NormalizeURL(v), true
	case Email:
		at := strings.LastIndexByte(v, '@')
		if at <= 0 {
			return "", false
		}
		d, ok := domain([]byte(v[at+1:]), true)
		if !ok {
			return "", false
		}
		return strings.ToLower(v[:at]) + "@" + d, true
	case MD5, SHA1, SHA256, SHA512:
		want := map[Type]int{MD5: 32, SHA1: 40, SHA256: 64, SHA512: 128}[t]
		if len(v) != want {
			return "", false
		}
		for i := 0; i < len(v); i++ {
			if class[v[i]]&cHex == 0 {
				return "", false
			}
		}
		return strings.ToLower(v), true
	case CVE:
		u := strings.ToUpper(v)
		if !strings.HasPrefix(u, "CVE-") || len(u) < 13 || !allDigits([]byte(u[4:8])) || u[8] != '-' || !allDigits([]byte(u[9:])) {
			return "", false
		}
		return u, true
	case AttackTechnique:
		u := strings.ToUpper(v)
		if !isTechnique([]byte(u)) {
			return "", false
		}
		return u, true
	}
	return "", false
}

// Classify guesses the type of a single value (as found in a one-per-line list or a CSV column) and
// returns it normalised. It accepts IP addresses, CIDRs, URLs (with or without scheme when they have a
// path), e-mail addresses, hashes, CVE and technique ids and domains, defanged or not.
func Classify(v string) (Type, string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", "", false
	}
	if strings.ContainsAny(v, "[](){}\\") || hasSchemeDefang([]byte(v)) {
		var e Extractor
		r, _ := e.refang([]byte(v))
		v = string(r)
	}
	if strings.Contains(v, "://") {
		n, ok := Normalize(URL, v)
		return URL, n, ok
	}
	if strings.IndexByte(v, '/') > 0 {
		if n, ok := Normalize(CIDR, v); ok {
			return CIDR, n, true
		}
		n, ok := Normalize(URL, v)
		return URL, n, ok
	}
	if a, err := netip.ParseAddr(v); err == nil {
		if a.Is4() || a.Is4In6() {
			return IPv4, a.Unmap().String(), true
		}
		return IPv6, a.WithZone("").String(), true
	}
	if strings.IndexByte(v, '@') > 0 {
		n, ok := Normalize(Email, v)
		return Email, n, ok
	}
	switch len(v) {
	case 32, 40, 64, 128:
		t := map[int]Type{32: MD5, 40: SHA1, 64: SHA256, 128: SHA512}[len(v)]
		if n, ok := Normalize(t, v); ok {
			return t, n, true
		}
	}
	if n, ok := Normalize(CVE, v); ok {
		return CVE, n, true
	}
	if n, ok := Normalize(AttackTechnique, v); ok {
		return AttackTechnique, n, true
	}
	if n, ok := Normalize(Domain, v); ok {
		return Domain, n, true
	}
	return "", "", false
}
