package sqlstore

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
)

// The compact row of an indicator (migration 0102_intel_compact): the STIX id as the 16 bytes of its
// UUID, and the fields no query filters on as one binary document.

// idPrefix is the prefix of every indicator id; the rest is a canonical lower-case UUID.
const idPrefix = "indicator--"

const idLen = len(idPrefix) + 36

// unhexNibble maps a lower-case hex digit to its value, anything else to 0xff.
var unhexNibble = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	return t
}()

// uuidDash reports whether position j (0-35) of a canonical UUID holds a dash.
func uuidDash(j int) bool { return j == 8 || j == 13 || j == 18 || j == 23 }

// appendIDKey appends the 16-byte key of an indicator id ("indicator--" and a canonical lower-case
// UUID, as intel.IndicatorID makes them); ok is false for anything else.
func appendIDKey(b []byte, id string) ([]byte, bool) {
	if len(id) != idLen || id[:len(idPrefix)] != idPrefix {
		return b, false
	}
	u := id[len(idPrefix):]
	var k [16]byte
	n := 0
	for j := 0; j < 36; j += 2 {
		if uuidDash(j) {
			if u[j] != '-' {
				return b, false
			}
			j--
			continue
		}
		hi, lo := unhexNibble[u[j]], unhexNibble[u[j+1]]
		if hi|lo == 0xff {
			return b, false
		}
		k[n] = hi<<4 | lo
		n++
	}
	return append(b, k[:]...), true
}

// idKey is appendIDKey into a new slice.
func idKey(id string) ([]byte, bool) {
	return appendIDKey(make([]byte, 0, 16), id)
}

// idFromKey formats a 16-byte key as the indicator id.
func idFromKey(k []byte) string {
	if len(k) != 16 {
		return ""
	}
	var b [idLen]byte
	copy(b[:], idPrefix)
	n := len(idPrefix)
	for i, x := range k {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[n] = '-'
			n++
		}
		b[n], b[n+1] = hexDigits[x>>4], hexDigits[x&0xf]
		n += 2
	}
	return string(b[:])
}

// keyAfter maps a keyset cursor (any string, normally an indicator id) to a key k such that, for
// every indicator id x, x > after as strings exactly when key(x) > k as bytes: the largest key whose
// id is at most after, or the empty key when every id is above it.
func keyAfter(after string) []byte {
	var nib [32]byte // the UUID's hex digits so far
	n := 0
	// below: every id starting with the digits so far is above after; the answer is the
	// predecessor of those digits followed by zeros. above: every such id is at most after; the answer
	// is the digits followed by all ones.
	below := func() []byte {
		for i := n; i < 32; i++ {
			nib[i] = 0
		}
		for i := n - 1; i >= 0; i-- { // subtract one at the last digit set
			if nib[i] > 0 {
				nib[i]--
				for j := i + 1; j < 32; j++ {
					nib[j] = 0xf
				}
				return packNibbles(&nib)
			}
		}
		return []byte{} // digits all zero: no id is at most after
	}
	above := func() []byte {
		for i := n; i < 32; i++ {
			nib[i] = 0xf
		}
		return packNibbles(&nib)
	}
	if !strings.HasPrefix(after, idPrefix) {
		if after < idPrefix {
			return []byte{}
		}
		return above() // n = 0: every id is below after
	}
	u := after[len(idPrefix):]
	for j := 0; j < 36; j++ {
		if j >= len(u) {
			return below() // after is a proper prefix of the ids that continue it
		}
		c := u[j]
		if uuidDash(j) {
			switch {
			case c == '-':
				continue
			case c < '-':
				return below()
			default:
				return above()
			}
		}
		if v := unhexNibble[c]; v != 0xff {
			nib[n] = v
			n++
			continue
		}
		switch {
		case c < '0':
			return below()
		case c > 'f':
			return above()
		default: // between '9' and 'a': ids with a digit here are below, letters above
			nib[n] = 9
			n++
			return above()
		}
	}
	return packNibbles(&nib) // a whole id (longer strings that start with it are above it too)
}

func packNibbles(nib *[32]byte) []byte {
	k := make([]byte, 16)
	for i := range k {
		k[i] = nib[2*i]<<4 | nib[2*i+1]
	}
	return k
}

// The binary document (first byte docV3; a JSON document from migration 0101 starts with '{';
// docV2 is docV3 without the head, written before migration 0103; the first binary layout, 0x01,
// lived in the repository for an hour and is refused as unknown):
//
//	head          (docV3) the match index's view: base score (varint), reference time, valid
//	              until: intel.Indicator's BaseScore, Reference and ValidUntil
//	flags         uvarint: 1 revoked, 2 the pattern is a known prefix, the value quoted and "]"
//	              (patternPrefixes), 4 kill-chain phases
//	confidence    varint
//	first seen, last seen, created: times
//	sources       uvarint count, then each: name, reliability (varint), confidence (varint),
//	              first seen, last seen, flags (a byte: 1 disabled, 2 the ref is a STIX id), ref
//	              (flag 2: the id's type, then its UUID's 16 bytes), valid until
//	kill chain    (flag 4) uvarint count, then each: kill-chain name, phase name
//	description, pattern (flag 2: the prefix's number, a uvarint), sightings (varint), last
//	sighting, false positives (varint), filtered by
//
// Strings are a uvarint length and the bytes; a time is 0 when zero, else 1 + the zig-zag varint of
// its microseconds minus the row's modified column (so the times near it take a few bytes).
const (
	docV2 = 0x02
	docV3 = 0x03
)

const (
	docRevoked = 1 << iota
	docValuePattern
	docKillChain
)

// patternPrefixes are the beginnings of STIX patterns of one equality test on the indicator's value
// (those stix.PatternFor writes, which STIX feeds use too). A pattern that is one of them, the
// value in single quotes and "]" is stored as the prefix's number. Append only: stored documents
// refer to the numbers.
var patternPrefixes = [...]string{
	"[ipv4-addr:value = ", "[ipv6-addr:value = ", "[ipv4-addr:value ISSUBSET ", "[ipv6-addr:value ISSUBSET ",
	"[domain-name:value = ", "[url:value = ", "[email-addr:value = ", "[file:hashes.'MD5' = ", "[file:hashes.'SHA-1' = ",
	"[file:hashes.'SHA-256' = ", "[file:hashes.'SHA-512' = ", "[vulnerability:name = ",
	"[attack-pattern:external_references[*].external_id = ", "[file:hashes.MD5 = ", "[file:hashes.'SHA1' = ",
	"[file:hashes.'SHA256' = ", "[network-traffic:dst_ref.value = ",
}

var patternPrefixIndex = func() map[string]byte {
	m := make(map[string]byte, len(patternPrefixes))
	for i, p := range patternPrefixes {
		m[p] = byte(i)
	}
	return m
}()

// valuePattern returns the number of the prefix when pattern is patternPrefixes[k] + "'" + value +
// "']" (value holding no quote or backslash, which the pattern would escape).
func valuePattern(pattern, value string) (int, bool) {
	n := len(pattern) - len(value) - 3 // the prefix's length
	if n <= 0 || pattern[n] != '\'' || pattern[len(pattern)-2:] != "']" || pattern[n+1:len(pattern)-2] != value ||
		strings.ContainsAny(value, `'\`) {
		return 0, false
	}
	k, ok := patternPrefixIndex[pattern[:n]]
	return int(k), ok
}

// Flags of a source.
const (
	srcDisabled = 1 << iota
	srcRefID    // the ref is a STIX id: its type, then its UUID as 16 bytes
)

// stixRef splits a ref of the form "<type>--<canonical lower-case UUID>" (a STIX object's id, as
// STIX and TAXII feeds give them) into the type and the UUID's bytes.
func stixRef(ref string) (prefix string, id [16]byte, ok bool) {
	if len(ref) < 38 || ref[len(ref)-38:len(ref)-36] != "--" {
		return "", id, false
	}
	prefix = ref[:len(ref)-38]
	if _, ok = appendIDKey(id[:0], idPrefix+ref[len(ref)-36:]); !ok {
		return "", id, false
	}
	return prefix, id, true
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time, mod int64) []byte {
	v := usOrZero(t)
	if v == 0 {
		return append(b, 0)
	}
	d := v - mod
	return binary.AppendUvarint(b, uint64(d<<1^d>>63)+1)
}

// appendDoc appends the binary document of in; mod is its modified column.
func appendDoc(b []byte, in *intel.Indicator, mod int64) []byte {
	var flags uint64
	if in.Revoked {
		flags |= docRevoked
	}
	prefix, canonical := valuePattern(in.Pattern, cleanText(in.Value))
	if canonical {
		flags |= docValuePattern
	}
	if len(in.KillChain) > 0 {
		flags |= docKillChain
	}
	b = append(b, docV3)
	b = binary.AppendVarint(b, int64(in.BaseScore()))
	b = appendTime(b, in.Reference(), mod)
	b = appendTime(b, in.ValidUntil(), mod)
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendVarint(b, int64(in.Confidence))
	b = appendTime(b, in.FirstSeen, mod)
	b = appendTime(b, in.LastSeen, mod)
	b = appendTime(b, in.Created, mod)
	b = binary.AppendUvarint(b, uint64(len(in.Sources)))
	for i := range in.Sources {
		x := &in.Sources[i]
		b = appendStr(b, cleanText(x.Name))
		b = binary.AppendVarint(b, int64(x.Reliability))
		b = binary.AppendVarint(b, int64(x.Confidence))
		b = appendTime(b, x.FirstSeen, mod)
		b = appendTime(b, x.LastSeen, mod)
		var flags byte
		if x.Disabled {
			flags |= srcDisabled
		}
		ref := cleanText(x.Ref)
		prefix, id, isID := stixRef(ref)
		if isID {
			flags |= srcRefID
		}
		b = append(b, flags)
		if isID {
			b = appendStr(b, prefix)
			b = append(b, id[:]...)
		} else {
			b = appendStr(b, ref)
		}
		b = appendTime(b, x.ValidUntil, mod)
	}
	if flags&docKillChain != 0 {
		b = binary.AppendUvarint(b, uint64(len(in.KillChain)))
		for _, k := range in.KillChain {
			b = appendStr(b, cleanText(k.KillChain))
			b = appendStr(b, cleanText(k.Phase))
		}
	}
	b = appendStr(b, cleanText(in.Description))
	if canonical {
		b = binary.AppendUvarint(b, uint64(prefix))
	} else {
		b = appendStr(b, cleanText(in.Pattern))
	}
	b = binary.AppendVarint(b, int64(in.Sightings))
	b = appendTime(b, in.LastSighting, mod)
	b = binary.AppendVarint(b, int64(in.FalsePos))
	return appendStr(b, cleanText(in.FilteredBy))
}

// docReader reads a binary document; the first malformed field sets bad.
type docReader struct {
	b   []byte
	mod int64
	bad bool
}

func (r *docReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *docReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *docReader) int() int {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *docReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *docReader) time() time.Time {
	v := r.uvarint()
	if v == 0 {
		return time.Time{}
	}
	v--
	return timeOrZero(int64(v>>1) ^ -int64(v&1) + r.mod)
}

// count reads a list length, bounded by what the rest of the document could hold.
func (r *docReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return 0
	}
	return int(n)
}

// decodeDoc fills in's document fields from doc (binary, or JSON from migration 0101); in's Type,
// Value and Modified are already set.
func decodeDoc(in *intel.Indicator, doc []byte, mod int64, p *fastjson.Parser) error {
	if len(doc) > 0 && doc[0] == '{' {
		return decodeJSONDoc(in, doc, p)
	}
	if len(doc) == 0 || doc[0] != docV2 && doc[0] != docV3 {
		return socbot.E("sqlstore.intel", socbot.KindOther, "indicator "+in.ID+": stored document has an unknown format")
	}
	r := docReader{b: doc[1:], mod: mod}
	if doc[0] == docV3 {
		r.int() // the head: derived from the rest
		r.time()
		r.time()
	}
	flags := r.uvarint()
	in.Revoked = flags&docRevoked != 0
	in.Confidence = r.int()
	in.FirstSeen, in.LastSeen, in.Created = r.time(), r.time(), r.time()
	if n := r.count(); n > 0 {
		in.Sources = make([]intel.Source, n)
		for i := range in.Sources {
			x := &in.Sources[i]
			x.Name, x.Reliability, x.Confidence = r.str(), r.int(), r.int()
			x.FirstSeen, x.LastSeen = r.time(), r.time()
			flags := r.byte()
			x.Disabled = flags&srcDisabled != 0
			if flags&srcRefID != 0 {
				prefix := r.str()
				if len(r.b) < 16 {
					r.bad, r.b = true, nil
				} else {
					x.Ref = prefix + idFromKey(r.b[:16])[len(idPrefix)-2:]
					r.b = r.b[16:]
				}
			} else {
				x.Ref = r.str()
			}
			x.ValidUntil = r.time()
		}
	} else {
		in.Sources = []intel.Source{}
	}
	if flags&docKillChain != 0 {
		in.KillChain = make([]intel.KillChainPhase, r.count())
		for i := range in.KillChain {
			in.KillChain[i] = intel.KillChainPhase{KillChain: r.str(), Phase: r.str()}
		}
	}
	in.Description = r.str()
	if flags&docValuePattern != 0 {
		if k := r.uvarint(); k < uint64(len(patternPrefixes)) {
			in.Pattern = patternPrefixes[k] + "'" + in.Value + "']"
		} else {
			r.bad = true
		}
	} else {
		in.Pattern = r.str()
	}
	in.Sightings = r.int()
	in.LastSighting = r.time()
	in.FalsePos = r.int()
	in.FilteredBy = r.str()
	if r.bad {
		return socbot.E("sqlstore.intel", socbot.KindOther, "indicator "+in.ID+": stored document is damaged")
	}
	return nil
}

// docHead reads the head of a docV3 document: the match index's base score, reference time and
// expiry. ok is false for documents without one.
func docHead(doc []byte, mod int64) (base int, ref, until time.Time, ok bool) {
	if len(doc) == 0 || doc[0] != docV3 {
		return 0, ref, until, false
	}
	r := docReader{b: doc[1:], mod: mod}
	base, ref, until = r.int(), r.time(), r.time()
	return base, ref, until, !r.bad
}

// decodeJSONDoc reads the JSON document of a row written before migration 0102.
func decodeJSONDoc(in *intel.Indicator, doc []byte, p *fastjson.Parser) error {
	v, err := p.ParseBytes(doc)
	if err != nil {
		return socbot.E("sqlstore.intel", socbot.KindOther, "indicator "+in.ID+": stored document is damaged", err)
	}
	in.FirstSeen, in.LastSeen = timeOrZero(v.GetInt64("fs")), timeOrZero(v.GetInt64("ls"))
	in.Confidence, in.Created = v.GetInt("c"), timeOrZero(v.GetInt64("cr"))
	arr := v.GetArray("s")
	in.Sources = make([]intel.Source, 0, len(arr))
	for _, x := range arr {
		in.Sources = append(in.Sources, intel.Source{
			Name: string(x.GetStringBytes("n")), Reliability: x.GetInt("r"), Confidence: x.GetInt("c"),
			FirstSeen: timeOrZero(x.GetInt64("f")), LastSeen: timeOrZero(x.GetInt64("l")), Ref: string(x.GetStringBytes("ref")),
			Disabled: x.GetBool("d"), ValidUntil: timeOrZero(x.GetInt64("v")),
		})
	}
	for _, x := range v.GetArray("kc") {
		in.KillChain = append(in.KillChain, intel.KillChainPhase{KillChain: string(x.GetStringBytes("kill_chain_name")), Phase: string(x.GetStringBytes("phase_name"))})
	}
	in.Description, in.Pattern = string(v.GetStringBytes("d")), string(v.GetStringBytes("p"))
	in.Sightings, in.LastSighting, in.FalsePos = v.GetInt("n"), timeOrZero(v.GetInt64("lsg")), v.GetInt("fp")
	in.Revoked, in.FilteredBy = v.GetBool("r"), string(v.GetStringBytes("f"))
	return nil
}
