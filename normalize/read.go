package normalize

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// get returns the value at a nested path below v ("alert.signature" is v.alert.signature), or nil. A
// numeric segment indexes an array; a non-numeric segment applied to an array looks into its first
// element.
func get(v *fastjson.Value, path string) *fastjson.Value {
	for v != nil {
		if path == "" {
			return v
		}
		seg, rest, _ := strings.Cut(path, ".")
		switch v.Type() {
		case fastjson.TypeObject:
			o, _ := v.Object()
			v = o.Get(seg)
			path = rest
		case fastjson.TypeArray:
			a, _ := v.Array()
			if n, ok := smallInt(seg); ok {
				if n >= len(a) {
					return nil
				}
				v, path = a[n], rest
			} else if len(a) > 0 {
				v = a[0]
			} else {
				return nil
			}
		default:
			return nil
		}
	}
	return nil
}

// getDotted is get for documents that also spell paths as literal dotted keys (Elastic, Zeek JSON,
// generic mappings). At each object level it first tries the whole remaining path as one key, then
// follows the next segment as a nested key, then the longer prefixes, so "kibana.alert.rule.name" is found
// whether the document spells it flattened, nested or half and half.
func getDotted(v *fastjson.Value, path string) *fastjson.Value {
	if v == nil {
		return nil
	}
	if path == "" {
		return v
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		first := strings.IndexByte(path, '.')
		if first < 0 {
			return o.Get(path)
		}
		if c := o.Get(path); c != nil {
			return c
		}
		for i := first; i >= 0; {
			if c := o.Get(path[:i]); c != nil {
				if r := getDotted(c, path[i+1:]); r != nil {
					return r
				}
			}
			j := strings.IndexByte(path[i+1:], '.')
			if j < 0 {
				break
			}
			i += j + 1
		}
	case fastjson.TypeArray:
		a, _ := v.Array()
		seg, rest, _ := strings.Cut(path, ".")
		if n, ok := smallInt(seg); ok {
			if n >= len(a) {
				return nil
			}
			return getDotted(a[n], rest)
		}
		if len(a) == 0 {
			return nil
		}
		return getDotted(a[0], path)
	}
	return nil
}

func smallInt(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// reader reads fields of one record and remembers the first type error, so that normalisers read
// straight through and check once at the end.
type reader struct {
	format string
	err    error
	dotted bool     // look paths up with getDotted
	numBuf [32]byte // scratch for numbers read as text
}

func newReader(format string) *reader { return &reader{format: format} }

// get looks path up below v the way this reader's format spells paths.
func (r *reader) get(v *fastjson.Value, path string) *fastjson.Value {
	if r.dotted {
		return getDotted(v, path)
	}
	return get(v, path)
}

func (r *reader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = socbot.FieldError("normalize."+r.format, field, format, args...)
	}
}

// raw returns the bytes of the scalar at path: strings unescaped, numbers and booleans as written. null,
// missing fields and empty arrays give nil; an array gives its first non-null scalar element; an object is
// a type error. The bytes are only valid until the parser is reused or, for numbers, until the next read:
// copy them at once (str does).
func (r *reader) raw(v *fastjson.Value, path string) []byte {
	return r.scalar(r.get(v, path), path)
}

func (r *reader) scalar(x *fastjson.Value, field string) []byte {
	if x == nil {
		return nil
	}
	switch x.Type() {
	case fastjson.TypeString:
		b, _ := x.StringBytes()
		return b
	case fastjson.TypeNumber:
		return x.MarshalTo(r.numBuf[:0])
	case fastjson.TypeTrue:
		return []byte("true")
	case fastjson.TypeFalse:
		return []byte("false")
	case fastjson.TypeArray:
		for _, e := range x.GetArray() {
			if e.Type() == fastjson.TypeObject || e.Type() == fastjson.TypeArray {
				r.fail(field, "expected a string, got an array of %ss", e.Type())
				return nil
			}
			if b := r.scalar(e, field); len(b) > 0 {
				return b
			}
		}
		return nil
	case fastjson.TypeObject:
		r.fail(field, "expected a string, got an object")
	}
	return nil
}

// appendRaw appends the string or number at path to dst as written (nothing for other types).
func (r *reader) appendRaw(dst []byte, v *fastjson.Value, path string) []byte {
	x := r.get(v, path)
	if x == nil {
		return dst
	}
	switch x.Type() {
	case fastjson.TypeString:
		b, _ := x.StringBytes()
		return append(dst, b...)
	case fastjson.TypeNumber:
		return x.MarshalTo(dst)
	}
	return dst
}

// str returns the trimmed, copied text at path, "" for missing values and placeholders ("null", "N/A",
// "-", "<host_name>", ...).
func (r *reader) str(v *fastjson.Value, path string) string {
	return text(r.raw(v, path))
}

// first returns the first non-empty str among paths.
func (r *reader) first(v *fastjson.Value, paths ...string) string {
	for _, p := range paths {
		if s := r.str(v, p); s != "" {
			return s
		}
	}
	return ""
}

// text copies b into a clean string: trimmed, valid UTF-8, without NUL bytes; placeholders give "".
func text(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || isPlaceholder(b) {
		return ""
	}
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return string(b)
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}

// isPlaceholder reports values that stand for "no value" in vendor data.
func isPlaceholder(b []byte) bool {
	if len(b) > 2 && b[0] == '<' && b[len(b)-1] == '>' {
		return true // "<host_name>", "<image_path>"
	}
	if len(b) > 11 {
		return false
	}
	var buf [11]byte
	n := copy(buf[:], b)
	for i := 0; i < n; i++ {
		if c := buf[i]; c >= 'A' && c <= 'Z' {
			buf[i] = c + 32
		}
	}
	switch string(buf[:n]) {
	case "-", "--", "null", "nil", "none", "n/a", "na", "(empty)", "(null)", "undefined", "unset", "empty":
		return true
	}
	return false
}

// each calls fn for the value at path, or for each element when it is an array (nulls skipped).
func each(v *fastjson.Value, path string, fn func(x *fastjson.Value)) {
	x := get(v, path)
	if x == nil {
		return
	}
	if x.Type() == fastjson.TypeArray {
		for _, e := range x.GetArray() {
			if e.Type() != fastjson.TypeNull {
				fn(e)
			}
		}
		return
	}
	if x.Type() != fastjson.TypeNull {
		fn(x)
	}
}

// eachAll calls fn for every non-null value path reaches, fanning out over arrays on the way
// ("files.digest" visits the digest of every element of files) and at the end, and reports whether it
// called fn at all. Literal dotted keys are found as with getDotted.
func eachAll(v *fastjson.Value, path string, fn func(x *fastjson.Value)) bool {
	if v == nil {
		return false
	}
	switch v.Type() {
	case fastjson.TypeArray:
		a, _ := v.Array()
		if path != "" {
			seg, rest, _ := strings.Cut(path, ".")
			if n, ok := smallInt(seg); ok {
				return n < len(a) && eachAll(a[n], rest, fn)
			}
		}
		found := false
		for _, e := range a {
			if eachAll(e, path, fn) {
				found = true
			}
		}
		return found
	case fastjson.TypeNull:
		return false
	}
	if path == "" {
		fn(v)
		return true
	}
	if v.Type() != fastjson.TypeObject {
		return false
	}
	o, _ := v.Object()
	if c := o.Get(path); c != nil && strings.IndexByte(path, '.') >= 0 && eachAll(c, "", fn) {
		return true
	}
	for i := 0; ; {
		j := strings.IndexByte(path[i:], '.')
		if j < 0 {
			return i == 0 && eachAll(o.Get(path), "", fn)
		}
		if c := o.Get(path[:i+j]); c != nil && eachAll(c, path[i+j+1:], fn) {
			return true
		}
		i += j + 1
	}
}

// eachStr calls fn with the text of the scalar at path, or of each scalar element of an array there.
func (r *reader) eachStr(v *fastjson.Value, path string, fn func(s string)) {
	x := r.get(v, path)
	if x == nil {
		return
	}
	one := func(e *fastjson.Value) {
		if s := text(r.scalar(e, path)); s != "" {
			fn(s)
		}
	}
	if x.Type() == fastjson.TypeArray {
		for _, e := range x.GetArray() {
			if e.Type() != fastjson.TypeNull {
				one(e)
			}
		}
		return
	}
	if x.Type() != fastjson.TypeNull {
		one(x)
	}
}

// num reads a number (or a numeric string) at path; ok is false when it is missing or null. A value of
// another type is a type error.
func (r *reader) num(v *fastjson.Value, path string) (float64, bool) {
	x := r.get(v, path)
	if x == nil {
		return 0, false
	}
	switch x.Type() {
	case fastjson.TypeNumber:
		f, err := x.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			r.fail(path, "not a finite number")
			return 0, false
		}
		return f, true
	case fastjson.TypeString:
		b, _ := x.StringBytes()
		b = bytes.TrimSpace(b)
		if len(b) == 0 || isPlaceholder(b) {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			r.fail(path, "expected a number, got %q", truncate(string(b), 40))
			return 0, false
		}
		return f, true
	case fastjson.TypeNull:
		return 0, false
	}
	r.fail(path, "expected a number, got %s", article(x.Type()))
	return 0, false
}

func article(t fastjson.Type) string {
	if t == fastjson.TypeObject || t == fastjson.TypeArray {
		return "an " + t.String()
	}
	return "a " + t.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// time reads a time at path: an RFC 3339 / ISO 8601 string (with or without a colon in the offset, any
// number of fraction digits, no zone meaning UTC), or epoch seconds, milliseconds, microseconds or
// nanoseconds as a number or numeric string. Unparseable strings (placeholders such as "{timestamp}")
// give ok=false without error; objects, arrays and booleans are type errors.
func (r *reader) time(v *fastjson.Value, path string) (time.Time, bool) {
	x := r.get(v, path)
	if x == nil {
		return time.Time{}, false
	}
	switch x.Type() {
	case fastjson.TypeString:
		b, _ := x.StringBytes()
		return parseTime(b)
	case fastjson.TypeNumber:
		return parseEpoch(x.MarshalTo(nil))
	case fastjson.TypeNull:
		return time.Time{}, false
	case fastjson.TypeArray:
		for _, e := range x.GetArray() {
			switch e.Type() {
			case fastjson.TypeString:
				b, _ := e.StringBytes()
				return parseTime(b)
			case fastjson.TypeNumber:
				return parseEpoch(e.MarshalTo(nil))
			}
		}
		return time.Time{}, false
	}
	r.fail(path, "expected a time, got %s", article(x.Type()))
	return time.Time{}, false
}

// when picks the first usable time among paths.
func (r *reader) when(v *fastjson.Value, paths ...string) (time.Time, bool) {
	for _, p := range paths {
		if t, ok := r.time(v, p); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// object reports whether path holds an object; another non-null type is a type error.
func (r *reader) object(v *fastjson.Value, path string) *fastjson.Value {
	x := r.get(v, path)
	if x == nil || x.Type() == fastjson.TypeNull {
		return nil
	}
	if x.Type() != fastjson.TypeObject {
		r.fail(path, "expected an object, got %s", article(x.Type()))
		return nil
	}
	return x
}

// array returns the elements at path; another non-null type than array is a type error.
func (r *reader) array(v *fastjson.Value, path string) []*fastjson.Value {
	x := r.get(v, path)
	if x == nil || x.Type() == fastjson.TypeNull {
		return nil
	}
	if x.Type() != fastjson.TypeArray {
		r.fail(path, "expected an array, got %s", article(x.Type()))
		return nil
	}
	return x.GetArray()
}

// missing reports a required field that is absent.
func (r *reader) missing(field string) {
	r.fail(field, "required field is missing")
}

// lowerASCII returns s lower-cased (ASCII only; fast path when already lower).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// equalFoldB compares b with s case-insensitively (ASCII).
func equalFoldB(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		if d >= 'A' && d <= 'Z' {
			d += 32
		}
		if c != d {
			return false
		}
	}
	return true
}

// strOf returns the string value of v (no copy) or nil when it is not a string.
func strOf(v *fastjson.Value) []byte {
	if v == nil || v.Type() != fastjson.TypeString {
		return nil
	}
	b, _ := v.StringBytes()
	return b
}

// has reports whether the nested path exists and is not null.
func has(v *fastjson.Value, path string) bool {
	x := get(v, path)
	return x != nil && x.Type() != fastjson.TypeNull
}

// hasDotted is has with getDotted.
func hasDotted(v *fastjson.Value, path string) bool {
	x := getDotted(v, path)
	return x != nil && x.Type() != fastjson.TypeNull
}

func errorf(op, field, format string, args ...any) error {
	return &socbot.Error{Op: "normalize." + op, Kind: socbot.KindInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}
