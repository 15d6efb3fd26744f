package normalize

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	socbot "github.com/socbot/socbot"
)

// ZeekTSV reads a Zeek ASCII log (tab-separated values under #separator, #fields and #types header
// lines) and calls fn with each data row converted to a JSON object in Zeek's own JSON form: literal
// dotted keys ("id.orig_h"), unset fields left out, sets and vectors as arrays, numbers and times as
// JSON numbers when they parse (btest's masked "XXXXXXXXXX.XXXXXX" stays a string). index counts data
// rows from 0. A row whose column count does not match #fields, or a row before any #fields line, is
// reported with err != nil and rec == nil. Unlike Records it allocates per row; it is meant for files
// (socbot ingest) and tests, not for the HTTP hot path. It returns the first error fn returns.
func ZeekTSV(body []byte, fn func(index int, rec []byte, err error) error) error {
	sep := []byte{'\t'}
	setSep := []byte{','}
	empty, unset := []byte("(empty)"), []byte("-")
	var fields, types [][]byte
	index := 0
	lineNo := 0
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		lineNo++
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			key, val := splitHeader(line)
			switch key {
			case "#separator":
				if s := zeekUnescape(val); len(s) > 0 {
					sep = s
				}
			case "#set_separator":
				setSep = val
			case "#empty_field":
				empty = val
			case "#unset_field":
				unset = val
			case "#fields":
				fields = bytes.Split(val, sep)
			case "#types":
				types = bytes.Split(val, sep)
			}
			continue
		}
		if fields == nil {
			err := &socbot.Error{Op: "normalize.ZeekTSV", Kind: socbot.KindInvalid, Msg: fmt.Sprintf("line %d: data before the #fields header", lineNo)}
			if e := fn(index, nil, err); e != nil {
				return e
			}
			index++
			continue
		}
		cols := bytes.Split(line, sep)
		if len(cols) != len(fields) {
			err := &socbot.Error{Op: "normalize.ZeekTSV", Kind: socbot.KindInvalid,
				Msg: fmt.Sprintf("line %d: %d columns, the #fields header names %d", lineNo, len(cols), len(fields))}
			if e := fn(index, nil, err); e != nil {
				return e
			}
			index++
			continue
		}
		rec := []byte{'{'}
		n := 0
		for i, c := range cols {
			if bytes.Equal(c, unset) {
				continue
			}
			if n > 0 {
				rec = append(rec, ',')
			}
			n++
			rec = appendJSONString(rec, zeekUnescape(fields[i]))
			rec = append(rec, ':')
			typ := ""
			if i < len(types) {
				typ = string(types[i])
			}
			switch {
			case (strings.HasPrefix(typ, "set[") || strings.HasPrefix(typ, "vector[")) && strings.HasSuffix(typ, "]"):
				rec = append(rec, '[')
				if !bytes.Equal(c, empty) {
					elemType := typ[strings.IndexByte(typ, '[')+1 : len(typ)-1]
					for j, e := range bytes.Split(c, setSep) {
						if j > 0 {
							rec = append(rec, ',')
						}
						rec = appendZeekValue(rec, elemType, e)
					}
				}
				rec = append(rec, ']')
			case bytes.Equal(c, empty):
				rec = append(rec, '"', '"')
			default:
				rec = appendZeekValue(rec, typ, c)
			}
		}
		rec = append(rec, '}')
		if e := fn(index, rec, nil); e != nil {
			return e
		}
		index++
	}
	return nil
}

func splitHeader(line []byte) (string, []byte) {
	i := bytes.IndexAny(line, "\t ")
	if i < 0 {
		return string(line), nil
	}
	return string(line[:i]), line[i+1:]
}

func appendZeekValue(dst []byte, typ string, v []byte) []byte {
	switch typ {
	case "time", "interval", "double", "count", "int", "port":
		if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
			if end, err := scanNumber(v, 0); err == nil && end == len(v) {
				return append(dst, v...) // a JSON number as written
			}
		}
	case "bool":
		switch string(v) {
		case "T":
			return append(dst, "true"...)
		case "F":
			return append(dst, "false"...)
		}
	}
	return appendJSONString(dst, zeekUnescape(v))
}

// zeekUnescape decodes Zeek's \xHH escapes.
func zeekUnescape(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			if n, err := strconv.ParseUint(string(b[i+2:i+4]), 16, 8); err == nil {
				out = append(out, byte(n))
				i += 3
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

// appendJSONString appends s as a JSON string (invalid UTF-8 replaced).
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
