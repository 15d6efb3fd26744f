package evtx

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// chunk holds one 64 KiB chunk and its caches: names and compiled templates by chunk offset.
type chunk struct {
	b         []byte
	names     map[uint32]string
	templates map[uint32]*program
	global    map[string]string        // decoded names by their UTF-16 bytes, kept across chunks
	shared    map[templateKey]*program // compiled templates by structure, kept across chunks
}

func (c *chunk) reset(b []byte) {
	c.b = b
	if c.names == nil {
		c.names = map[uint32]string{}
		c.templates = map[uint32]*program{}
		c.global = map[string]string{}
		c.shared = map[templateKey]*program{}
	}
	clear(c.names)
	clear(c.templates)
}

// program is a compiled template: the fields it produces and where their values come from.
type program struct {
	emits []emitOp
}

type emitOp struct {
	name    string
	section Section
	pieces  []piece
}

type piece struct {
	sub      int // substitution index, -1 for static text
	text     string
	optional bool
}

// cursor reads little-endian values from the chunk with bounds checks; any overrun sets bad.
type cursor struct {
	b   []byte
	pos int
	end int
	bad bool
}

func (r *cursor) u8() byte {
	if r.pos+1 > r.end {
		r.bad = true
		return 0
	}
	v := r.b[r.pos]
	r.pos++
	return v
}

func (r *cursor) u16() uint16 {
	if r.pos+2 > r.end {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint16(r.b[r.pos:])
	r.pos += 2
	return v
}

func (r *cursor) u32() uint32 {
	if r.pos+4 > r.end {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.pos:])
	r.pos += 4
	return v
}

func (r *cursor) skip(n int) {
	if n < 0 || r.pos+n > r.end {
		r.bad = true
		r.pos = r.end
		return
	}
	r.pos += n
}

// utf16String decodes n UTF-16LE code units at the cursor.
func (r *cursor) utf16String(n int) string {
	if n < 0 || r.pos+2*n > r.end {
		r.bad = true
		return ""
	}
	s := decodeUTF16(nil, r.b[r.pos:r.pos+2*n])
	r.pos += 2 * n
	return string(s)
}

// name resolves a name at chunk offset off. When the name is stored inline (off == cursor
// position), the cursor skips past it.
func (c *chunk) name(r *cursor, off uint32) string {
	inline := int(off) == r.pos
	if s, ok := c.names[off]; ok {
		if inline {
			r.skip(8 + 2*int(binary.LittleEndian.Uint16(c.b[r.pos+6:])) + 2)
		}
		return s
	}
	if int(off)+8 > len(c.b) {
		r.bad = true
		return ""
	}
	n := int(binary.LittleEndian.Uint16(c.b[off+6:]))
	if int(off)+8+2*n > len(c.b) {
		r.bad = true
		return ""
	}
	raw := c.b[int(off)+8 : int(off)+8+2*n]
	s, ok := c.global[string(raw)] // the same names recur in every chunk and file
	if !ok {
		s = string(decodeUTF16(nil, raw))
		if len(c.global) < 1<<14 {
			c.global[string(raw)] = s
		}
	}
	c.names[off] = s
	if inline {
		r.skip(8 + 2*n + 2)
	}
	return s
}

// BinXML tokens.
const (
	tokEOF          = 0x00
	tokOpenStart    = 0x01
	tokCloseStart   = 0x02
	tokCloseEmpty   = 0x03
	tokEnd          = 0x04
	tokValue        = 0x05
	tokAttribute    = 0x06
	tokCDATA        = 0x07
	tokCharRef      = 0x08
	tokEntityRef    = 0x09
	tokPITarget     = 0x0a
	tokPIData       = 0x0b
	tokTemplate     = 0x0c
	tokNormalSub    = 0x0d
	tokOptionalSub  = 0x0e
	tokFragment     = 0x0f
	tokMoreBit      = 0x40
	maxNesting      = 16
	maxElementDepth = 64
)

type elem struct {
	name     string
	section  Section
	attrs    []attr
	content  []piece
	dataName string
}

type attr struct {
	name   string
	pieces []piece
}

// compile turns BinXML elements (a template body, or a record without template) into a program.
func (c *chunk) compile(start, end int) (*program, bool) {
	r := &cursor{b: c.b, pos: start, end: end}
	p := &program{}
	var stack []*elem
	finish := func(e *elem) {
		switch e.section {
		case SectionSystem:
			for _, a := range e.attrs {
				p.emits = append(p.emits, emitOp{name: e.name + "_" + a.name, section: SectionSystem, pieces: a.pieces})
			}
		}
		if len(e.content) == 0 {
			return
		}
		name := e.name
		if e.dataName != "" {
			name = e.dataName
		}
		sec := e.section
		switch e.name {
		case "EventData":
			sec = SectionEventData
		case "UserData":
			sec = SectionUserData
		}
		p.emits = append(p.emits, emitOp{name: name, section: sec, pieces: e.content})
	}
	for r.pos < r.end && !r.bad {
		tok := r.u8()
		switch tok &^ tokMoreBit {
		case tokEOF:
			return p, !r.bad
		case tokFragment:
			r.skip(3)
		case tokOpenStart:
			r.u16() // dependency id
			r.u32() // data size
			off := r.u32()
			e := &elem{name: c.name(r, off)}
			if tok&tokMoreBit != 0 {
				r.u32() // attribute list size
			}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				e.section = parent.section
				switch parent.name {
				case "System":
					e.section = SectionSystem
				case "EventData":
					e.section = SectionEventData
				case "UserData":
					e.section = SectionUserData
				}
			}
			if len(stack) >= maxElementDepth {
				return nil, false
			}
			stack = append(stack, e)
			// attributes
			for tok&tokMoreBit != 0 && r.pos < r.end && !r.bad {
				at := r.b[r.pos]
				if at&^tokMoreBit != tokAttribute {
					break
				}
				r.pos++
				a := attr{name: c.name(r, r.u32())}
				a.pieces = c.valuePieces(r, nil)
				if e.name == "Data" && a.name == "Name" && len(a.pieces) == 1 && a.pieces[0].sub < 0 {
					e.dataName = a.pieces[0].text
				}
				e.attrs = append(e.attrs, a)
				if at&tokMoreBit == 0 {
					break
				}
			}
		case tokCloseStart:
		case tokCloseEmpty, tokEnd:
			if len(stack) == 0 {
				return nil, false
			}
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			finish(e)
		case tokValue, tokNormalSub, tokOptionalSub, tokCharRef, tokEntityRef, tokCDATA:
			r.pos--
			ps := c.valuePieces(r, nil)
			if len(stack) > 0 {
				e := stack[len(stack)-1]
				e.content = append(e.content, ps...)
			}
		case tokPITarget:
			c.name(r, r.u32())
		case tokPIData:
			r.skip(2 * int(r.u16()))
		default:
			return nil, false // a template instance inside a template body, or garbage
		}
	}
	return p, !r.bad
}

// valuePieces reads consecutive value tokens (text, substitutions, references).
func (c *chunk) valuePieces(r *cursor, out []piece) []piece {
	for r.pos < r.end && !r.bad {
		tok := r.b[r.pos]
		switch tok &^ tokMoreBit {
		case tokValue:
			r.pos++
			r.u8() // value type, always string
			out = appendText(out, r.utf16String(int(r.u16())))
		case tokCDATA:
			r.pos++
			out = appendText(out, r.utf16String(int(r.u16())))
		case tokCharRef:
			r.pos++
			out = appendText(out, string(rune(r.u16())))
		case tokEntityRef:
			r.pos++
			switch c.name(r, r.u32()) {
			case "amp":
				out = appendText(out, "&")
			case "lt":
				out = appendText(out, "<")
			case "gt":
				out = appendText(out, ">")
			case "quot":
				out = appendText(out, "\"")
			case "apos":
				out = appendText(out, "'")
			}
		case tokNormalSub, tokOptionalSub:
			r.pos++
			id := r.u16()
			r.u8() // value type
			out = append(out, piece{sub: int(id), optional: tok == tokOptionalSub})
		default:
			return out
		}
	}
	return out
}

func appendText(ps []piece, s string) []piece {
	if n := len(ps); n > 0 && ps[n-1].sub < 0 {
		ps[n-1].text += s
		return ps
	}
	return append(ps, piece{sub: -1, text: s})
}

// templateHash hashes a template body by structure (tokens, resolved names, texts, substitution
// ids and types), leaving out chunk offsets, so that the same template compiled in an earlier chunk
// or file is found again.
func (c *chunk) templateHash(start, end int) (uint64, bool) {
	r := &cursor{b: c.b, pos: start, end: end}
	h := fnv1a(14695981039346656037, nil)
	str := func(s string) {
		h = fnv1a(h, []byte(s))
		h = fnv1a(h, []byte{0})
	}
	for r.pos < r.end && !r.bad {
		tok := r.u8()
		h = fnv1a(h, []byte{tok})
		switch tok &^ tokMoreBit {
		case tokEOF:
			return h, !r.bad
		case tokFragment:
			r.skip(3)
		case tokOpenStart:
			r.u16()
			r.u32()
			str(c.name(r, r.u32()))
			if tok&tokMoreBit != 0 {
				r.u32()
			}
		case tokAttribute:
			str(c.name(r, r.u32()))
		case tokValue:
			h = fnv1a(h, []byte{r.u8()})
			n := int(r.u16())
			if r.pos+2*n > r.end {
				return 0, false
			}
			h = fnv1a(h, c.b[r.pos:r.pos+2*n])
			r.skip(2 * n)
		case tokCDATA, tokPIData:
			n := int(r.u16())
			if r.pos+2*n > r.end {
				return 0, false
			}
			h = fnv1a(h, c.b[r.pos:r.pos+2*n])
			r.skip(2 * n)
		case tokCharRef:
			v := r.u16()
			h = fnv1a(h, []byte{byte(v), byte(v >> 8)})
		case tokEntityRef, tokPITarget:
			str(c.name(r, r.u32()))
		case tokNormalSub, tokOptionalSub:
			id := r.u16()
			h = fnv1a(h, []byte{byte(id), byte(id >> 8), r.u8()})
		case tokCloseStart, tokCloseEmpty, tokEnd:
		default:
			return 0, false
		}
	}
	return h, !r.bad
}

func fnv1a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

type templateKey struct {
	guid [16]byte
	size uint32
	hash uint64
}

// lookupOrCompile returns the program of the template whose definition (GUID at guidPos, body
// between start and end) is at defOff, from the chunk cache, the reader-wide cache or by compiling.
func (c *chunk) lookupOrCompile(defOff uint32, guidPos, start, end int) (*program, bool) {
	if p := c.templates[defOff]; p != nil {
		return p, true
	}
	var k templateKey
	copy(k.guid[:], c.b[guidPos:guidPos+16])
	k.size = uint32(end - start)
	h, ok := c.templateHash(start, end)
	if ok {
		k.hash = h
		if p := c.shared[k]; p != nil {
			c.templates[defOff] = p
			return p, true
		}
	}
	p, ok2 := c.compile(start, end)
	if !ok2 {
		return nil, false
	}
	c.templates[defOff] = p
	if ok && len(c.shared) < 1<<12 {
		c.shared[k] = p
	}
	return p, true
}

type subValue struct {
	typ  byte
	data []byte
	pos  int // chunk offset of data
}

// parseFragment decodes the BinXML between start and end (a record body or a nested BinXML value)
// and emits its fields through rd.
func (c *chunk) parseFragment(start, end int, sec Section, rd *Reader, depth int) bool {
	if depth > maxNesting || start < 0 || end > len(c.b) || start > end {
		return false
	}
	rd.budget -= 64 // nested fragments are not free: a hostile template could repeat one exponentially
	if rd.budget < 0 {
		return false
	}
	r := &cursor{b: c.b, pos: start, end: end}
	for r.pos < r.end && !r.bad {
		tok := r.b[r.pos]
		switch tok {
		case tokFragment:
			r.skip(4)
		case tokEOF:
			return true
		case tokTemplate:
			r.pos++
			r.u8()
			r.u32() // template id
			defOff := r.u32()
			if r.bad {
				return false
			}
			if int(defOff)+24 > len(c.b) {
				return false
			}
			size := int(binary.LittleEndian.Uint32(c.b[defOff+20:]))
			bs := int(defOff) + 24
			if bs+size > len(c.b) {
				return false
			}
			if int(defOff) == r.pos {
				// inline definition: next offset, GUID, size, body
				r.skip(24 + size)
				if r.bad {
					return false
				}
			}
			p, ok := c.lookupOrCompile(defOff, int(defOff)+4, bs, bs+size)
			if !ok {
				return false
			}
			// substitution array
			n := int(r.u32())
			if r.bad || n > 4096 || r.pos+4*n > r.end {
				return false
			}
			var subsBuf [64]subValue
			subs := subsBuf[:0]
			descPos := r.pos
			vpos := r.pos + 4*n
			for i := 0; i < n; i++ {
				size := int(binary.LittleEndian.Uint16(c.b[descPos+4*i:]))
				typ := c.b[descPos+4*i+2]
				if vpos+size > r.end {
					return false
				}
				subs = append(subs, subValue{typ: typ, data: c.b[vpos : vpos+size], pos: vpos})
				vpos += size
			}
			r.pos = vpos
			if !c.run(p, subs, sec, rd, depth) {
				return false
			}
		default:
			// elements without a template
			p, ok := c.compile(r.pos, r.end)
			if !ok {
				return false
			}
			return c.run(p, nil, sec, rd, depth)
		}
	}
	return !r.bad
}

// run executes a compiled template with the record's substitution values.
func (c *chunk) run(p *program, subs []subValue, outer Section, rd *Reader, depth int) bool {
	for i := range p.emits {
		e := &p.emits[i]
		rd.budget--
		if rd.budget < 0 {
			return false
		}
		sec := e.section
		if sec == SectionOther && outer != SectionOther {
			sec = outer
		}
		if len(e.pieces) == 1 && e.pieces[0].sub >= 0 {
			ps := e.pieces[0]
			if ps.sub >= len(subs) {
				continue
			}
			sv := subs[ps.sub]
			if sv.typ == 0x21 { // nested BinXML
				if !c.parseFragment(sv.pos, sv.pos+len(sv.data), sec, rd, depth+1) {
					return false
				}
				continue
			}
			if sv.typ == 0 || (ps.optional && len(sv.data) == 0) {
				if ps.optional {
					continue
				}
			}
			if sv.typ&0x80 != 0 {
				formatArray(rd, e.name, sec, sv)
				continue
			}
			if sv.typ == 0x11 && len(sv.data) >= 8 && e.name == "TimeCreated_SystemTime" {
				rd.rec.Time = filetime(binary.LittleEndian.Uint64(sv.data))
			}
			start := len(rd.arena)
			rd.arena = formatValue(rd.arena, sv.typ, sv.data)
			rd.emit(e.name, sec, start)
			continue
		}
		start := len(rd.arena)
		for _, ps := range e.pieces {
			if ps.sub < 0 {
				rd.arena = append(rd.arena, ps.text...)
				continue
			}
			if ps.sub < len(subs) && subs[ps.sub].typ != 0x21 {
				rd.arena = formatValue(rd.arena, subs[ps.sub].typ&0x7f, subs[ps.sub].data)
			}
		}
		rd.emit(e.name, sec, start)
	}
	return true
}

func formatArray(rd *Reader, name string, sec Section, sv subValue) {
	t := sv.typ & 0x7f
	switch t {
	case 0x01: // NUL-separated UTF-16 strings
		d := sv.data
		for len(d) >= 2 {
			j := 0
			for j+1 < len(d) && !(d[j] == 0 && d[j+1] == 0) {
				j += 2
			}
			start := len(rd.arena)
			rd.arena = decodeUTF16(rd.arena, d[:j])
			rd.emit(name, sec, start)
			if j+2 > len(d) {
				break
			}
			d = d[j+2:]
		}
		return
	case 0x02:
		start := len(rd.arena)
		rd.arena = append(rd.arena, trimNul(sv.data)...)
		rd.emit(name, sec, start)
		return
	}
	size := fixedSize(t)
	if size == 0 {
		start := len(rd.arena)
		rd.arena = formatValue(rd.arena, 0x0e, sv.data)
		rd.emit(name, sec, start)
		return
	}
	for i := 0; i+size <= len(sv.data); i += size {
		start := len(rd.arena)
		rd.arena = formatValue(rd.arena, t, sv.data[i:i+size])
		rd.emit(name, sec, start)
	}
}

func fixedSize(t byte) int {
	switch t {
	case 0x03, 0x04:
		return 1
	case 0x05, 0x06:
		return 2
	case 0x07, 0x08, 0x0b, 0x0d, 0x14:
		return 4
	case 0x09, 0x0a, 0x0c, 0x11, 0x15:
		return 8
	case 0x0f, 0x12:
		return 16
	}
	return 0
}

func trimNul(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

const hexUpper = "0123456789ABCDEF"

// formatValue appends the text form of a substitution value.
func formatValue(dst []byte, typ byte, d []byte) []byte {
	le := binary.LittleEndian
	switch typ {
	case 0x00:
		return dst
	case 0x01:
		for len(d) >= 2 && d[len(d)-1] == 0 && d[len(d)-2] == 0 {
			d = d[:len(d)-2]
		}
		return decodeUTF16(dst, d)
	case 0x02:
		return append(dst, trimNul(d)...)
	case 0x03:
		if len(d) >= 1 {
			return strconv.AppendInt(dst, int64(int8(d[0])), 10)
		}
	case 0x04:
		if len(d) >= 1 {
			return strconv.AppendUint(dst, uint64(d[0]), 10)
		}
	case 0x05:
		if len(d) >= 2 {
			return strconv.AppendInt(dst, int64(int16(le.Uint16(d))), 10)
		}
	case 0x06:
		if len(d) >= 2 {
			return strconv.AppendUint(dst, uint64(le.Uint16(d)), 10)
		}
	case 0x07:
		if len(d) >= 4 {
			return strconv.AppendInt(dst, int64(int32(le.Uint32(d))), 10)
		}
	case 0x08:
		if len(d) >= 4 {
			return strconv.AppendUint(dst, uint64(le.Uint32(d)), 10)
		}
	case 0x09:
		if len(d) >= 8 {
			return strconv.AppendInt(dst, int64(le.Uint64(d)), 10)
		}
	case 0x0a:
		if len(d) >= 8 {
			return strconv.AppendUint(dst, le.Uint64(d), 10)
		}
	case 0x0b:
		if len(d) >= 4 {
			return strconv.AppendFloat(dst, float64(math.Float32frombits(le.Uint32(d))), 'g', -1, 32)
		}
	case 0x0c:
		if len(d) >= 8 {
			return strconv.AppendFloat(dst, math.Float64frombits(le.Uint64(d)), 'g', -1, 64)
		}
	case 0x0d:
		if len(d) >= 1 {
			if allZero(d) {
				return append(dst, "false"...)
			}
			return append(dst, "true"...)
		}
	case 0x0e:
		for _, c := range d {
			dst = append(dst, hexUpper[c>>4], hexUpper[c&15])
		}
		return dst
	case 0x0f:
		if len(d) >= 16 {
			dst = appendHex(dst, uint64(le.Uint32(d)), 8)
			dst = append(dst, '-')
			dst = appendHex(dst, uint64(le.Uint16(d[4:])), 4)
			dst = append(dst, '-')
			dst = appendHex(dst, uint64(le.Uint16(d[6:])), 4)
			dst = append(dst, '-')
			for i := 8; i < 16; i++ {
				if i == 10 {
					dst = append(dst, '-')
				}
				dst = append(dst, hexUpper[d[i]>>4], hexUpper[d[i]&15])
			}
			return dst
		}
	case 0x10:
		switch len(d) {
		case 4:
			return appendHexLower(dst, uint64(le.Uint32(d)))
		case 8:
			return appendHexLower(dst, le.Uint64(d))
		}
	case 0x11:
		if len(d) >= 8 {
			return appendFiletime(dst, le.Uint64(d))
		}
	case 0x12:
		if len(d) >= 16 {
			t := time.Date(int(le.Uint16(d)), time.Month(le.Uint16(d[2:])), int(le.Uint16(d[6:])), int(le.Uint16(d[8:])),
				int(le.Uint16(d[10:])), int(le.Uint16(d[12:])), int(le.Uint16(d[14:]))*1e6, time.UTC)
			return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z")
		}
	case 0x13:
		if len(d) >= 8 {
			n := int(d[1])
			dst = append(dst, "S-"...)
			dst = strconv.AppendUint(dst, uint64(d[0]), 10)
			var auth uint64
			for i := 2; i < 8; i++ {
				auth = auth<<8 | uint64(d[i])
			}
			dst = append(dst, '-')
			dst = strconv.AppendUint(dst, auth, 10)
			for i := 0; i < n && 8+4*i+4 <= len(d); i++ {
				dst = append(dst, '-')
				dst = strconv.AppendUint(dst, uint64(le.Uint32(d[8+4*i:])), 10)
			}
			return dst
		}
	case 0x14:
		if len(d) >= 4 {
			return appendHexLower(dst, uint64(le.Uint32(d)))
		}
	case 0x15:
		if len(d) >= 8 {
			return appendHexLower(dst, le.Uint64(d))
		}
	default:
		return formatValue(dst, 0x0e, d)
	}
	return dst
}

func appendHex(dst []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexUpper[(v>>(4*uint(i)))&15])
	}
	return dst
}

func appendHexLower(dst []byte, v uint64) []byte {
	dst = append(dst, '0', 'x')
	return strconv.AppendUint(dst, v, 16)
}

// decodeUTF16 appends the UTF-8 form of UTF-16LE bytes; ASCII takes a fast path.
func decodeUTF16(dst []byte, b []byte) []byte {
	n := len(b) / 2
	i := 0
	// fast path: four ASCII, non-zero code units at a time
	for ; i+4 <= n; i += 4 {
		x := binary.LittleEndian.Uint64(b[2*i:])
		if x&0xFF80FF80FF80FF80 != 0 || (x-0x0001000100010001)&^x&0x8000800080008000 != 0 {
			break
		}
		dst = append(dst, byte(x), byte(x>>16), byte(x>>32), byte(x>>48))
	}
	for ; i < n; i++ {
		u := uint16(b[2*i]) | uint16(b[2*i+1])<<8
		switch {
		case u == 0:
			return dst
		case u < 0x80:
			dst = append(dst, byte(u))
		case utf16.IsSurrogate(rune(u)):
			if i+1 < n {
				u2 := uint16(b[2*i+2]) | uint16(b[2*i+3])<<8
				if r := utf16.DecodeRune(rune(u), rune(u2)); r != utf8.RuneError {
					dst = utf8.AppendRune(dst, r)
					i++
					continue
				}
			}
			dst = utf8.AppendRune(dst, utf8.RuneError)
		default:
			dst = utf8.AppendRune(dst, rune(u))
		}
	}
	return dst
}

// appendFiletime writes a FILETIME as 2006-01-02T15:04:05.0000000Z (100 ns precision), without the
// general time formatter.
func appendFiletime(dst []byte, ft uint64) []byte {
	t := filetime(ft)
	if t.IsZero() {
		return append(dst, "1601-01-01T00:00:00.0000000Z"...)
	}
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	frac := t.Nanosecond() / 100
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, frac, 7)
	return append(dst, 'Z')
}

func appendDigits(dst []byte, v, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}
