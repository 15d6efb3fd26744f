package containment

import (
	"bufio"
	"context"
	"embed"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	socbot "github.com/socbot/socbot"
)

//go:embed lists/*.txt
var builtinLists embed.FS

// NeverList is a list of things that must never be blocked: addresses and prefixes, domains (a
// domain protects its subdomains, and blocking any parent of it is refused too), and exact values
// (e-mail addresses, user principals, host names). Entries are matched case-insensitively.
type NeverList struct {
	prefixes []netip.Prefix
	domains  map[string]string // domain -> source
	exact    map[string]string // value -> source
}

// Add adds entries; source says where they came from, for the refusal message.
func (l *NeverList) Add(source string, entries ...string) {
	if l.domains == nil {
		l.domains = map[string]string{}
		l.exact = map[string]string{}
	}
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" || strings.HasPrefix(e, "#") {
			continue
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			l.prefixes = append(l.prefixes, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			l.prefixes = append(l.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		if strings.Contains(e, "@") || !strings.Contains(e, ".") {
			l.exact[e] = source
			continue
		}
		l.domains[strings.TrimPrefix(e, "*.")] = source
	}
}

// AddText adds the entries of a text list: one per line, '#' starts a comment.
func (l *NeverList) AddText(source, text string) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		l.Add(source, line)
	}
}

// Len is the number of entries.
func (l *NeverList) Len() int { return len(l.prefixes) + len(l.domains) + len(l.exact) }

// matchPrefix returns the protected entry that p overlaps (p inside it, or it inside p).
func (l *NeverList) matchPrefix(p netip.Prefix) (string, bool) {
	for _, q := range l.prefixes {
		if q.Overlaps(p) {
			return q.String(), true
		}
	}
	return "", false
}

// matchDomain returns the protected domain that d is, is under, or is a parent of.
func (l *NeverList) matchDomain(d string) (string, bool) {
	d = strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(d), "*."), ".")
	for x := d; x != ""; {
		if _, ok := l.domains[x]; ok {
			return x, true
		}
		i := strings.IndexByte(x, '.')
		if i < 0 {
			break
		}
		x = x[i+1:]
	}
	for prot := range l.domains {
		if strings.HasSuffix(prot, "."+d) {
			return prot, true
		}
	}
	return "", false
}

func (l *NeverList) matchExact(v string) (string, bool) {
	v = strings.ToLower(v)
	_, ok := l.exact[v]
	return v, ok
}

// TenantRails are one tenant's safety settings.
type TenantRails struct {
	NeverBlock   []string // the tenant's own never-block entries: its egress, its IdP, its crown services
	AllowPrivate bool     // allow blocking private, CGNAT and link-local ranges (internal containment)
	MaxPerHour   int      // blast radius: forward actions per hour; 0 means the MSSP default
}

// Rails are the safety rails every forward action passes before it is stored. Rails are read-only
// after setup and safe for concurrent use.
type Rails struct {
	MSSP        NeverList // MSSP-wide never-block list (own egress, resolvers, IdPs, top domains)
	Tenants     map[string]TenantRails
	MaxPerHour  int // default blast radius per tenant per hour
	MinPrefixV4 int // the widest IPv4 prefix that may be blocked (default 16)
	MinPrefixV6 int // the widest IPv6 prefix that may be blocked (default 32)

	mu          sync.RWMutex
	tenantLists map[string]*NeverList
	msspExtra   *NeverList // MSSP-wide entries kept in the store (SetMSSPNeverBlock)
}

// DefaultRails returns rails with the built-in MSSP-wide lists (public DNS resolvers, identity
// providers, top domains), the MSSP's own egress addresses, and conservative limits.
func DefaultRails(ownEgress ...string) *Rails {
	r := &Rails{MaxPerHour: 200, MinPrefixV4: 16, MinPrefixV6: 32, Tenants: map[string]TenantRails{}}
	for _, name := range []string{"top-domains.txt", "resolvers.txt"} {
		b, err := builtinLists.ReadFile("lists/" + name)
		if err != nil {
			panic(err) // embedded at build time
		}
		r.MSSP.AddText("mssp:"+strings.TrimSuffix(name, ".txt"), string(b))
	}
	r.MSSP.Add("mssp:own-egress", ownEgress...)
	return r
}

// SetTenant sets a tenant's rails. Safe while the rails are in use.
func (r *Rails) SetTenant(tenantID string, t TenantRails) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setTenant(tenantID, t)
}

// SetNeverBlock replaces a tenant's never-block entries, keeping its other settings. Safe while the
// rails are in use.
func (r *Rails) SetNeverBlock(tenantID string, entries []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.Tenants[tenantID]
	t.NeverBlock = append([]string(nil), entries...)
	r.setTenant(tenantID, t)
}

// SetMSSPNeverBlock replaces the MSSP-wide never-block entries kept outside the built-in lists (the
// ones managed through the API). Safe while the rails are in use.
func (r *Rails) SetMSSPNeverBlock(entries []string) {
	l := &NeverList{}
	l.Add("mssp:list", entries...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msspExtra = l
}

func (r *Rails) setTenant(tenantID string, t TenantRails) {
	if r.Tenants == nil {
		r.Tenants = map[string]TenantRails{}
	}
	r.Tenants[tenantID] = t
	if r.tenantLists == nil {
		r.tenantLists = map[string]*NeverList{}
	}
	l := &NeverList{}
	l.Add("tenant:"+tenantID, t.NeverBlock...)
	r.tenantLists[tenantID] = l
}

// Refusal is why the rails refused an action.
type Refusal struct {
	Rule   string // never-block, private-range, too-broad, everything, blast-radius, invalid
	Reason string
}

func (r *Refusal) Error() string { return r.Rule + ": " + r.Reason }

func refuse(rule, format string, args ...any) error {
	return socbot.E("containment.Rails.Check", socbot.KindForbidden, &Refusal{Rule: rule, Reason: fmt.Sprintf(format, args...)})
}

// RefusalOf returns the refusal in err's chain, if any.
func RefusalOf(err error) (*Refusal, bool) {
	for err != nil {
		if r, ok := err.(*Refusal); ok {
			return r, true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return nil, false
		}
		err = u.Unwrap()
	}
	return nil, false
}

var alwaysRefused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("::/128"), netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("ff00::/8"),
}

var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// ParseIPValue reads an IP address or CIDR as a masked prefix.
func ParseIPValue(v string) (netip.Prefix, error) {
	v = strings.TrimSpace(v)
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR", v)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Check refuses a forward action that a rail forbids; count is the tenant's blast radius so far this
// hour (actions already created). Inverse actions only need a concrete value.
func (r *Rails) Check(tenantID string, kind socbot.ActionKind, value string, countThisHour int) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v := strings.TrimSpace(value)
	if everything(v) {
		return refuse("everything", "%s %q would act on everything", kind, value)
	}
	if !kind.Valid() {
		return refuse("invalid", "unknown action kind %q", kind)
	}
	if !kind.IsForward() {
		return nil
	}
	tr := r.Tenants[tenantID]
	max := tr.MaxPerHour
	if max == 0 {
		max = r.MaxPerHour
	}
	if max > 0 && countThisHour >= max {
		return refuse("blast-radius", "tenant %s already has %d containment actions in the last hour (max %d)", tenantID, countThisHour, max)
	}
	lists := []*NeverList{&r.MSSP}
	if r.msspExtra != nil {
		lists = append(lists, r.msspExtra)
	}
	if l := r.tenantLists[tenantID]; l != nil {
		lists = append(lists, l)
	}
	switch kind {
	case socbot.ActBlockIP:
		p, err := ParseIPValue(v)
		if err != nil {
			return refuse("invalid", "%v", err)
		}
		min := r.MinPrefixV4
		if p.Addr().Is6() {
			min = r.MinPrefixV6
		}
		if p.Bits() == 0 || p.Bits() < min {
			return refuse("too-broad", "%s is wider than /%d", p, min)
		}
		for _, q := range alwaysRefused {
			if q.Overlaps(p) {
				return refuse("private-range", "%s is in reserved range %s", p, q)
			}
		}
		if !tr.AllowPrivate {
			for _, q := range privateRanges {
				if q.Overlaps(p) {
					return refuse("private-range", "%s is in private range %s and tenant %s does not allow private blocks", p, q, tenantID)
				}
			}
		}
		for _, l := range lists {
			if e, ok := l.matchPrefix(p); ok {
				return refuse("never-block", "%s overlaps never-block entry %s", p, e)
			}
		}
	case socbot.ActBlockDomain:
		d := strings.TrimSuffix(strings.ToLower(v), ".")
		if err := checkDomain(d); err != nil {
			return err
		}
		for _, l := range lists {
			if e, ok := l.matchDomain(d); ok {
				return refuse("never-block", "domain %s collides with never-block entry %s", d, e)
			}
		}
	case socbot.ActBlockURL:
		u, err := url.Parse(v)
		if err != nil || u.Host == "" {
			if u2, err2 := url.Parse("http://" + v); err2 == nil && u2.Host != "" && !strings.Contains(v, "://") {
				u, err = u2, nil
			} else {
				return refuse("invalid", "%q is not a URL with a host", value)
			}
		}
		host := strings.ToLower(u.Hostname())
		if everything(host) || strings.Contains(host, "*") {
			return refuse("everything", "URL %q has a wildcard host", value)
		}
		if u.Path == "" || u.Path == "/" {
			if u.RawQuery == "" {
				for _, l := range lists {
					if e, ok := l.matchDomain(host); ok {
						return refuse("never-block", "URL %q would block all of never-block entry %s", value, e)
					}
				}
			}
		}
	case socbot.ActBlockSender:
		s := strings.ToLower(v)
		local, domain, hasAt := strings.Cut(s, "@")
		if !hasAt {
			domain, local = s, ""
		}
		if strings.Contains(local, "*") || strings.Contains(domain, "*") {
			return refuse("everything", "sender %q has a wildcard", value)
		}
		for _, l := range lists {
			if _, ok := l.matchExact(s); ok {
				return refuse("never-block", "sender %s is on a never-block list", s)
			}
		}
		if local == "" { // a whole sender domain
			if err := checkDomain(domain); err != nil {
				return err
			}
			for _, l := range lists {
				if e, ok := l.matchDomain(domain); ok {
					return refuse("never-block", "sender domain %s collides with never-block entry %s", domain, e)
				}
			}
		}
	case socbot.ActDisableUser, socbot.ActIsolateHost:
		if strings.ContainsAny(v, "*?") {
			return refuse("everything", "%s %q has a wildcard", kind, value)
		}
		for _, l := range lists {
			if _, ok := l.matchExact(v); ok {
				return refuse("never-block", "%s %s is on a never-block list", kind, v)
			}
		}
	}
	return nil
}

// everything reports values that would select everything at a vendor: empty, wildcards, "all".
func everything(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "*", "*.*", "all", "any", "everything", "0.0.0.0/0", "::/0", "*@*", "@", ".", "/", "%", "*/*":
		return true
	}
	return false
}

var publicSuffixes = map[string]bool{"co.uk": true, "org.uk": true, "ac.uk": true, "gov.uk": true, "com.au": true,
	"net.au": true, "co.jp": true, "co.nz": true, "com.br": true, "co.za": true, "com.cn": true, "co.in": true,
	"blogspot.com": true, "github.io": true, "herokuapp.com": true, "azurewebsites.net": true, "appspot.com": true}

func checkDomain(d string) error {
	if strings.Contains(strings.TrimPrefix(d, "*."), "*") {
		return refuse("everything", "domain %q has a wildcard beyond its first label", d)
	}
	base := strings.TrimPrefix(d, "*.")
	if !strings.Contains(base, ".") {
		return refuse("everything", "domain %q is a top-level domain", d)
	}
	if publicSuffixes[base] {
		return refuse("everything", "domain %q is a public suffix", d)
	}
	for _, r := range base {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return refuse("invalid", "domain %q has character %q", d, r)
		}
	}
	return nil
}

// checkRequest runs the rails with the blast radius read from the store.
func (r *Rails) checkRequest(ctx context.Context, st Store, now time.Time, tenantID string, kind socbot.ActionKind, value string) error {
	n := 0
	if kind.IsForward() {
		var err error
		if n, err = st.CountSince(ctx, tenantID, now.Add(-time.Hour)); err != nil {
			return err
		}
	}
	return r.Check(tenantID, kind, value, n)
}
