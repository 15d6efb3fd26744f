package normalize

import (
	"net/netip"
	"strings"

	socbot "github.com/socbot/socbot"
)

// The add* helpers validate and canonicalise a value before it becomes an observable; invalid values and
// placeholders are dropped (a redacted "000.111.222.10" is no IP, "ddd" is no hash).

// put adds an observable. "related" is the weakest role: a value already present with another role is
// not added again as related, and a related entry is upgraded when the same value arrives with a role.
func put(a *socbot.Alert, t socbot.ObservableType, value string, role socbot.ObsRole) {
	for i := range a.Observables {
		o := &a.Observables[i]
		if o.Type != t || o.Value != value {
			continue
		}
		if o.Role == role || role == socbot.AsRelated {
			return
		}
		if o.Role == socbot.AsRelated {
			o.Role = role
			return
		}
	}
	a.Observables = append(a.Observables, socbot.Observable{Type: t, Value: value, Role: role})
}

// canonIP returns the canonical form of an IP address ("::ffff:1.2.3.4" becomes "1.2.3.4", zones are
// dropped), or "" when s is not one or is an address that names no particular host.
func canonIP(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || len(s) > 64 {
		return ""
	}
	if a, b, c, d, ok := parseIPv4(s); ok { // the common case, without allocating
		switch {
		case a == 0 && b == 0 && c == 0 && d == 0, a == 127, a == 169 && b == 254, a >= 224:
			return "" // unspecified, loopback, link-local, multicast and reserved
		}
		return s
	}
	if s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	// Addresses every host has (unspecified, loopback, link-local, multicast) identify nothing and would
	// tie unrelated alerts together.
	if ip.IsUnspecified() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() {
		return ""
	}
	var buf [64]byte
	if c := ip.AppendTo(buf[:0]); string(c) != s {
		return string(c)
	}
	return s
}

// parseIPv4 reads a dotted quad in canonical form (no leading zeros, each part 0-255).
func parseIPv4(s string) (a, b, c, d byte, ok bool) {
	var parts [4]byte
	n, val, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || n == 4 {
				return 0, 0, 0, 0, false
			}
			parts[n] = byte(val)
			n++
			val, digits = 0, 0
			continue
		}
		ch := s[i]
		if ch < '0' || ch > '9' || digits > 0 && val == 0 {
			return 0, 0, 0, 0, false // not a digit, or a leading zero
		}
		val = val*10 + int(ch-'0')
		digits++
		if val > 255 {
			return 0, 0, 0, 0, false
		}
	}
	if n != 4 {
		return 0, 0, 0, 0, false
	}
	return parts[0], parts[1], parts[2], parts[3], true
}

func addIP(a *socbot.Alert, s string, role socbot.ObsRole) {
	if ip := canonIP(s); ip != "" {
		put(a, socbot.ObsIP, ip, role)
	}
}

// addIPs adds each IP of a comma- or space-separated list.
func addIPs(a *socbot.Alert, s string, role socbot.ObsRole) {
	if strings.IndexAny(s, ", ") < 0 {
		addIP(a, s, role)
		return
	}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		addIP(a, f, role)
	}
}

// canonDomain returns s as a lower-case domain name without a trailing dot, or "" when s is not a
// plausible fully qualified name (at least two labels, letters/digits/hyphens/underscores, the top label
// not all digits, so IP addresses are not domains).
func canonDomain(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, ".")
	if len(s) < 3 || len(s) > 253 {
		return ""
	}
	labels, labelLen, lastDigits, upper := 1, 0, true, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if labelLen == 0 {
				return ""
			}
			labels++
			labelLen = 0
			lastDigits = true
			continue
		case c >= 'a' && c <= 'z', c == '-', c == '_', c >= 0x80:
			lastDigits = false
		case c >= 'A' && c <= 'Z':
			lastDigits = false
			upper = true
		case c >= '0' && c <= '9':
		default:
			return ""
		}
		labelLen++
		if labelLen > 63 {
			return ""
		}
	}
	if labels < 2 || labelLen == 0 || lastDigits {
		return ""
	}
	if upper {
		return strings.ToLower(s)
	}
	return s
}

func addDomain(a *socbot.Alert, s string, role socbot.ObsRole) {
	if d := canonDomain(s); d != "" {
		put(a, socbot.ObsDomain, d, role)
	}
}

// addHost adds a host name (lower-cased, trailing dot removed). An IP address given as a host name is
// added as an IP instead.
func addHost(a *socbot.Alert, s string, role socbot.ObsRole) {
	s = strings.TrimSpace(s)
	if s == "" || isPlaceholder([]byte(s)) || len(s) > 253 {
		return
	}
	if ip := canonIP(s); ip != "" {
		put(a, socbot.ObsIP, ip, role)
		return
	}
	if strings.ContainsAny(s, " /\\<>\"'@") {
		return
	}
	s = strings.TrimSuffix(lowerASCII(s), ".")
	if s == "" || s == "localhost" {
		return
	}
	put(a, socbot.ObsHost, s, role)
}

// addURL adds an absolute URL (scheme://host...), trimmed.
func addURL(a *socbot.Alert, s string, role socbot.ObsRole) {
	s = strings.TrimSpace(s)
	i := strings.Index(s, "://")
	if i <= 0 || i > 10 || len(s) <= i+3 || strings.ContainsAny(s, " \t\r\n") {
		return
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return
		}
	}
	put(a, socbot.ObsURL, s, role)
}

// hashType returns the observable type a hex digest's length implies (MD5 32, SHA-1 40, SHA-256 64), or
// "" when s is not a hex digest or is all zeros (vendors' "unknown").
func hashType(s string) socbot.ObservableType {
	var t socbot.ObservableType
	switch len(s) {
	case 32:
		t = socbot.ObsMD5
	case 40:
		t = socbot.ObsSHA1
	case 64:
		t = socbot.ObsSHA256
	default:
		return ""
	}
	zero := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '0':
		case c >= '1' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			zero = false
		default:
			return ""
		}
	}
	if zero {
		return ""
	}
	return t
}

// addHash adds a hex digest as md5, sha1 or sha256 by its length (lower-cased).
func addHash(a *socbot.Alert, s string, role socbot.ObsRole) {
	s = strings.TrimSpace(s)
	if t := hashType(s); t != "" {
		put(a, t, lowerASCII(s), role)
	}
}

// addHashList adds the digests of a Sysmon-style list "SHA1=…,MD5=…,SHA256=…,IMPHASH=…".
func addHashList(a *socbot.Alert, s string, role socbot.ObsRole) {
	for _, f := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			addHash(a, f, role)
			continue
		}
		if strings.EqualFold(strings.TrimSpace(k), "imphash") {
			continue
		}
		addHash(a, v, role)
	}
}

// addEmail adds an email address, lower-cased.
func addEmail(a *socbot.Alert, s string, role socbot.ObsRole) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "mailto:"), "user:")
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || len(s) > 254 || strings.ContainsAny(s, " <>\"(),;:\\[]") {
		return
	}
	if canonDomain(s[at+1:]) == "" {
		return
	}
	put(a, socbot.ObsEmail, lowerASCII(s), role)
}

// addUser adds a user account as given ("DOMAIN\\user", "user@domain" and "user" are kept verbatim).
func addUser(a *socbot.Alert, s string, role socbot.ObsRole) {
	s = strings.TrimSpace(s)
	if s == "" || isPlaceholder([]byte(s)) || len(s) > 256 {
		return
	}
	put(a, socbot.ObsUser, s, role)
}

// addDomainUser adds user qualified by its domain as "DOMAIN\user" when both are given.
func addDomainUser(a *socbot.Alert, domain, user string, role socbot.ObsRole) {
	if user == "" {
		return
	}
	if domain != "" && !strings.ContainsAny(user, "\\@") {
		user = domain + "\\" + user
	}
	addUser(a, user, role)
}

// addProcess adds a process by executable path or name.
func addProcess(a *socbot.Alert, s string, role socbot.ObsRole) {
	s = strings.TrimSpace(s)
	if s == "" || isPlaceholder([]byte(s)) || len(s) > 1024 {
		return
	}
	put(a, socbot.ObsProcess, s, role)
}

// addFile adds a file by path or name.
func addFile(a *socbot.Alert, s string, role socbot.ObsRole) {
	s = strings.TrimSpace(s)
	if s == "" || isPlaceholder([]byte(s)) || len(s) > 1024 {
		return
	}
	put(a, socbot.ObsFile, s, role)
}

// joinPath2 joins a directory and a file name with the separator the directory uses.
func joinFile(dir, name string) string {
	if dir == "" {
		return name
	}
	if name == "" {
		return dir
	}
	sep := "\\"
	if strings.IndexByte(dir, '/') >= 0 && strings.IndexByte(dir, '\\') < 0 {
		sep = "/"
	}
	if strings.HasSuffix(dir, sep) {
		return dir + name
	}
	if strings.HasSuffix(dir, name) {
		return dir
	}
	return dir + sep + name
}

// addTyped adds value as an observable of the given type name (as used by OCSF observables, generic
// mappings and threat-intel matches): ip, domain, hostname/host, url, md5/sha1/sha256/hash, email,
// user, process, file.
func addTyped(a *socbot.Alert, typ, value string, role socbot.ObsRole) bool {
	switch strings.ToLower(typ) {
	case "ip", "ipv4", "ipv6", "ip_address", "ipv4_address", "ipv6_address", "ipv4-addr", "ipv6-addr":
		addIPs(a, value, role)
	case "domain", "domain_name", "domain-name", "fqdn":
		addDomain(a, value, role)
	case "host", "hostname", "host_name":
		addHost(a, value, role)
	case "url", "uri", "url_string":
		addURL(a, value, role)
	case "md5", "sha1", "sha256", "hash", "hash_md5", "hash_sha1", "hash_sha256", "file_hash", "filehash":
		addHash(a, value, role)
	case "email", "email_address", "email-addr", "mail":
		addEmail(a, value, role)
	case "user", "user_name", "username", "account":
		addUser(a, value, role)
	case "process", "process_name", "executable", "image":
		addProcess(a, value, role)
	case "file", "file_name", "filename", "file_path", "path":
		addFile(a, value, role)
	default:
		return false
	}
	return true
}
