package intel

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// Synthetic data for benchmarks (socbot bench intel and go test -bench): a deterministic mix of
// indicator types in proportions seen in real feeds.

var synthTLDs = []string{"com", "net", "org", "ru", "info", "xyz", "top", "de", "cn", "io"}

var synthWords = []string{"update", "cdn", "secure", "login", "mail", "api", "files", "static", "portal",
	"cloud", "service", "data", "web", "app", "auth", "sync", "docs", "shop", "news", "dl"}

func synthLabel(r *rand.Rand) string {
	return fmt.Sprintf("%s%s%d", synthWords[r.IntN(len(synthWords))], synthWords[r.IntN(len(synthWords))], r.IntN(1000000))
}

func synthHex(r *rand.Rand, n int) string {
	b := make([]byte, n/2)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

// SyntheticValue returns the i-th synthetic indicator of a deterministic stream.
func SyntheticValue(r *rand.Rand) (ioc.Type, string) {
	switch p := r.IntN(100); {
	case p < 30:
		return ioc.IPv4, netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}).String()
	case p < 34:
		var b [16]byte
		b[0], b[1] = 0x20, 0x01
		for i := 2; i < 16; i++ {
			b[i] = byte(r.Uint32())
		}
		return ioc.IPv6, netip.AddrFrom16(b).String()
	case p < 36:
		a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.Uint32()), byte(r.Uint32()), 0})
		pf, _ := a.Prefix(16 + r.IntN(9))
		return ioc.CIDR, pf.String()
	case p < 61:
		d := synthLabel(r) + "." + synthTLDs[r.IntN(len(synthTLDs))]
		if r.IntN(3) == 0 {
			d = synthWords[r.IntN(len(synthWords))] + "." + d
		}
		return ioc.Domain, d
	case p < 81:
		return ioc.URL, "http://" + synthLabel(r) + "." + synthTLDs[r.IntN(len(synthTLDs))] + "/" + synthWords[r.IntN(len(synthWords))] + "/" + synthHex(r, 8) + ".php"
	case p < 89:
		return ioc.SHA256, synthHex(r, 64)
	case p < 94:
		return ioc.MD5, synthHex(r, 32)
	case p < 97:
		return ioc.SHA1, synthHex(r, 40)
	default:
		return ioc.Email, synthLabel(r) + "@" + synthLabel(r) + "." + synthTLDs[r.IntN(len(synthTLDs))]
	}
}

// SyntheticEntries returns n index entries: tenants spread over 20 tenant ids and the MSSP-wide set,
// scores 50-100, last seen within the last 7 days of now.
func SyntheticEntries(n int, seed uint64, now time.Time) []IndexEntry {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	srcs := [][]string{{"abusech-urlhaus"}, {"abusech-feodo"}, {"misp-circl"}, {"taxii-isac", "misp-circl"}, {"otx"}}
	out := make([]IndexEntry, n)
	for i := range out {
		t, v := SyntheticValue(r)
		tenant := ""
		if k := r.IntN(21); k > 0 {
			tenant = fmt.Sprintf("tenant-%02d", k)
		}
		out[i] = IndexEntry{TenantID: tenant, Type: t, Value: v, Base: 50 + r.IntN(51),
			Ref: now.Add(-time.Duration(r.IntN(7*24)) * time.Hour), TLP: TLP(r.IntN(3)), Sources: srcs[r.IntN(len(srcs))]}
	}
	return out
}

// Observation is one lookup of a benchmark workload.
type Observation struct {
	Tenant string
	Type   socbot.ObservableType
	Value  string
}

// SyntheticQueries returns n lookups against entries: about half are values of the set (some as
// subdomains of domain indicators and addresses inside CIDRs), half random values that are absent.
func SyntheticQueries(entries []IndexEntry, n int, seed uint64) []Observation {
	return SyntheticQueriesRatio(entries, n, seed, 0.5)
}

// SyntheticQueriesRatio is SyntheticQueries with the share of values taken from the set given (the
// rest are random values, nearly all absent). The values are substrings of one buffer, in order, as
// a parser hands out the fields of the log lines or alerts it reads.
func SyntheticQueriesRatio(entries []IndexEntry, n int, seed uint64, present float64) []Observation {
	out := syntheticQueries(entries, n, seed, present)
	var b strings.Builder
	for _, o := range out {
		b.WriteString(o.Value)
	}
	all := b.String()
	off := 0
	for i := range out {
		l := len(out[i].Value)
		out[i].Value = all[off : off+l]
		off += l
	}
	return out
}

func syntheticQueries(entries []IndexEntry, n int, seed uint64, present float64) []Observation {
	r := rand.New(rand.NewPCG(seed, seed^0xfeed))
	out := make([]Observation, n)
	for i := range out {
		tenant := fmt.Sprintf("tenant-%02d", 1+r.IntN(20))
		if r.Float64() < present && len(entries) > 0 {
			e := entries[r.IntN(len(entries))]
			if e.TenantID != "" {
				tenant = e.TenantID
			}
			// a fresh copy: an observed value arrives in a new buffer, not in the indicator's memory
			o := Observation{Tenant: tenant, Value: strings.Clone(e.Value)}
			switch e.Type {
			case ioc.IPv4, ioc.IPv6:
				o.Type = socbot.ObsIP
			case ioc.CIDR:
				p := netip.MustParsePrefix(e.Value)
				b := p.Addr().As4()
				b[3] = byte(1 + r.IntN(254))
				o.Type, o.Value = socbot.ObsIP, netip.AddrFrom4(b).String()
			case ioc.Domain:
				o.Type = socbot.ObsDomain
				if r.IntN(2) == 0 {
					o.Value = "www." + e.Value
				}
			case ioc.URL:
				o.Type = socbot.ObsURL
			case ioc.SHA256:
				o.Type = socbot.ObsSHA256
			case ioc.MD5:
				o.Type = socbot.ObsMD5
			case ioc.SHA1:
				o.Type = socbot.ObsSHA1
			case ioc.Email:
				o.Type = socbot.ObsEmail
			}
			out[i] = o
			continue
		}
		t, v := SyntheticValue(r)
		o := Observation{Tenant: tenant, Value: v}
		switch t {
		case ioc.IPv4, ioc.IPv6:
			o.Type = socbot.ObsIP
		case ioc.CIDR:
			o.Type, o.Value = socbot.ObsIP, netip.MustParsePrefix(v).Addr().Next().String()
		case ioc.Domain:
			o.Type = socbot.ObsDomain
		case ioc.URL:
			o.Type = socbot.ObsURL
		case ioc.Email:
			o.Type = socbot.ObsEmail
		default:
			o.Type = socbot.ObsSHA256
		}
		out[i] = o
	}
	return out
}
