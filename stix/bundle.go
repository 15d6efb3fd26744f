package stix

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/uuid"
	socbot "github.com/socbot/socbot"
)

// Reader streams the objects of a STIX bundle, a TAXII envelope ({"more","next","objects"}) or a bare
// JSON array of objects, one object at a time, whatever the size of the document and wherever the
// "objects" member sits among the others.
type Reader struct {
	dec     *json.Decoder
	started bool
	done    bool
	inArray bool
	depth   int // 1 when inside the top-level object

	// Envelope fields, known once Next has returned io.EOF.
	More bool
	Next string
	// Bundle fields.
	Type string
	ID   string
}

// NewReader returns a reader of r.
func NewReader(r io.Reader) *Reader {
	d := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	d.UseNumber()
	return &Reader{dec: d}
}

// Read decodes the next object into v (a *json.RawMessage, a *map[string]any or a struct pointer).
// It returns io.EOF after the last object.
func (r *Reader) Read(v any) error {
	const op = "stix.Reader"
	if r.done {
		return io.EOF
	}
	if !r.started {
		r.started = true
		t, err := r.dec.Token()
		if err != nil {
			return socbot.E(op, socbot.KindInvalid, err, "not JSON")
		}
		switch t {
		case json.Delim('['):
			r.inArray = true
		case json.Delim('{'):
			r.depth = 1
			if err := r.seekObjects(); err != nil {
				return err
			}
		default:
			return socbot.E(op, socbot.KindInvalid, "a bundle must be a JSON object or array")
		}
	}
	if !r.inArray {
		r.done = true
		return io.EOF
	}
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil { // ']'
			return socbot.E(op, socbot.KindInvalid, err)
		}
		r.inArray = false
		if r.depth == 1 {
			if err := r.seekObjects(); err != nil {
				return err
			}
			if r.inArray {
				return r.Read(v)
			}
		}
		r.done = true
		return io.EOF
	}
	if err := r.dec.Decode(v); err != nil {
		return socbot.E(op, socbot.KindInvalid, err, "bad object")
	}
	return nil
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
			r.inArray = true
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
