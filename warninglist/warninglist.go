// Package warninglist filters false-positive indicators with MISP warninglists: lists of well-known
// benign values (top sites, cloud ranges, RFC 1918 space, empty-file hashes, security blogs ...).
//
// Lists are loaded from MISP's JSON files and indexed by type, never scanned: string and hostname
// entries go into hash sets (hostname lookups walk the labels of the name from the left), cidr
// entries into per-prefix-length hash tables, substring entries into one Aho-Corasick automaton, and
// regex entries are compiled once (RE2, linear time). Check tells which list filtered a value.
package warninglist

import (
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// List types of the MISP warninglist format.
const (
	TypeString    = "string"
	TypeSubstring = "substring"
	TypeHostname  = "hostname"
	TypeCIDR      = "cidr"
	TypeRegex     = "regex"
)

// File is a warninglist as MISP writes it.
type File struct {
	Name               string   `json:"name"`
	Version            int      `json:"version"`
	Description        string   `json:"description"`
	Type               string   `json:"type"`
	List               []string `json:"list"`
	MatchingAttributes []string `json:"matching_attributes"`
}

// Info describes a loaded list.
type Info struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Type        string `json:"type"`
	Entries     int    `json:"entries"`
	Skipped     int    `json:"skipped,omitempty"` // entries that could not be used (bad CIDR, regex RE2 cannot run)
	Description string `json:"description,omitempty"`
	appliesTo   uint32 // bit set of ioc types
}

// Hit says which list filtered a value and through which entry.
type Hit struct {
	List  string `json:"list"`
	Type  string `json:"type"`
	Entry string `json:"entry"`
}

// Set is an indexed collection of warninglists. Build it with Add/Load, then call Check from any
// number of goroutines (it is read-only after loading).
type Set struct {
	lists     []Info
	str       map[string][]int32 // exact value (lower case) -> lists
	suffix    map[string][]int32 // hostname entries and ".x" string entries -> lists; value = entry without leading dot
	suffixOnl map[string]bool    // entry must match a strict subdomain only (".google.com")
	cidr      [2]map[int]map[netip.Addr][]int32
	cidrLens  [2][]int
	ac        *acBuilder
	acMachine *automaton
	regexes   []regexEntry
}

type regexEntry struct {
	re   *regexp.Regexp
	src  string
	list int32
}

// New returns an empty set.
func New() *Set {
	return &Set{
		str:       map[string][]int32{},
		suffix:    map[string][]int32{},
		suffixOnl: map[string]bool{},
		cidr:      [2]map[int]map[netip.Addr][]int32{{}, {}},
		ac:        &acBuilder{},
	}
}

// attribute types of MISP mapped to ioc types.
var attrTypes = map[string][]ioc.Type{
	"ip-src": {ioc.IPv4, ioc.IPv6, ioc.CIDR}, "ip-dst": {ioc.IPv4, ioc.IPv6, ioc.CIDR},
	"ip-src|port": {ioc.IPv4, ioc.IPv6}, "ip-dst|port": {ioc.IPv4, ioc.IPv6},
	"domain|ip": {ioc.Domain, ioc.IPv4, ioc.IPv6}, "domain": {ioc.Domain}, "hostname": {ioc.Domain},
	"url": {ioc.URL}, "uri": {ioc.URL}, "link": {ioc.URL},
	"email": {ioc.Email}, "email-src": {ioc.Email}, "email-dst": {ioc.Email}, "target-email": {ioc.Email},
	"whois-registrant-email": {ioc.Email},
	"md5":                    {ioc.MD5}, "sha1": {ioc.SHA1}, "sha256": {ioc.SHA256}, "sha512": {ioc.SHA512},
	"filename|md5": {ioc.MD5}, "filename|sha1": {ioc.SHA1}, "filename|sha256": {ioc.SHA256}, "filename|sha512": {ioc.SHA512},
	"vulnerability": {ioc.CVE},
}

func typeBit(t ioc.Type) uint32 {
	for i, k := range ioc.Types {
		if k == t {
			return 1 << uint(i)
		}
	}
	return 0
}

// Load reads one warninglist file (list.json) and adds it.
func (s *Set) Load(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, socbot.E("warninglist.Load", socbot.KindNotFound, err)
	}
	defer f.Close()
	return s.Read(f)
}

// LoadDir loads every *.json file below dir that is a warninglist (files without a name, type and list,
// such as MISP's schema.json, are skipped).
func (s *Set) LoadDir(dir string) ([]Info, error) {
	var out []Info
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		info, err := s.Load(p)
		if err != nil {
			if socbot.IsKind(err, socbot.KindUnsupported) {
				return nil
			}
			return socbot.E("warninglist.LoadDir", err, p)
		}
		out = append(out, info)
		return nil
	})
	return out, err
}

// Read decodes a warninglist from r and adds it.
func (s *Set) Read(r io.Reader) (Info, error) {
	var f File
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return Info{}, socbot.E("warninglist.Read", socbot.KindInvalid, err)
	}
	if f.Name == "" || f.Type == "" {
		return Info{}, socbot.E("warninglist.Read", socbot.KindUnsupported, "not a warninglist: name or type missing")
	}
	return s.Add(f)
}

// Add indexes a list.
func (s *Set) Add(f File) (Info, error) {
	const op = "warninglist.Add"
	id := int32(len(s.lists))
	info := Info{ID: int(id), Name: f.Name, Version: f.Version, Type: f.Type, Description: f.Description}
	for _, a := range f.MatchingAttributes {
		for _, t := range attrTypes[a] {
			info.appliesTo |= typeBit(t)
		}
	}
	if len(f.MatchingAttributes) == 0 {
		info.appliesTo = ^uint32(0)
	}
	for _, e := range f.List {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		ok := true
		switch f.Type {
		case TypeString:
			l := strings.ToLower(e)
			if strings.HasPrefix(l, ".") && len(l) > 1 {
				s.suffix[l[1:]] = append(s.suffix[l[1:]], id)
				s.suffixOnl[l[1:]] = true
			} else {
				s.str[l] = append(s.str[l], id)
			}
		case TypeHostname:
			l := strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(e), "."), ".")
			s.suffix[l] = append(s.suffix[l], id)
		case TypeCIDR:
			ok = s.addCIDR(e, id)
		case TypeSubstring:
			s.ac.add(strings.ToLower(e), id)
			s.acMachine = nil
		case TypeRegex:
			re, err := compilePCRE(e)
			if err != nil {
				ok = false
			} else {
				s.regexes = append(s.regexes, regexEntry{re: re, src: e, list: id})
			}
		default:
			return Info{}, socbot.FieldError(op, "type", "list %q has unknown type %q", f.Name, f.Type)
		}
		if ok {
			info.Entries++
		} else {
			info.Skipped++
		}
	}
	s.lists = append(s.lists, info)
	return info, nil
}

func (s *Set) addCIDR(e string, id int32) bool {
	var p netip.Prefix
	var err error
	if strings.IndexByte(e, '/') >= 0 {
		p, err = netip.ParsePrefix(e)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(e)
		if err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return false
	}
	p = p.Masked()
	fam := 0
	if p.Addr().Is6() {
		fam = 1
	}
	m := s.cidr[fam][p.Bits()]
	if m == nil {
		m = map[netip.Addr][]int32{}
		s.cidr[fam][p.Bits()] = m
		s.cidrLens[fam] = append(s.cidrLens[fam], p.Bits())
		sort.Sort(sort.Reverse(sort.IntSlice(s.cidrLens[fam])))
	}
	m[p.Addr()] = append(m[p.Addr()], id)
	return true
}

// compilePCRE turns MISP's "/pattern/flags" into an RE2 regexp.
func compilePCRE(e string) (*regexp.Regexp, error) {
	pat, flags := e, ""
	if strings.HasPrefix(e, "/") {
		if j := strings.LastIndexByte(e, '/'); j > 0 {
			pat, flags = e[1:j], e[j+1:]
		}
	}
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i':
			prefix += "i"
		case 's':
			prefix += "s"
		case 'm':
			prefix += "m"
		}
	}
	if prefix != "" {
		pat = "(?" + prefix + ")" + pat
	}
	return regexp.Compile(pat)
}

// Lists describes the loaded lists.
func (s *Set) Lists() []Info { return append([]Info(nil), s.lists...) }

// Len is the number of lists loaded.
func (s *Set) Len() int { return len(s.lists) }

// Freeze builds the substring automaton; Check calls it on first use if needed, but calling it after
// loading keeps Check free of writes (and so safe for concurrent use).
func (s *Set) Freeze() {
	if s.acMachine == nil && len(s.ac.patterns) > 0 {
		s.acMachine = s.ac.build()
	}
}

// Check reports the first list (in load order) that filters value of type t. The value should be in
// canonical form (ioc.Normalize). URLs are also checked by their host against host lists.
func (s *Set) Check(t ioc.Type, value string) (Hit, bool) {
	bit := typeBit(t)
	best := Hit{}
	bestID := int32(-1)
	consider := func(ids []int32, entry string) {
		for _, id := range ids {
			if s.lists[id].appliesTo&bit == 0 {
				continue
			}
			if bestID < 0 || id < bestID {
				bestID = id
				best = Hit{List: s.lists[id].Name, Type: s.lists[id].Type, Entry: entry}
			}
		}
	}
	v := strings.ToLower(value)
	if ids, ok := s.str[v]; ok {
		consider(ids, v)
	}
	host := ""
	switch t {
	case ioc.Domain:
		host = v
	case ioc.URL:
		host = ioc.URLHost(v)
		if ids, ok := s.str[host]; ok {
			consider(ids, host)
		}
	case ioc.Email:
		if at := strings.LastIndexByte(v, '@'); at >= 0 {
			host = v[at+1:]
		}
	}
	if host != "" {
		// the name itself, then each parent domain, label by label from the left
		for h, parent := host, false; ; parent = true {
			if ids, ok := s.suffix[h]; ok && (parent || !s.suffixOnl[h]) {
				consider(ids, h)
			}
			i := strings.IndexByte(h, '.')
			if i < 0 {
				break
			}
			h = h[i+1:]
		}
	}
	switch t {
	case ioc.IPv4, ioc.IPv6, ioc.CIDR, ioc.URL:
		ipStr := v
		if t == ioc.URL {
			ipStr = host
		}
		var a netip.Addr
		var err error
		bits := -1
		if t == ioc.CIDR {
			var p netip.Prefix
			p, err = netip.ParsePrefix(ipStr)
			a, bits = p.Addr(), p.Bits()
		} else {
			a, err = netip.ParseAddr(ipStr)
		}
		if err == nil {
			a = a.Unmap()
			fam := 0
			if a.Is6() {
				fam = 1
			}
			if bits < 0 {
				bits = a.BitLen()
			}
			for _, l := range s.cidrLens[fam] {
				if l > bits {
					continue // a prefix narrower than the value does not cover it
				}
				p, _ := a.Prefix(l)
				if ids, ok := s.cidr[fam][l][p.Addr()]; ok {
					consider(ids, p.String())
				}
			}
		}
	}
	if len(s.ac.patterns) > 0 {
		m := s.acMachine
		if m == nil {
			m = s.ac.build()
		}
		m.each(v, func(pat int) {
			consider(s.ac.patterns[pat].lists, s.ac.patterns[pat].s)
		})
	}
	for _, r := range s.regexes {
		if bestID >= 0 && r.list > bestID {
			continue
		}
		if s.lists[r.list].appliesTo&bit != 0 && r.re.MatchString(value) {
			consider([]int32{r.list}, r.src)
		}
	}
	return best, bestID >= 0
}
