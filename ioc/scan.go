package ioc

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// Byte classes of the one-pass scanner.
const (
	cDelim   = 1 << iota // token separator
	cDot                 // '.'
	cColon               // ':'
	cAt                  // '@'
	cBracket             // [ ] ( ) { } \ and '*' (defang markers)
	cHex                 // 0-9 a-f A-F
	cAlpha               // a-z A-Z
	cDigit               // 0-9
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c <= ' ' || c >= 0x7f:
			t[c] = cDelim
		case c >= '0' && c <= '9':
			t[c] = cDigit | cHex
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			t[c] = cAlpha | cHex
		case c >= 'g' && c <= 'z', c >= 'G' && c <= 'Z':
			t[c] = cAlpha
		}
	}
	for _, c := range []byte("\"'<>`|,;^!") {
		t[c] = cDelim
	}
	t['.'] = cDot
	t[':'] = cColon
	t['@'] = cAt
	for _, c := range []byte("[](){}\\*") {
		t[c] = cBracket
	}
	return t
}()

func isAlnum(c byte) bool { return class[c]&(cAlpha|cDigit) != 0 }

// scan is the one pass over a block of text.
func (e *Extractor) scan(b []byte) {
	n := len(b)
	i := 0
	for i < n {
		for i < n && class[b[i]]&cDelim != 0 {
			i++
		}
		start := i
		var feat uint8
		for i < n {
			c := class[b[i]]
			if c&cDelim != 0 {
				break
			}
			feat |= c
			i++
		}
		if i == start {
			continue
		}
		tok := b[start:i]
		if feat&(cDot|cColon|cAt|cBracket) == 0 {
			// No anchor: only a bare hash, CVE id or technique id can be here.
			if len(tok) >= 32 {
				e.hashes(tok, start)
			} else if len(tok) >= 5 && (tok[0] == 'T' || tok[0] == 'C' || tok[0] == 'c') {
				e.words(tok, start, false)
			}
			continue
		}
		e.token(tok, start, feat)
	}
}

func (e *Extractor) out(t Type, v string, off int, defanged bool) {
	if !e.want[typeIndex(t)] {
		return
	}
	e.emit(IOC{Type: t, Value: v, Offset: e.base + int64(off), Defanged: defanged})
}

// token handles one token that has at least one anchor.
func (e *Extractor) token(tok []byte, off int, feat uint8) {
	defanged := false
	if feat&cBracket != 0 || hasSchemeDefang(tok) {
		var changed bool
		tok, changed = e.refang(tok)
		defanged = changed
	}
	if len(tok) >= 32 {
		e.hashes(tok, off)
	}
	// URLs: a scheme followed by "://".
	if k := bytes.Index(tok, []byte("://")); k > 0 {
		s := k
		for s > 0 && class[tok[s-1]]&cAlpha != 0 {
			s--
		}
		if s < k && knownScheme(tok[s:k]) {
			if e.url(tok[s:], off, defanged) {
				return
			}
		}
	}
	if bytes.IndexByte(tok, '@') >= 0 {
		if e.emails(tok, off, defanged) {
			return
		}
	}
	e.words(tok, off, defanged)
}

// hasSchemeDefang reports whether tok contains a defanged scheme such as hxxp or h00p.
func hasSchemeDefang(tok []byte) bool {
	for i := 0; i+4 <= len(tok); i++ {
		if tok[i]|0x20 == 'h' {
			a, b := tok[i+1]|0x20, tok[i+2]|0x20
			if (a == 'x' && (b == 'x' || b == 't')) || (a == '0' && b == '0') || (a == 't' && b == 'x') {
				return true
			}
		}
	}
	return false
}

var schemes = map[string]struct{}{
	"http": {}, "https": {}, "ftp": {}, "ftps": {}, "sftp": {}, "tftp": {}, "ws": {}, "wss": {}, "smb": {},
	"tcp": {}, "udp": {}, "ssh": {}, "telnet": {}, "rdp": {}, "ldap": {}, "ldaps": {}, "irc": {}, "ircs": {},
	"socks": {}, "socks4": {}, "socks5": {}, "git": {}, "svn": {}, "file": {}, "nntp": {}, "gopher": {},
}

func knownScheme(s []byte) bool {
	var buf [16]byte
	if len(s) > len(buf) {
		return false
	}
	for i, c := range s {
		buf[i] = c | 0x20
	}
	_, ok := schemes[string(buf[:len(s)])]
	return ok
}

// refang rewrites the defang markers in tok. It returns tok itself when there is nothing to rewrite.
func (e *Extractor) refang(tok []byte) ([]byte, bool) {
	out := e.scratch[:0]
	changed := false
	for i := 0; i < len(tok); {
		c := tok[i]
		switch {
		case c == '[' || c == '(' || c == '{':
			close := byte(']')
			if c == '(' {
				close = ')'
			} else if c == '{' {
				close = '}'
			}
			j := i + 1
			for j < len(tok) && j-i <= 8 && tok[j] != close {
				j++
			}
			if j < len(tok) && tok[j] == close {
				if r := defangInner(tok[i+1 : j]); r != "" {
					out = append(out, r...)
					i = j + 1
					changed = true
					continue
				}
			}
		case c == '\\' && i+1 < len(tok) && tok[i+1] == '.':
			out = append(out, '.')
			i += 2
			changed = true
			continue
		case (c == ']' || c == ')') && len(out) > 0 && class[out[len(out)-1]]&cAlpha != 0:
			// "http]]://": brackets between a scheme and its "://"
			j := i
			for j < len(tok) && (tok[j] == ']' || tok[j] == ')') {
				j++
			}
			if bytes.HasPrefix(tok[j:], []byte("://")) || bytes.HasPrefix(tok[j:], []byte(":/")) {
				i = j
				changed = true
				continue
			}
		case c|0x20 == 'h' && i+4 <= len(tok):
			a, b, d := tok[i+1]|0x20, tok[i+2]|0x20, tok[i+3]|0x20
			if ((a == 'x' && (b == 'x' || b == 't')) || (a == '0' && b == '0') || (a == 't' && b == 'x') || (a == '*' && b == '*')) && (d == 'p') &&
				(i == 0 || class[tok[i-1]]&cAlpha == 0) {
				k := i + 4
				s := false
				if k < len(tok) && tok[k]|0x20 == 's' {
					s = true
					k++
				}
				if k < len(tok) && (tok[k] == ':' || tok[k] == '[' || tok[k] == ']' || tok[k] == '(') {
					out = append(out, "http"...)
					if s {
						out = append(out, 's')
					}
					i = k
					changed = true
					continue
				}
			}
		}
		out = append(out, c)
		i++
	}
	e.scratch = out
	if !changed {
		return tok, false
	}
	return out, true
}

// defangInner maps the inside of a defang bracket to what it stands for, or "".
func defangInner(in []byte) string {
	in = bytes.TrimSpace(in)
	switch len(in) {
	case 1:
		switch in[0] {
		case '.':
			return "."
		case ':':
			return ":"
		case '@':
			return "@"
		case '/':
			return "/"
		}
	case 2:
		if in[0]|0x20 == 'a' && in[1]|0x20 == 't' {
			return "@"
		}
		if in[0] == ':' && in[1] == '/' {
			return ":/"
		}
	case 3:
		l := string([]byte{in[0] | 0x20, in[1] | 0x20, in[2] | 0x20})
		switch l {
		case "dot", "d0t":
			return "."
		case "://":
			return "://"
		}
	}
	return ""
}

// url validates and reports a URL that starts at the scheme. It reports false when the host is not a
// valid domain or IP address.
func (e *Extractor) url(u []byte, off int, defanged bool) bool {
	u = trimURLTail(u)
	k := bytes.Index(u, []byte("://"))
	rest := u[k+3:]
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	auth := rest[:end]
	if at := bytes.LastIndexByte(auth, '@'); at >= 0 {
		auth = auth[at+1:]
	}
	host := auth
	if len(host) > 0 && host[0] == '[' {
		j := bytes.IndexByte(host, ']')
		if j < 0 {
			return false
		}
		a, err := netip.ParseAddr(string(host[1:j]))
		if err != nil || !a.Is6() {
			return false
		}
		e.emitURL(u, k, off, defanged)
		if !e.opts.NoURLHosts {
			e.out(IPv6, a.String(), off, defanged)
		}
		return true
	}
	if c := bytes.LastIndexByte(host, ':'); c >= 0 {
		port := host[c+1:]
		for _, d := range port {
			if d < '0' || d > '9' {
				return false
			}
		}
		host = host[:c]
	}
	host = bytes.TrimSuffix(host, []byte("."))
	if ip, ok := parseIPv4(host); ok {
		e.emitURL(u, k, off, defanged)
		if !e.opts.NoURLHosts {
			e.out(IPv4, ip, off, defanged)
		}
		return true
	}
	d, ok := domain(host, true)
	if !ok {
		return false
	}
	e.emitURL(u, k, off, defanged)
	if !e.opts.NoURLHosts {
		e.out(Domain, d, off, defanged)
	}
	return true
}

func (e *Extractor) emitURL(u []byte, k, off int, defanged bool) {
	if !e.want[typeIndex(URL)] {
		return
	}
	e.out(URL, NormalizeURL(string(u)), off, defanged)
}

// trimURLTail drops the punctuation that ends a sentence or closes a bracket around a URL.
func trimURLTail(u []byte) []byte {
	for len(u) > 0 {
		c := u[len(u)-1]
		switch c {
		case '.', ',', ':', ';', '!', '?', '\'', '"', '*':
			u = u[:len(u)-1]
			continue
		case ')', ']', '}':
			open := byte('(')
			if c == ']' {
				open = '['
			} else if c == '}' {
				open = '{'
			}
			if bytes.Count(u, []byte{open}) < bytes.Count(u, []byte{c}) {
				u = u[:len(u)-1]
				continue
			}
		}
		break
	}
	return u
}

// emails finds e-mail addresses in tok.
func (e *Extractor) emails(tok []byte, off int, defanged bool) bool {
	found := false
	for i := 0; i < len(tok); i++ {
		if tok[i] != '@' {
			continue
		}
		s := i
		for s > 0 && isLocalChar(tok[s-1]) {
			s--
		}
		for s < i && (tok[s] == '.' || tok[s] == '-') {
			s++
		}
		j := i + 1
		for j < len(tok) && (isAlnum(tok[j]) || tok[j] == '.' || tok[j] == '-' || tok[j] == '_') {
			j++
		}
		if s == i || j == i+1 {
			continue
		}
		local := tok[s:i]
		if local[len(local)-1] == '.' || bytes.Contains(local, []byte("..")) || len(local) > 64 {
			continue
		}
		host := bytes.TrimRight(tok[i+1:j], ".-")
		d, ok := domain(host, true)
		if !ok {
			continue
		}
		found = true
		e.out(Email, strings.ToLower(string(local))+"@"+d, off, defanged)
		i = j - 1
	}
	return found
}

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// words splits a token into runs of host characters and tests each run as an IPv4 address or CIDR,
// an IPv6 address, a domain, a CVE id or an ATT&CK technique id.
func (e *Extractor) words(tok []byte, off int, defanged bool) {
	// IPv6 first: it needs the colons that separate the other words.
	if bytes.Count(tok, []byte(":")) >= 2 {
		e.ipv6(tok, off, defanged)
	}
	n := len(tok)
	for i := 0; i < n; {
		for i < n && !isHostChar(tok[i]) {
			i++
		}
		s := i
		for i < n && isHostChar(tok[i]) {
			i++
		}
		if s == i {
			continue
		}
		w := tok[s:i]
		// trim dots, dashes and underscores at the edges
		for len(w) > 0 && (w[0] == '.' || w[0] == '-' || w[0] == '_') {
			w = w[1:]
		}
		for len(w) > 0 && (w[len(w)-1] == '.' || w[len(w)-1] == '-' || w[len(w)-1] == '_') {
			w = w[:len(w)-1]
		}
		if len(w) < 3 {
			continue
		}
		if bytes.IndexByte(w, '.') < 0 {
			e.cveOrTechnique(w, off, defanged)
			continue
		}
		if w[0] == 'T' && isTechnique(w) {
			e.out(AttackTechnique, string(w), off, defanged)
			continue
		}
		if class[w[len(w)-1]]&cDigit != 0 && class[w[0]]&cDigit != 0 {
			ip, ok := parseIPv4(w)
			if !ok {
				continue
			}
			// CIDR: "/nn" right after the address
			if i+1 < n && tok[i] == '/' {
				j := i + 1
				for j < n && j-i <= 3 && tok[j] >= '0' && tok[j] <= '9' {
					j++
				}
				if j > i+1 && (j == n || !isAlnum(tok[j])) {
					bits, _ := strconv.Atoi(string(tok[i+1 : j]))
					if p, err := netip.ParsePrefix(ip + "/" + strconv.Itoa(bits)); err == nil && bits <= 32 {
						e.out(CIDR, p.Masked().String(), off, defanged)
						i = j
						continue
					}
				}
				if defanged && e.schemeless(tok, s, off) {
					i = n
				}
			}
			e.out(IPv4, ip, off, defanged)
			continue
		}
		if !defanged && (camelCase(w) || (i < n && tok[i] == '(')) {
			continue // code, not a host: hashArray.map, req.open("POST")
		}
		if d, ok := domain(w, defanged); ok {
			if defanged && i < n && tok[i] == '/' && e.schemeless(tok, s, off) {
				i = n
			}
			e.out(Domain, d, off, defanged)
		}
	}
}

// schemeless reports a defanged "host/path" as an http URL (212[.]192.241.87/bins/x.arm7).
func (e *Extractor) schemeless(tok []byte, s, off int) bool {
	u := trimURLTail(tok[s:])
	if len(u) == 0 || bytes.IndexByte(u, '/') < 0 {
		return false
	}
	if !e.want[typeIndex(URL)] {
		return true
	}
	e.out(URL, NormalizeURL("http://"+string(u)), off, true)
	return true
}

// camelCase reports whether a lower-case letter is followed by an upper-case one (identifiers in code).
func camelCase(w []byte) bool {
	for i := 1; i < len(w); i++ {
		if w[i] >= 'A' && w[i] <= 'Z' && w[i-1] >= 'a' && w[i-1] <= 'z' {
			return true
		}
	}
	return false
}

func isHostChar(c byte) bool { return isAlnum(c) || c == '.' || c == '-' || c == '_' }

// ipv6 finds IPv6 addresses (and prefixes) in runs of hex digits, colons and dots.
func (e *Extractor) ipv6(tok []byte, off int, defanged bool) {
	n := len(tok)
	for i := 0; i < n; {
		for i < n && !(class[tok[i]]&cHex != 0 || tok[i] == ':') {
			i++
		}
		s := i
		for i < n && (class[tok[i]]&cHex != 0 || tok[i] == ':' || tok[i] == '.') {
			i++
		}
		w := bytes.TrimRight(tok[s:i], ".")
		if len(w) < 6 || bytes.Count(w, []byte(":")) < 2 || (s > 0 && isAlnum(tok[s-1])) || (i < n && class[tok[i]]&cAlpha != 0) {
			continue
		}
		a, err := netip.ParseAddr(string(w))
		if err != nil || !a.Is6() || a.IsUnspecified() || a.Is4In6() {
			continue
		}
		if i+1 < n && tok[i] == '/' {
			j := i + 1
			for j < n && j-i <= 4 && tok[j] >= '0' && tok[j] <= '9' {
				j++
			}
			if p, err := netip.ParsePrefix(a.String() + "/" + string(tok[i+1:j])); err == nil {
				e.out(CIDR, p.Masked().String(), off, defanged)
				i = j
				continue
			}
		}
		e.out(IPv6, a.String(), off, defanged)
	}
}

// hashes finds runs of exactly 32, 40, 64 or 128 hex digits bounded by non-alphanumerics.
func (e *Extractor) hashes(tok []byte, off int) {
	n := len(tok)
	for i := 0; i < n; {
		for i < n && !isAlnum(tok[i]) {
			i++
		}
		s := i
		hex := true
		for i < n && isAlnum(tok[i]) {
			if class[tok[i]]&cHex == 0 {
				hex = false
			}
			i++
		}
		if !hex {
			continue
		}
		var t Type
		switch i - s {
		case 32:
			t = MD5
		case 40:
			t = SHA1
		case 64:
			t = SHA256
		case 128:
			t = SHA512
		default:
			continue
		}
		e.out(t, strings.ToLower(string(tok[s:i])), off, false)
	}
}

// cveOrTechnique tests a dot-free word (which may hold dashes) for a CVE id or a technique id.
func (e *Extractor) cveOrTechnique(w []byte, off int, defanged bool) {
	if len(w) >= 13 && (w[0]|0x20) == 'c' && (w[1]|0x20) == 'v' && (w[2]|0x20) == 'e' && w[3] == '-' {
		// CVE-YYYY-NNNN+ ; the word may continue with other dashes ("CVE-2021-44228-exploit")
		y := w[4:]
		if len(y) >= 9 && allDigits(y[:4]) && y[4] == '-' {
			k := 5
			for k < len(y) && y[k] >= '0' && y[k] <= '9' {
				k++
			}
			if k-5 >= 4 && k-5 <= 7 && (k == len(y) || !isAlnum(y[k])) {
				e.out(CVE, "CVE-"+string(y[:k]), off, defanged)
			}
		}
		return
	}
	if w[0] == 'T' && isTechnique(w) {
		e.out(AttackTechnique, string(w), off, defanged)
	}
}

// isTechnique reports whether w is T#### or T####.###.
func isTechnique(w []byte) bool {
	if len(w) != 5 && len(w) != 9 {
		return false
	}
	if w[0] != 'T' || !allDigits(w[1:5]) {
		return false
	}
	return len(w) == 5 || (w[5] == '.' && allDigits(w[6:9]))
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// parseIPv4 reads a dotted-quad IPv4 address with no leading zeros.
func parseIPv4(b []byte) (string, bool) {
	if len(b) < 7 || len(b) > 15 {
		return "", false
	}
	parts := 0
	v := 0
	digits := 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || parts == 4 {
				return "", false
			}
			parts++
			v, digits = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' {
			return "", false
		}
		if digits > 0 && v == 0 {
			return "", false // leading zero
		}
		v = v*10 + int(c-'0')
		digits++
		if v > 255 {
			return "", false
		}
	}
	if parts != 4 {
		return "", false
	}
	return string(b), true
}

// domain validates a host name and returns it in lower case. Labels are letters, digits, '-' and '_'
// (not at the ends), the last label must be a top-level domain, and a name ending in a file-like TLD is
// accepted only when trusted (defanged or inside a URL or e-mail address).
func domain(b []byte, trusted bool) (string, bool) {
	if len(b) < 4 || len(b) > 253 {
		return "", false
	}
	last := bytes.LastIndexByte(b, '.')
	if last <= 0 || last == len(b)-1 {
		return "", false
	}
	tld := b[last+1:]
	if len(tld) < 2 || len(tld) > 63 {
		return "", false
	}
	var buf [64]byte
	upper, lower := false, false
	for i, c := range tld {
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
			buf[i] = c
		case c >= 'A' && c <= 'Z':
			upper = true
			buf[i] = c | 0x20
		case c == '-' || (c >= '0' && c <= '9'):
			buf[i] = c // xn-- punycode TLDs
		default:
			return "", false
		}
	}
	if upper && lower && !trusted {
		return "", false // "System.Net.WebClient", "Microsoft.Office"
	}
	t := buf[:len(tld)]
	if _, ok := tlds[string(t)]; !ok {
		return "", false
	}
	if !trusted {
		if _, ok := fileLikeTLDs[string(t)]; ok {
			return "", false
		}
	}
	// labels
	ls := 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			l := b[ls:i]
			if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
				return "", false
			}
			ls = i + 1
			continue
		}
		c := b[i]
		if !(isAlnum(c) || c == '-' || c == '_') {
			return "", false
		}
	}
	return strings.ToLower(string(b)), true
}
