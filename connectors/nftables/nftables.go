// Package nftables is the containment connector for a Linux host firewall: it blocks IP addresses and
// CIDRs by adding them, with a timeout, to named nftables sets (one for IPv4, one for IPv6, both
// "flags interval, timeout") in an inet table it owns, whose input, forward and output chains drop
// traffic from and to the sets. The table, sets, chains and rules are created when missing. It talks
// netlink through github.com/google/nftables, optionally inside a named network namespace, and
// registers connector type "nftables".
//
// Options: table (default "socbot"), set4 ("bl4"), set6 ("bl6"), netns (a name under
// /var/run/netns or a path; default the current namespace), priority (chain priority, default -10).
package nftables

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	socbot "github.com/socbot/socbot"
	"golang.org/x/sys/unix"
)

// Type is the connector type.
const Type = "nftables"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) { return New(cfg) })
}

// Conn is one nftables connector instance.
type Conn struct {
	id       string
	table    string
	set4     string
	set6     string
	netns    string
	priority int32
	timeout  time.Duration
	now      func() time.Time

	mu    sync.Mutex
	ready bool
}

var (
	_ socbot.Connector        = (*Conn)(nil)
	_ socbot.ConnectorChecker = (*Conn)(nil)
)

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// New builds a connector from its configuration; nothing is touched until the first call.
func New(cfg socbot.ConnectorConfig) (*Conn, error) {
	const op = "nftables.New"
	c := &Conn{id: cfg.ID, table: "socbot", set4: "bl4", set6: "bl6", priority: -10, timeout: cfg.Timeout, now: time.Now}
	if c.id == "" {
		c.id = Type
	}
	if cfg.Clock != nil {
		c.now = cfg.Clock.Now
	}
	for k, v := range cfg.Options {
		switch k {
		case "table":
			c.table = v
		case "set4":
			c.set4 = v
		case "set6":
			c.set6 = v
		case "netns":
			c.netns = v
		case "priority":
			p, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return nil, socbot.FieldError(op, "options.priority", "must be an integer, got %q", v)
			}
			c.priority = int32(p)
		default:
			return nil, socbot.FieldError(op, "options."+k, "unknown option (known: table, set4, set6, netns, priority)")
		}
	}
	for field, v := range map[string]string{"table": c.table, "set4": c.set4, "set6": c.set6} {
		if !validName(v) {
			return nil, socbot.FieldError(op, "options."+field, "%q is not a valid nftables name", v)
		}
	}
	if c.set4 == c.set6 {
		return nil, socbot.FieldError(op, "options.set6", "must differ from set4")
	}
	return c, nil
}

// Type implements socbot.Connector.
func (c *Conn) Type() string { return Type }

// CallTimeout is the configured per-call timeout.
func (c *Conn) CallTimeout() time.Duration { return c.timeout }

// Supports implements socbot.Connector: IP addresses and CIDRs.
func (c *Conn) Supports(k socbot.ActionKind) bool {
	return k == socbot.ActBlockIP || k == socbot.ActUnblockIP
}

// Table, Set4 and Set6 name what the connector manages.
func (c *Conn) Table() string { return c.table }

// Set4 is the IPv4 set's name.
func (c *Conn) Set4() string { return c.set4 }

// Set6 is the IPv6 set's name.
func (c *Conn) Set6() string { return c.set6 }

// dial opens a netlink connection in the configured namespace; close releases it.
func (c *Conn) dial() (*nft.Conn, func(), error) {
	if c.netns == "" {
		cc, err := nft.New()
		return cc, func() {}, err
	}
	path := c.netns
	if !strings.ContainsRune(path, '/') {
		path = filepath.Join("/var/run/netns", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("network namespace %s: %w", c.netns, err)
	}
	cc, err := nft.New(nft.WithNetNSFd(int(f.Fd())))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return cc, func() { f.Close() }, nil
}

func (c *Conn) tbl() *nft.Table { return &nft.Table{Name: c.table, Family: nft.TableFamilyINet} }

func (c *Conn) sets() (*nft.Set, *nft.Set) {
	t := c.tbl()
	return &nft.Set{Table: t, Name: c.set4, KeyType: nft.TypeIPAddr, Interval: true, HasTimeout: true},
		&nft.Set{Table: t, Name: c.set6, KeyType: nft.TypeIP6Addr, Interval: true, HasTimeout: true}
}

// vendorErr classifies a netlink error for the executor's retry policy.
func (c *Conn) vendorErr(what string, err error) error {
	ve := &socbot.VendorError{Connector: c.id, Msg: what + ": " + err.Error()}
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		ve.Auth = true
		ve.Msg += " (needs root or CAP_NET_ADMIN)"
	case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EAGAIN), errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.EINTR), errors.Is(err, unix.ENOENT):
		ve.Retryable = true // ENOENT: the table was flushed or an element expired meanwhile; the next attempt rebuilds
	case errors.Is(err, unix.EAFNOSUPPORT), errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EOPNOTSUPP):
		ve.Msg += " (kernel without nf_tables support)"
	default:
		var errno syscall.Errno
		ve.Retryable = !errors.As(err, &errno) // transport errors are worth another try; kernel refusals are not
	}
	return ve
}

// ensure creates the table, sets, chains and rules when the table or a set is missing.
func (c *Conn) ensure(cc *nft.Conn) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready {
		return nil
	}
	t := c.tbl()
	s4, s6 := c.sets()
	if _, err := cc.ListTableOfFamily(c.table, nft.TableFamilyINet); err == nil {
		have4, err4 := cc.GetSetByName(t, c.set4)
		have6, err6 := cc.GetSetByName(t, c.set6)
		if err4 == nil && err6 == nil && have4 != nil && have6 != nil {
			if !have4.Interval || !have4.HasTimeout || !have6.Interval || !have6.HasTimeout {
				return &socbot.VendorError{Connector: c.id, Msg: fmt.Sprintf("sets %s/%s of table inet %s exist without flags interval, timeout", c.set4, c.set6, c.table)}
			}
			c.ready = true
			return nil
		}
	}
	cc.AddTable(t)
	if err := cc.AddSet(s4, nil); err != nil {
		return c.vendorErr("add set", err)
	}
	if err := cc.AddSet(s6, nil); err != nil {
		return c.vendorErr("add set", err)
	}
	accept := nft.ChainPolicyAccept
	prio := nft.ChainPriorityRef(nft.ChainPriority(c.priority))
	type match struct {
		set      *nft.Set
		proto    byte
		off, len uint32
	}
	src4 := match{s4, unix.NFPROTO_IPV4, 12, 4}
	dst4 := match{s4, unix.NFPROTO_IPV4, 16, 4}
	src6 := match{s6, unix.NFPROTO_IPV6, 8, 16}
	dst6 := match{s6, unix.NFPROTO_IPV6, 24, 16}
	chains := []struct {
		name    string
		hook    *nft.ChainHook
		matches []match
	}{
		{"input", nft.ChainHookInput, []match{src4, src6}},
		{"forward", nft.ChainHookForward, []match{src4, dst4, src6, dst6}},
		{"output", nft.ChainHookOutput, []match{dst4, dst6}},
	}
	existing := map[string]int{}
	if cs, err := cc.ListChainsOfTableFamily(nft.TableFamilyINet); err == nil {
		for _, ch := range cs {
			if ch.Table.Name == c.table {
				rules, _ := cc.GetRules(t, ch)
				existing[ch.Name] = len(rules)
			}
		}
	}
	for _, spec := range chains {
		ch := cc.AddChain(&nft.Chain{Name: spec.name, Table: t, Type: nft.ChainTypeFilter, Hooknum: spec.hook, Priority: prio, Policy: &accept})
		if existing[spec.name] > 0 {
			continue // rules already there
		}
		for _, m := range spec.matches {
			cc.AddRule(&nft.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{m.proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: m.off, Len: m.len},
				&expr.Lookup{SourceRegister: 1, SetName: m.set.Name, SetID: m.set.ID},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
	}
	if err := cc.Flush(); err != nil {
		return c.vendorErr("create table inet "+c.table, err)
	}
	c.ready = true
	return nil
}

// span is a half-open address range [lo, hi); hi is invalid when the range reaches the top.
type span struct {
	lo, hi netip.Addr
}

func prefixSpan(p netip.Prefix) (span, error) {
	lo := p.Masked().Addr()
	b := lo.AsSlice()
	bits := p.Bits()
	for i := bits; i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	last, _ := netip.AddrFromSlice(b)
	hi := last.Next()
	if !hi.IsValid() {
		return span{}, fmt.Errorf("%s reaches the top of the address space", p)
	}
	return span{lo, hi}, nil
}

func (s span) contains(o span) bool {
	return s.lo.Compare(o.lo) <= 0 && o.hi.Compare(s.hi) <= 0
}

func (s span) overlaps(o span) bool { return s.lo.Less(o.hi) && o.lo.Less(s.hi) }

func (s span) String() string {
	for bits := 0; bits <= s.lo.BitLen(); bits++ {
		p := netip.PrefixFrom(s.lo, bits)
		if p.Masked().Addr() != s.lo {
			continue
		}
		if ps, err := prefixSpan(p); err == nil && ps == s {
			if bits == s.lo.BitLen() {
				return s.lo.String()
			}
			return p.String()
		}
	}
	return s.lo.String() + "-" + s.hi.Prev().String()
}

// elements reads a set's elements as spans.
func readSpans(cc *nft.Conn, s *nft.Set) ([]span, error) {
	els, err := cc.GetSetElements(s)
	if err != nil {
		return nil, err
	}
	type key struct {
		a   netip.Addr
		end bool
	}
	var ks []key
	for _, e := range els {
		a, ok := netip.AddrFromSlice(e.Key)
		if !ok {
			continue
		}
		ks = append(ks, key{a, e.IntervalEnd})
	}
	sort.Slice(ks, func(i, j int) bool {
		if c := ks[i].a.Compare(ks[j].a); c != 0 {
			return c < 0
		}
		return ks[i].end && !ks[j].end // an end at the same address closes the previous range first
	})
	var out []span
	for i := 0; i < len(ks); i++ {
		if ks[i].end {
			continue
		}
		if i+1 < len(ks) && ks[i+1].end {
			out = append(out, span{ks[i].a, ks[i+1].a})
			i++
		}
	}
	return out, nil
}

type parsed struct {
	prefix netip.Prefix
	span   span
	v6     bool
	err    error
}

func parse(v string) parsed {
	v = strings.TrimSpace(v)
	var p netip.Prefix
	if q, err := netip.ParsePrefix(v); err == nil {
		p = q.Masked()
	} else if a, err := netip.ParseAddr(v); err == nil {
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		return parsed{err: fmt.Errorf("%q is neither an IP address nor a CIDR", v)}
	}
	if p.Addr().Zone() != "" {
		return parsed{err: fmt.Errorf("%q has a zone", v)}
	}
	s, err := prefixSpan(p)
	return parsed{prefix: p, span: s, v6: p.Addr().Is6(), err: err}
}

func elems(s span, ttl time.Duration, comment string) []nft.SetElement {
	return []nft.SetElement{
		{Key: s.lo.AsSlice(), Timeout: ttl, Comment: comment},
		{Key: s.hi.AsSlice(), IntervalEnd: true},
	}
}

// Apply implements socbot.Connector: every change of the batch goes to the kernel in one atomic
// netlink batch. Adding an address that is present (or inside a blocked CIDR) is AlreadyPresent;
// removing one that is absent is AlreadyAbsent.
func (c *Conn) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	var out []socbot.ContainmentResult
	var err error
	for try := 0; try < 2; try++ {
		if err = ctx.Err(); err != nil {
			return nil, err
		}
		out, err = c.apply(reqs)
		if err == nil {
			return out, nil
		}
		var ve *socbot.VendorError
		if !errors.As(err, &ve) || !ve.Retryable {
			return nil, err
		}
		c.mu.Lock()
		c.ready = false // the table may have been removed under us
		c.mu.Unlock()
	}
	return nil, err
}

func (c *Conn) apply(reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	cc, done, err := c.dial()
	if err != nil {
		return nil, c.vendorErr("netlink", err)
	}
	defer done()
	if err := c.ensure(cc); err != nil {
		return nil, err
	}
	s4, s6 := c.sets()
	cur4, err := readSpans(cc, s4)
	if err != nil {
		return nil, c.vendorErr("list set "+c.set4, err)
	}
	cur6, err := readSpans(cc, s6)
	if err != nil {
		return nil, c.vendorErr("list set "+c.set6, err)
	}
	now := c.now()
	out := make([]socbot.ContainmentResult, len(reqs))
	var add4, add6, del4, del6 []nft.SetElement
	changed := false
	for i, r := range reqs {
		if !c.Supports(r.Kind) {
			out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: socbot.E("nftables.Apply", socbot.KindUnsupported, "nftables cannot "+string(r.Kind))}
			continue
		}
		p := parse(r.Value)
		if p.err != nil {
			out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: socbot.FieldError("nftables.Apply", "value", "%v", p.err)}
			continue
		}
		cur, set := &cur4, c.set4
		add, del := &add4, &del4
		if p.v6 {
			cur, set = &cur6, c.set6
			add, del = &add6, &del6
		}
		ref := fmt.Sprintf("%s %s", set, p.prefix)
		if r.Kind == socbot.ActBlockIP {
			res := socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: ref}
			var covering, overlapping string
			for _, s := range *cur {
				if s == p.span {
					res.Outcome = socbot.OutcomeAlreadyPresent
				} else if s.contains(p.span) {
					covering = s.String()
				} else if s.overlaps(p.span) {
					overlapping = s.String()
				}
			}
			switch {
			case covering != "" && res.Outcome != socbot.OutcomeAlreadyPresent:
				res = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: set + " " + covering,
					Detail: "inside blocked " + covering}
				out[i] = res
				continue
			case overlapping != "" && res.Outcome != socbot.OutcomeAlreadyPresent:
				out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeFailed, Err: &socbot.VendorError{Connector: c.id,
					Msg: fmt.Sprintf("%s overlaps blocked %s; unblock that first", p.prefix, overlapping)}}
				continue
			}
			if res.Outcome == socbot.OutcomeAlreadyPresent {
				// Re-adding refreshes the timeout on kernels that support timeout updates; the kernel
				// keeps the element either way.
				res.Detail = "already in set " + set
			}
			*add = append(*add, elems(p.span, r.TTL, comment(r))...)
			*cur = append(*cur, p.span)
			changed = true
			if r.TTL > 0 {
				t := now.Add(r.TTL)
				res.ExpiresAt = &t
			}
			out[i] = res
			continue
		}
		// unblock
		found := -1
		for j, s := range *cur {
			if s == p.span {
				found = j
			}
		}
		if found < 0 {
			out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, VendorRef: ref}
			continue
		}
		*del = append(*del, elems(p.span, 0, "")...)
		*cur = append((*cur)[:found], (*cur)[found+1:]...)
		changed = true
		out[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: ref}
	}
	if !changed {
		return out, nil
	}
	for _, x := range []struct {
		s   *nft.Set
		els []nft.SetElement
		add bool
	}{{s4, del4, false}, {s6, del6, false}, {s4, add4, true}, {s6, add6, true}} {
		if len(x.els) == 0 {
			continue
		}
		var err error
		if x.add {
			err = cc.SetAddElements(x.s, x.els)
		} else {
			err = cc.SetDeleteElements(x.s, x.els)
		}
		if err != nil {
			return nil, c.vendorErr("set elements", err)
		}
	}
	if err := cc.Flush(); err != nil {
		return nil, c.vendorErr("commit", err)
	}
	return out, nil
}

func comment(r socbot.ContainmentRequest) string {
	s := r.Reference
	if s == "" {
		s = "soc"
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// Check implements socbot.ConnectorChecker: whether each address is blocked now (itself or inside a
// blocked CIDR).
func (c *Conn) Check(ctx context.Context, reqs []socbot.ContainmentRequest) ([]bool, error) {
	cc, done, err := c.dial()
	if err != nil {
		return nil, c.vendorErr("netlink", err)
	}
	defer done()
	s4, s6 := c.sets()
	cur4, err4 := readSpans(cc, s4)
	cur6, err6 := readSpans(cc, s6)
	out := make([]bool, len(reqs))
	for i, r := range reqs {
		p := parse(r.Value)
		if p.err != nil {
			continue
		}
		cur, err := cur4, err4
		if p.v6 {
			cur, err = cur6, err6
		}
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // no table or set: nothing is blocked
			}
			return nil, c.vendorErr("list set", err)
		}
		for _, s := range cur {
			if s.contains(p.span) {
				out[i] = true
			}
		}
	}
	return out, nil
}

// Blocked lists what the sets hold now, as addresses and CIDRs.
func (c *Conn) Blocked(ctx context.Context) ([]string, error) {
	cc, done, err := c.dial()
	if err != nil {
		return nil, c.vendorErr("netlink", err)
	}
	defer done()
	s4, s6 := c.sets()
	var out []string
	for _, s := range []*nft.Set{s4, s6} {
		spans, err := readSpans(cc, s)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, c.vendorErr("list set "+s.Name, err)
		}
		for _, sp := range spans {
			out = append(out, sp.String())
		}
	}
	return out, nil
}

// Plan implements socbot.Connector: the nft command that has the same effect as each request.
func (c *Conn) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	present, _ := c.Check(ctx, reqs) // best effort: a missing table means nothing is present
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		ch := socbot.PlannedChange{Connector: c.id, Kind: r.Kind, Value: r.Value}
		p := parse(r.Value)
		switch {
		case !c.Supports(r.Kind):
			ch.Change = "unsupported: nftables only blocks IP addresses and CIDRs"
		case p.err != nil:
			ch.Change = "invalid: " + p.err.Error()
		default:
			set := c.set4
			if p.v6 {
				set = c.set6
			}
			isPresent := present != nil && present[i]
			if r.Kind == socbot.ActBlockIP {
				el := p.prefix.String()
				if p.prefix.Bits() == p.prefix.Addr().BitLen() {
					el = p.prefix.Addr().String()
				}
				if r.TTL > 0 {
					el += " timeout " + strconv.FormatInt(int64(r.TTL/time.Second), 10) + "s"
				}
				ch.Change = fmt.Sprintf("nft add element inet %s %s { %s comment %q }", c.table, set, el, comment(r))
				if isPresent {
					ch.Change += " (already blocked: timeout refreshed)"
				}
			} else if isPresent {
				ch.Change = fmt.Sprintf("nft delete element inet %s %s { %s }", c.table, set, p.prefix)
			} else {
				ch.Change = fmt.Sprintf("none: %s is not in set inet %s %s", p.prefix, c.table, set)
			}
		}
		out[i] = ch
	}
	return out, nil
}

// Teardown deletes the connector's table (tests and the CLI's cleanup).
func (c *Conn) Teardown() error {
	cc, done, err := c.dial()
	if err != nil {
		return c.vendorErr("netlink", err)
	}
	defer done()
	cc.DelTable(c.tbl())
	if err := cc.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return c.vendorErr("delete table", err)
	}
	c.mu.Lock()
	c.ready = false
	c.mu.Unlock()
	return nil
}
