package ioc

import (
	"bufio"
	"bytes"
	"io"
)

// Type names the kind of an indicator.
type Type string

// Indicator types the extractor and the feed parsers produce.
const (
	IPv4            Type = "ipv4"
	IPv6            Type = "ipv6"
	CIDR            Type = "cidr" // an IPv4 or IPv6 prefix, e.g. 203.0.113.0/24
	Domain          Type = "domain"
	URL             Type = "url"
	Email           Type = "email"
	MD5             Type = "md5"
	SHA1            Type = "sha1"
	SHA256          Type = "sha256"
	SHA512          Type = "sha512"
	CVE             Type = "cve"
	AttackTechnique Type = "attack_technique" // MITRE ATT&CK technique id, e.g. T1059.001
)

// Types lists every type, in a stable order.
var Types = []Type{IPv4, IPv6, CIDR, Domain, URL, Email, MD5, SHA1, SHA256, SHA512, CVE, AttackTechnique}

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// IOC is one indicator found in text.
type IOC struct {
	Type     Type   `json:"type"`
	Value    string `json:"value"`              // canonical (refanged, normalised) value
	Offset   int64  `json:"offset"`             // byte offset of the token it was found in
	Defanged bool   `json:"defanged,omitempty"` // the text wrote it defanged
}

// Options tune the extractor. The zero value is the default.
type Options struct {
	// NoURLHosts stops the extractor from also reporting the host (domain or IP) of each URL it finds.
	// By default the host is reported as its own indicator too. (The domain of an e-mail address is
	// not reported: it is as often a mail provider as the attacker's.)
	NoURLHosts bool
	// Types, when not empty, restricts the output to these types.
	Types []Type
}

// Extractor finds IOCs in text. It is cheap to create; one Extractor must not be used by two
// goroutines at once (it keeps a scratch buffer), but any number of Extractors may run in parallel.
type Extractor struct {
	opts    Options
	want    [16]bool
	scratch []byte
	base    int64
	emit    func(IOC)
}

// New returns an Extractor with the given options.
func New(opts Options) *Extractor {
	e := &Extractor{opts: opts}
	if len(opts.Types) == 0 {
		for i := range e.want {
			e.want[i] = true
		}
	} else {
		for _, t := range opts.Types {
			e.want[typeIndex(t)] = true
		}
	}
	return e
}

func typeIndex(t Type) int {
	for i, k := range Types {
		if k == t {
			return i
		}
	}
	return 15
}

// Extract calls fn for every IOC in text, in order of appearance. The same value may be reported more
// than once; use ExtractAll or a Set for unique values.
func (e *Extractor) Extract(text []byte, fn func(IOC)) {
	e.emit = fn
	e.base = 0
	e.scan(text)
	e.emit = nil
}

// ExtractAll returns the unique IOCs of text in order of first appearance.
func ExtractAll(text []byte, opts Options) []IOC {
	var out []IOC
	seen := map[string]struct{}{}
	New(opts).Extract(text, func(i IOC) {
		k := string(i.Type) + "\x00" + i.Value
		if _, ok := seen[k]; ok {
			return
		}
		seen[k] = struct{}{}
		out = append(out, i)
	})
	return out
}

// maxCarry bounds how much of an unfinished line the streaming reader keeps between reads: a single
// "line" longer than this is cut at the last delimiter (or hard, if it has none).
const maxCarry = 64 << 10

// ExtractReader streams r through the extractor with bounded memory: it reads blocks and cuts them at
// the last line break (or delimiter), so that no token is split across two blocks.
func (e *Extractor) ExtractReader(r io.Reader, fn func(IOC)) error {
	const block = 256 << 10
	br := bufio.NewReaderSize(r, block)
	buf := make([]byte, 0, block+maxCarry)
	e.emit = fn
	defer func() { e.emit = nil }()
	var off int64
	for {
		n, err := io.ReadFull(br, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			e.base = off
			e.scan(buf)
			return nil
		}
		if err != nil {
			return err
		}
		cut := bytes.LastIndexByte(buf, '\n')
		if cut < 0 || len(buf)-cut-1 > maxCarry {
			cut = lastDelim(buf)
		}
		if cut < 0 || len(buf)-cut-1 > maxCarry {
			cut = len(buf) - 1
		}
		e.base = off
		e.scan(buf[:cut+1])
		off += int64(cut + 1)
		rest := copy(buf, buf[cut+1:])
		buf = buf[:rest]
	}
}

func lastDelim(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if class[b[i]]&cDelim != 0 {
			return i
		}
	}
	return -1
}
