package stix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
	socbot "github.com/socbot/socbot"
)

// Reader streams the objects of a STIX bundle, a TAXII envelope ({"more","next","objects"}) or a bare
// JSON array of objects, one object at a time, whatever the size of the document and wherever the
// "objects" member sits among the others. Inside the array, objects are cut out by a small scanner
// (strings and nesting only) and handed over as raw bytes, so each object is parsed once, by the
// caller's parser of choice.
type Reader struct {
	src     io.Reader
	dec     *json.Decoder // top-level members
	started bool
	done    bool
	inArray bool
	depth   int // 1 when inside the top-level object

	sc  *bufio.Reader // the array, after the decoder handed over
	raw []byte

	// Envelope fields, known once Read has returned io.EOF.
	More bool
	Next string
	// Bundle fields.
	Type string
	ID   string
}

// NewReader returns a reader of r.
func NewReader(r io.Reader) *Reader {
	rd := &Reader{src: bufio.NewReaderSize(r, 64<<10)}
	rd.dec = json.NewDecoder(rd.src)
	rd.dec.UseNumber()
	return rd
}

// Read decodes the next object into v (a *json.RawMessage, a *map[string]any or a struct pointer).
// It returns io.EOF after the last object.
func (r *Reader) Read(v any) error {
	raw, err := r.ReadRaw()
	if err != nil {
		return err
	}
	if rm, ok := v.(*json.RawMessage); ok {
		*rm = append((*rm)[:0], raw...)
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return socbot.E("stix.Reader", socbot.KindInvalid, err, "bad object")
	}
	return nil
}

// ReadRaw returns the next object's JSON text, valid until the next call. It returns io.EOF after
// the last object.
func (r *Reader) ReadRaw() ([]byte, error) {
	const op = "stix.Reader"
	if r.done {
		return nil, io.EOF
	}
	if !r.started {
		r.started = true
		t, err := r.dec.Token()
		if err != nil {
			return nil, socbot.E(op, socbot.KindInvalid, err, "not JSON")
		}
		switch t {
		case json.Delim('['):
			r.enterArray()
		case json.Delim('{'):
			r.depth = 1
			if err := r.seekObjects(); err != nil {
				return nil, err
			}
		default:
			return nil, socbot.E(op, socbot.KindInvalid, "a bundle must be a JSON object or array")
		}
	}
	for r.inArray {
		raw, end, err := r.element()
		if err != nil {
			return nil, socbot.E(op, socbot.KindInvalid, err)
		}
		if !end {
			return raw, nil
		}
		// the array is over: the rest of the top-level object goes back to a decoder
		r.inArray = false
		if r.depth != 1 {
			break
		}
		c, err := r.nextNonSpace()
		if err != nil {
			return nil, socbot.E(op, socbot.KindInvalid, err, "unterminated bundle")
		}
		switch c {
		case '}':
			r.depth = 0
		case ',':
			r.dec = json.NewDecoder(io.MultiReader(strings.NewReader("{"), r.sc))
			r.dec.UseNumber()
			r.dec.Token() // the '{' just fed in
			if err := r.seekObjects(); err != nil {
				return nil, err
			}
		default:
			return nil, socbot.E(op, socbot.KindInvalid, fmt.Sprintf("unexpected %q after the objects", c))
		}
	}
	r.done = true
	return nil, io.EOF
}

// enterArray switches from the decoder to the element scanner (the decoder has consumed the '[').
func (r *Reader) enterArray() {
	r.sc = bufio.NewReaderSize(io.MultiReader(r.dec.Buffered(), r.decSource()), 64<<10)
	r.inArray = true
}

// decSource is what the current decoder reads from.
func (r *Reader) decSource() io.Reader {
	if r.sc != nil {
		return r.sc
	}
	return r.src
}

func (r *Reader) nextNonSpace() (byte, error) {
	for {
		c, err := r.sc.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

var errBadValue = errors.New("malformed JSON value in the objects array")

// element cuts the next array element, or reports the end of the array.
func (r *Reader) element() (raw []byte, end bool, err error) {
	c, err := r.nextNonSpace()
	if err != nil {
		return nil, false, errors.New("unterminated objects array")
	}
	if c == ',' {
		if c, err = r.nextNonSpace(); err != nil {
			return nil, false, errors.New("unterminated objects array")
		}
	}
	if c == ']' {
		return nil, true, nil
	}
	r.raw = append(r.raw[:0], c)
	switch c {
	case '{', '[':
		err = r.scan(1, false)
	case '"':
		err = r.scan(0, true)
	default:
		err = r.scalar()
	}
	if err != nil {
		return nil, false, err
	}
	return r.raw, false, nil
}

// scan copies bytes into raw until the value that raw starts is complete: depth open brackets, or an
// open string when inStr. It works on bufio's buffer directly (no per-byte call).
func (r *Reader) scan(depth int, inStr bool) error {
	esc := false
	for {
		n := r.sc.Buffered()
		if n == 0 {
			n = 1
		}
		buf, _ := r.sc.Peek(n)
		if len(buf) == 0 {
			return errBadValue
		}
		i := 0
		done := false
		for ; i < len(buf) && !done; i++ {
			b := buf[i]
			if inStr {
				switch {
				case esc:
					esc = false
				case b == '\\':
					esc = true
				case b == '"':
					inStr = false
					done = depth == 0
				}
				continue
			}
			switch b {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				done = depth == 0
			}
		}
		r.raw = append(r.raw, buf[:i]...)
		r.sc.Discard(i)
		if done {
			return nil
		}
	}
}

// scalar copies a number, true, false or null up to the next ',' or ']'.
func (r *Reader) scalar() error {
	for {
		b, err := r.sc.ReadByte()
		if err != nil {
			return errBadValue
		}
		if b == ',' || b == ']' {
			r.sc.UnreadByte()
			r.raw = bytes.TrimRight(r.raw, " \t\r\n")
			return nil
		}
		r.raw = append(r.raw, b)
	}
}

// seekObjects reads top-level members until "objects" (leaving the decoder inside its array) or the
// end of the top-level object, recording type, id, more and next on the way.
func (r *Reader) seekObjects() error {
	const op = "stix.Reader"
	for r.dec.More() {
		t, err := r.dec.Token()
		if err != nil {
			return socbot.E(op, socbot.KindInvalid, err)
		}
		key, ok := t.(string)
		if !ok {
			return socbot.E(op, socbot.KindInvalid, fmt.Sprintf("unexpected token %v", t))
		}
		switch key {
		case "objects":
			t, err := r.dec.Token()
			if err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
			if t == nil {
				continue // "objects": null
			}
			if t != json.Delim('[') {
				return socbot.FieldError(op, "objects", "must be an array")
			}
			r.enterArray()
			return nil
		case "more":
			var b bool
			if err := r.dec.Decode(&b); err != nil {
				return socbot.FieldError(op, "more", "%v", err)
			}
			r.More = b
		case "next":
			var s string
			if err := r.dec.Decode(&s); err != nil {
				return socbot.FieldError(op, "next", "%v", err)
			}
			r.Next = s
		case "type":
			r.dec.Decode(&r.Type)
		case "id":
			r.dec.Decode(&r.ID)
		default:
			var skip json.RawMessage
			if err := r.dec.Decode(&skip); err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
		}
	}
	if _, err := r.dec.Token(); err != nil { // '}'
		return socbot.E(op, socbot.KindInvalid, err)
	}
	r.depth = 0
	return nil
}

// Writer streams a STIX bundle: objects are written as they come, never held in memory.
type Writer struct {
	w     *bufio.Writer
	n     int
	err   error
	enc   *json.Encoder
	close bool
}

// NewWriter starts a bundle with a random id (or the given one) on w.
func NewWriter(w io.Writer, id string) *Writer {
	if id == "" {
		id = "bundle--" + uuid.NewString()
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	wr := &Writer{w: bw, enc: json.NewEncoder(bw)}
	wr.enc.SetEscapeHTML(false)
	_, wr.err = fmt.Fprintf(bw, `{"type":"bundle","id":%q,"objects":[`, id)
	return wr
}

// Write appends one object (any value that marshals to a JSON object).
func (w *Writer) Write(obj any) error {
	if w.err != nil {
		return w.err
	}
	if w.n > 0 {
		w.w.WriteByte(',')
	}
	w.w.WriteByte('\n')
	w.err = w.enc.Encode(obj)
	w.n++
	return w.err
}

// Count is the number of objects written.
func (w *Writer) Count() int { return w.n }

// Close ends the bundle and flushes.
func (w *Writer) Close() error {
	if w.close {
		return w.err
	}
	w.close = true
	if w.err != nil {
		return w.err
	}
	w.w.WriteString("]}\n")
	return w.w.Flush()
}
