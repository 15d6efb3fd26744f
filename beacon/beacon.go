// Package beacon finds beaconing in connection logs: hosts that call the same destination at
// regular intervals with regular amounts of data over a long part of the observation window, as
// command-and-control implants do. Each source/destination pair (destination by IP, or by host name
// when the connection went through a web proxy) gets a score from 0 to 1 built from four parts that
// are reported with it: interval regularity, data size regularity, persistence (share of the
// observed hours with a connection) and connection count.
package beacon

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"time"
)

// Conn is one connection (or one proxied request).
type Conn struct {
	Src      string
	Dst      string // IP, or host name for proxied requests
	Proxy    string // proxy address ("ip:port") when the request went through one
	Time     time.Time
	Bytes    int64 // bytes both ways
	Duration float64
}

// Options tune the analysis.
type Options struct {
	MinConns   int  // pairs with fewer connections are not scored (default 5)
	MaxPairs   int  // bound on tracked pairs (default 1,000,000); further new pairs are counted and dropped
	MaxPerPair int  // bound on connections kept per pair (default 86,400); older ones are thinned
	KeepLocal  bool // keep multicast, broadcast and link-local destinations (dropped by default)
}

// Result is one scored pair.
type Result struct {
	Src            string    `json:"src"`
	Dst            string    `json:"dst"`
	Proxy          string    `json:"proxy,omitempty"`
	Conns          int       `json:"connections"`
	TotalBytes     int64     `json:"total_bytes"`
	First          time.Time `json:"first"`
	Last           time.Time `json:"last"`
	Score          float64   `json:"score"`
	IntervalScore  float64   `json:"interval_score"`
	SizeScore      float64   `json:"size_score"`
	PersistScore   float64   `json:"persistence_score"`
	CountScore     float64   `json:"count_score"`
	IntervalMedian float64   `json:"interval_median_s"`
	IntervalMAD    float64   `json:"interval_mad_s"`
	SizeMedian     float64   `json:"size_median_bytes"`
	SizeMAD        float64   `json:"size_mad_bytes"`
	Why            string    `json:"why"`
}

type pairKey struct{ src, dst, proxy string }

type pair struct {
	times []int64 // unix nanoseconds
	bytes []int64
	total int64
}

// Analyzer accumulates connections and scores pairs. Not safe for concurrent use.
type Analyzer struct {
	opts        Options
	pairs       map[pairKey]*pair
	first, last time.Time
	Dropped     int // connections to pairs beyond MaxPairs
	Filtered    int // connections to local/multicast destinations
}

// New returns an analyzer.
func New(opts Options) *Analyzer {
	if opts.MinConns <= 0 {
		opts.MinConns = 5
	}
	if opts.MaxPairs <= 0 {
		opts.MaxPairs = 1_000_000
	}
	if opts.MaxPerPair <= 0 {
		opts.MaxPerPair = 86_400
	}
	return &Analyzer{opts: opts, pairs: map[pairKey]*pair{}}
}

// Add records one connection.
func (a *Analyzer) Add(c Conn) {
	if c.Time.IsZero() || c.Src == "" || c.Dst == "" {
		return
	}
	if !a.opts.KeepLocal && c.Proxy == "" {
		if ip, err := netip.ParseAddr(c.Dst); err == nil && (ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || ip.IsUnspecified()) {
			a.Filtered++
			return
		}
	}
	if a.first.IsZero() || c.Time.Before(a.first) {
		a.first = c.Time
	}
	if c.Time.After(a.last) {
		a.last = c.Time
	}
	k := pairKey{c.Src, c.Dst, c.Proxy}
	p := a.pairs[k]
	if p == nil {
		if len(a.pairs) >= a.opts.MaxPairs {
			a.Dropped++
			return
		}
		p = &pair{}
		a.pairs[k] = p
	}
	if len(p.times) >= a.opts.MaxPerPair {
		// thin: keep every other connection so the pattern survives in bounded memory
		j := 0
		for i := 0; i < len(p.times); i += 2 {
			p.times[j], p.bytes[j] = p.times[i], p.bytes[i]
			j++
		}
		p.times, p.bytes = p.times[:j], p.bytes[:j]
	}
	p.times = append(p.times, c.Time.UnixNano())
	p.bytes = append(p.bytes, c.Bytes)
	p.total += c.Bytes
}

// Results scores every pair with at least MinConns connections, highest score first.
func (a *Analyzer) Results() []Result {
	var out []Result
	windowHours := math.Max(1, math.Ceil(a.last.Sub(a.first).Hours()))
	for k, p := range a.pairs {
		if len(p.times) < a.opts.MinConns {
			continue
		}
		out = append(out, score(k, p, windowHours))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		if out[i].Conns != out[j].Conns {
			return out[i].Conns > out[j].Conns
		}
		return out[i].Src+out[i].Dst < out[j].Src+out[j].Dst
	})
	return out
}

func score(k pairKey, p *pair, windowHours float64) Result {
	idx := make([]int, len(p.times))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return p.times[idx[i]] < p.times[idx[j]] })
	ts := make([]float64, 0, len(idx))
	sizes := make([]float64, 0, len(idx))
	hours := map[int64]bool{}
	for _, i := range idx {
		ts = append(ts, float64(p.times[i])/1e9)
		sizes = append(sizes, float64(p.bytes[i]))
		hours[p.times[i]/int64(time.Hour)] = true
	}
	var deltas []float64
	for i := 1; i < len(ts); i++ {
		if d := ts[i] - ts[i-1]; d > 0.5 { // connections in the same second are one burst
			deltas = append(deltas, d)
		}
	}
	r := Result{Src: k.src, Dst: k.dst, Proxy: k.proxy, Conns: len(ts), TotalBytes: p.total,
		First: time.Unix(0, p.times[idx[0]]).UTC(), Last: time.Unix(0, p.times[idx[len(idx)-1]]).UTC()}
	// interval regularity: symmetric (Bowley skew near 0) and tight (MAD small against the median)
	if len(deltas) >= 2 {
		skew, med, mad := stats(deltas)
		r.IntervalMedian, r.IntervalMAD = med, mad
		r.IntervalScore = (1-math.Abs(skew))/2 + (1-math.Min(1, mad/math.Max(med, 1)))/2
	}
	skew, med, mad := stats(sizes)
	r.SizeMedian, r.SizeMAD = med, mad
	smallness := 1 - math.Min(1, med/65535)
	r.SizeScore = ((1 - math.Abs(skew)) + (1 - math.Min(1, mad/math.Max(med, 1))) + smallness) / 3
	r.PersistScore = math.Min(1, float64(len(hours))/windowHours)
	// count: saturates at one connection per observed hour on average
	r.CountScore = math.Min(1, float64(len(ts))/windowHours)
	r.Score = round3(0.35*r.IntervalScore + 0.25*r.SizeScore + 0.25*r.PersistScore + 0.15*r.CountScore)
	r.IntervalScore, r.SizeScore, r.PersistScore, r.CountScore = round3(r.IntervalScore), round3(r.SizeScore), round3(r.PersistScore), round3(r.CountScore)
	r.Why = fmt.Sprintf("%d connections over %s; interval median %.0fs (MAD %.0fs); size median %.0f B (MAD %.0f B); active in %d of %.0f hours",
		r.Conns, r.Last.Sub(r.First).Round(time.Minute), r.IntervalMedian, r.IntervalMAD, r.SizeMedian, r.SizeMAD, len(hours), windowHours)
	return r
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// stats returns Bowley's quartile skewness, the median and the median absolute deviation.
func stats(v []float64) (skew, median, mad float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	q1, q2, q3 := quantile(s, 0.25), quantile(s, 0.5), quantile(s, 0.75)
	if q3-q1 > 0 {
		skew = (q3 + q1 - 2*q2) / (q3 - q1)
	}
	dev := make([]float64, len(s))
	for i, x := range s {
		dev[i] = math.Abs(x - q2)
	}
	sort.Float64s(dev)
	return skew, q2, quantile(dev, 0.5)
}

func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}
