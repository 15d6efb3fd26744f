package normalize

import (
	"bytes"
	"encoding/binary"
	"fmt"

	socbot "github.com/socbot/socbot"
)

// maxDepth bounds the nesting of a record. fastjson refuses more than 300 levels; legitimate alerts
// nest a few dozen at most.
const maxDepth = 200

// Records calls fn for each top-level JSON record in body: a single JSON object, a JSON array of objects,
// or NDJSON (objects separated by newlines; blank lines skipped; \r\n tolerated). Top-level values may
// also be mixed: an array inside an NDJSON stream contributes each of its elements. index counts records
// from 0 in body order.
//
// A record that is not well-formed JSON, or that is not a JSON object, is reported to fn with err != nil
// (a *socbot.Error of KindInvalid naming the problem, the byte offset and the line) and rec == nil.
// Reading then continues with the next record when the framing allows it: in a stream, with the line
// after the one the bad record started on; in an array, not at all (the array is broken, so one error is
// reported for it and reading stops).
//
// rec is a sub-slice of body (no copy, no allocation per record). Records returns the first non-nil
// error fn returns, and nil otherwise; it never panics.
func Records(body []byte, fn func(index int, rec []byte, err error) error) error {
	s := recScanner{b: body, fn: fn}
	return s.run()
}

type recScanner struct {
	b     []byte
	fn    func(int, []byte, error) error
	index int
}

func (s *recScanner) emit(rec []byte, err error) error {
	i := s.index
	s.index++
	return s.fn(i, rec, err)
}

func (s *recScanner) run() error {
	b := s.b
	i := 0
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) { // UTF-8 byte order mark
		i = 3
	}
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return nil
		}
		start := i
		if b[i] == '[' {
			next, stop, err := s.array(i)
			if err != nil || stop {
				return err
			}
			i = next
			continue
		}
		end, serr := scanValue(b, i)
		if serr != nil {
			if err := s.emit(nil, s.syntaxError(start, serr)); err != nil {
				return err
			}
			i = nextLine(b, start)
			continue
		}
		if b[start] != '{' {
			if err := s.emit(nil, s.notObject(start)); err != nil {
				return err
			}
		} else if err := s.emit(b[start:end], nil); err != nil {
			return err
		}
		i = end
	}
}

// array reads the top-level array starting at b[i] == '['. It returns the offset after the array, or
// stop when the array was broken (reported) and reading must end.
func (s *recScanner) array(i int) (next int, stop bool, err error) {
	b := s.b
	open := i
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, false, nil
	}
	for {
		i = skipWS(b, i)
		start := i
		end, serr := scanValue(b, i)
		if serr != nil {
			return 0, true, s.emit(nil, s.syntaxError(start, serr))
		}
		if b[start] != '{' {
			err = s.emit(nil, s.notObject(start))
		} else {
			err = s.emit(b[start:end], nil)
		}
		if err != nil {
			return 0, true, err
		}
		i = skipWS(b, end)
		if i >= len(b) {
			e := &scanErr{at: i, msg: fmt.Sprintf("unexpected end of input: the array opened at byte %d is not closed", open)}
			return 0, true, s.emit(nil, s.syntaxError(start, e))
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, false, nil
		default:
			e := &scanErr{at: i, msg: fmt.Sprintf("expected ',' or ']' after an array element, found %s", quoteByte(b[i]))}
			return 0, true, s.emit(nil, s.syntaxError(i, e))
		}
	}
}

func (s *recScanner) syntaxError(start int, e *scanErr) error {
	line := 1 + bytes.Count(s.b[:min(e.at, len(s.b))], []byte{'\n'})
	startLine := 1 + bytes.Count(s.b[:min(start, len(s.b))], []byte{'\n'})
	return &socbot.Error{Op: "normalize.Records", Kind: socbot.KindInvalid,
		Msg: fmt.Sprintf("malformed JSON at byte %d (line %d) in the record starting at byte %d (line %d): %s", e.at, line, start, startLine, e.msg)}
}

func (s *recScanner) notObject(start int) error {
	line := 1 + bytes.Count(s.b[:start], []byte{'\n'})
	return &socbot.Error{Op: "normalize.Records", Kind: socbot.KindInvalid,
		Msg: fmt.Sprintf("the record at byte %d (line %d) is a JSON %s, not an object", start, line, jsonKind(s.b[start]))}
}

func jsonKind(c byte) string {
	switch c {
	case '"':
		return "string"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// nextLine returns the offset just after the first newline at or after i, or len(b).
func nextLine(b []byte, i int) int {
	if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(b)
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanErr is a syntax error at byte offset at.
type scanErr struct {
	at  int
	msg string
}

// Scanner states.
const (
	wantValue = iota
	afterValue
	wantKey
)

// strSpecial marks the bytes that end the fast path of a string scan.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// scanValue validates the JSON value starting at b[i] (not whitespace) and returns the offset just after
// it. It is strict RFC 8259 (no control characters in strings, no leading zeros, no trailing commas), works
// without recursion or allocation (except for the error), and bounds nesting at maxDepth.
func scanValue(b []byte, i int) (int, *scanErr) {
	var stack [maxDepth]byte
	depth := 0
	state := wantValue
	for {
		switch state {
		case wantValue:
			i = skipWS(b, i)
			if i >= len(b) {
				return i, &scanErr{i, "unexpected end of input, expected a value"}
			}
			switch c := b[i]; c {
			case '{', '[':
				if depth == maxDepth {
					return i, &scanErr{i, fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
				}
				stack[depth] = c
				depth++
				i = skipWS(b, i+1)
				if i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
					depth--
					i++
					state = afterValue
				} else if c == '{' {
					state = wantKey
				}
			case '"':
				end, err := scanString(b, i)
				if err != nil {
					return end, err
				}
				i = end
				state = afterValue
			case 't':
				if !bytes.HasPrefix(b[i:], []byte("true")) {
					return i, &scanErr{i, "invalid literal, expected true"}
				}
				i += 4
				state = afterValue
			case 'f':
				if !bytes.HasPrefix(b[i:], []byte("false")) {
					return i, &scanErr{i, "invalid literal, expected false"}
				}
				i += 5
				state = afterValue
			case 'n':
				if !bytes.HasPrefix(b[i:], []byte("null")) {
					return i, &scanErr{i, "invalid literal, expected null"}
				}
				i += 4
				state = afterValue
			default:
				if c == '-' || c >= '0' && c <= '9' {
					end, err := scanNumber(b, i)
					if err != nil {
						return end, err
					}
					i = end
					state = afterValue
					break
				}
				return i, &scanErr{i, fmt.Sprintf("unexpected %s, expected a value", quoteByte(c))}
			}
		case afterValue:
			if depth == 0 {
				return i, nil
			}
			i = skipWS(b, i)
			top := stack[depth-1]
			if i >= len(b) {
				if top == '{' {
					return i, &scanErr{i, "unexpected end of input inside an object, expected ',' or '}'"}
				}
				return i, &scanErr{i, "unexpected end of input inside an array, expected ',' or ']'"}
			}
			switch c := b[i]; {
			case c == ',':
				i++
				if top == '{' {
					state = wantKey
				} else {
					state = wantValue
				}
			case c == '}' && top == '{', c == ']' && top == '[':
				i++
				depth--
			case top == '{':
				return i, &scanErr{i, fmt.Sprintf("unexpected %s inside an object, expected ',' or '}'", quoteByte(c))}
			default:
				return i, &scanErr{i, fmt.Sprintf("unexpected %s inside an array, expected ',' or ']'", quoteByte(c))}
			}
		case wantKey:
			i = skipWS(b, i)
			if i >= len(b) {
				return i, &scanErr{i, "unexpected end of input, expected an object key"}
			}
			if b[i] != '"' {
				return i, &scanErr{i, fmt.Sprintf("unexpected %s, expected an object key in double quotes", quoteByte(b[i]))}
			}
			end, err := scanString(b, i)
			if err != nil {
				return end, err
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				if i >= len(b) {
					return i, &scanErr{i, "unexpected end of input, expected ':' after an object key"}
				}
				return i, &scanErr{i, fmt.Sprintf("unexpected %s, expected ':' after an object key", quoteByte(b[i]))}
			}
			i++
			state = wantValue
		}
	}
}

// scanString validates the string starting at b[i] == '"' and returns the offset after its closing quote.
func scanString(b []byte, i int) (int, *scanErr) {
	start := i
	i++
	for {
		// Eight bytes at a time while none of them is '"', '\\' or a control character.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if hasZeroByte(x^quotes)|hasZeroByte(x^backslashes)|hasByteBelow(x, 0x20) != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, &scanErr{i, fmt.Sprintf("unterminated string starting at byte %d", start)}
		}
		switch c := b[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return i + 1, &scanErr{i + 1, fmt.Sprintf("unterminated string starting at byte %d", start)}
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return i, &scanErr{i, "invalid \\u escape in a string"}
				}
				i += 6
			default:
				return i, &scanErr{i, fmt.Sprintf("invalid escape \\%c in a string", b[i+1])}
			}
		default:
			return i, &scanErr{i, fmt.Sprintf("control character 0x%02x in a string (must be escaped)", c)}
		}
	}
}

const (
	lsb         = 0x0101010101010101
	msb         = 0x8080808080808080
	quotes      = '"' * lsb
	backslashes = '\\' * lsb
)

// hasZeroByte is non-zero when one of the eight bytes of x is zero.
func hasZeroByte(x uint64) uint64 { return (x - lsb) & ^x & msb }

// hasByteBelow is non-zero when one of the eight bytes of x is below n (n <= 128).
func hasByteBelow(x uint64, n uint64) uint64 { return (x - n*lsb) & ^x & msb }

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// scanNumber validates the number starting at b[i] and returns the offset after it.
func scanNumber(b []byte, i int) (int, *scanErr) {
	start := i
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
		if i < len(b) && b[i] >= '0' && b[i] <= '9' {
			return i, &scanErr{start, "invalid number: leading zero"}
		}
	} else if digits() == 0 {
		return i, &scanErr{start, "invalid number"}
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return i, &scanErr{start, "invalid number: no digits after the decimal point"}
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, &scanErr{start, "invalid number: no digits in the exponent"}
		}
	}
	return i, nil
}
