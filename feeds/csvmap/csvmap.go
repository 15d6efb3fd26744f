// Package csvmap reads CSV (and other delimited) threat feeds with a configurable column mapping,
// the way MISP's and IntelMQ's generic CSV feeds are configured: which column holds the value, its
// type (fixed or from a column), and optional columns for times, confidence, tags, description and
// a reference. Rows are streamed; a multi-gigabyte file is never held in memory.
package csvmap

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// Mapping says where things are. Columns are header names or 1-based indexes.
type Mapping struct {
	Value       string // required (default "1")
	Type        string // fixed indicator type; empty: classify each value (or TypeColumn)
	TypeColumn  string
	FirstSeen   string
	LastSeen    string
	Confidence  string
	Tags        string
	TagsSep     string // default ","
	Description string
	Ref         string
	Delimiter   rune   // default ','
	Comment     string // line prefixes (after leading blanks) that mark comments; default "#"
	Header      bool   // the first non-comment row is a header
	TimeLayout  string // Go layout for the time columns; default tries RFC 3339, "2006-01-02 15:04:05", dates and unix seconds
}

// MappingFromOptions reads a mapping from feed options: value, type, type_column, first_seen,
// last_seen, confidence, tags, tags_separator, description, ref, delimiter ("tab" for \t), comment,
// header (true/false; default true when value is a name), time_layout.
func MappingFromOptions(o map[string]string) Mapping {
	m := Mapping{Value: o["value"], Type: o["type"], TypeColumn: o["type_column"], FirstSeen: o["first_seen"],
		LastSeen: o["last_seen"], Confidence: o["confidence"], Tags: o["tags"], TagsSep: o["tags_separator"],
		Description: o["description"], Ref: o["ref"], Comment: o["comment"], TimeLayout: o["time_layout"]}
	if m.Value == "" {
		m.Value = "1"
	}
	switch d := o["delimiter"]; d {
	case "", ",":
		m.Delimiter = ','
	case "tab", "\\t", "\t":
		m.Delimiter = '\t'
	default:
		m.Delimiter = []rune(d)[0]
	}
	if h, ok := o["header"]; ok {
		m.Header = h == "true" || h == "1" || h == "yes"
	} else {
		_, err := strconv.Atoi(m.Value)
		m.Header = err != nil
	}
	return m
}

// StripComments wraps r so that comment lines (optional blanks, then one of the prefixes) and blank
// lines are dropped before the CSV reader sees them. Prefixes default to "#".
func StripComments(r io.Reader, prefixes string, onComment func(line string)) io.Reader {
	if prefixes == "" {
		prefixes = "#"
	}
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		bw := bufio.NewWriterSize(pw, 64<<10)
		for {
			line, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				// a very long line: pass it through in pieces
				bw.Write(line)
				continue
			}
			t := strings.TrimLeft(string(line), " \t")
			switch {
			case strings.TrimSpace(t) == "":
			case strings.ContainsAny(t[:1], prefixes):
				if onComment != nil {
					onComment(strings.TrimSpace(t[1:]))
				}
			default:
				bw.Write(line)
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				if ferr := bw.Flush(); err == nil {
					err = ferr
				}
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// Records streams the CSV records of r (comments stripped) to fn. Records may have any number of
// fields; leading blanks of fields are trimmed.
func Records(ctx context.Context, r io.Reader, delim rune, comment string, onComment func(string), fn func(rec []string) error) error {
	pr := StripComments(r, comment, onComment)
	if c, ok := pr.(io.Closer); ok {
		defer c.Close()
	}
	cr := csv.NewReader(pr)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return socbot.E("csvmap.Records", socbot.KindInvalid, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// ParseTime reads the time formats feeds use; layout, when set, is tried first.
func ParseTime(s, layout string) time.Time {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), " UTC"))
	if s == "" || s == "None" || s == "null" {
		return time.Time{}
	}
	layouts := []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02", "2006/01/02 15:04:05"}
	if layout != "" {
		layouts = append([]string{layout}, layouts...)
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if n > 1e12 {
			return time.UnixMilli(n).UTC()
		}
		return time.Unix(n, 0).UTC()
	}
	return time.Time{}
}

// Parse streams a CSV feed with mapping m (see MappingFromOptions) and emits one Item per row.
// Rows whose value column is missing are emitted with an empty value (counted as invalid downstream).
func Parse(ctx context.Context, m Mapping, r io.Reader, emit func(intel.Item) error) error {
	const op = "csvmap.Parse"
	if m.Delimiter == 0 {
		m.Delimiter = ','
	}
	var col map[string]int
	idx := func(name string) int {
		if name == "" {
			return -1
		}
		if n, err := strconv.Atoi(name); err == nil {
			return n - 1
		}
		if i, ok := col[strings.ToLower(name)]; ok {
			return i
		}
		return -2 // named column not in the header
	}
	var iv, it, ifs, ils, ic, itg, id, ir int
	fixed := ioc.Type(m.Type)
	if fixed != "" && !fixed.Valid() {
		return socbot.FieldError(op, "type", "unknown indicator type %q", m.Type)
	}
	sep := m.TagsSep
	if sep == "" {
		sep = ","
	}
	header := m.Header
	setup := func() error {
		iv, it, ifs, ils = idx(m.Value), idx(m.TypeColumn), idx(m.FirstSeen), idx(m.LastSeen)
		ic, itg, id, ir = idx(m.Confidence), idx(m.Tags), idx(m.Description), idx(m.Ref)
		if iv < 0 {
			return socbot.FieldError(op, "value", "value column %q not found", m.Value)
		}
		return nil
	}
	ready := false
	if !header {
		if err := setup(); err != nil {
			return err
		}
		ready = true
	}
	get := func(rec []string, i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	return Records(ctx, r, m.Delimiter, m.Comment, nil, func(rec []string) error {
		if !ready {
			col = map[string]int{}
			for i, h := range rec {
				col[strings.ToLower(strings.TrimSpace(h))] = i
			}
			ready = true
			return setup()
		}
		v := get(rec, iv)
		item := intel.Item{Value: v, Description: get(rec, id), Ref: get(rec, ir),
			FirstSeen: ParseTime(get(rec, ifs), m.TimeLayout), LastSeen: ParseTime(get(rec, ils), m.TimeLayout)}
		switch {
		case fixed != "":
			item.Type = fixed
		case it >= 0:
			item.Type = ioc.Type(strings.ToLower(get(rec, it)))
		default:
			if t, n, ok := ioc.Classify(v); ok {
				item.Type, item.Value = t, n
			}
		}
		if c, err := strconv.Atoi(get(rec, ic)); err == nil {
			item.Confidence = c
		}
		if tg := get(rec, itg); tg != "" && tg != "None" {
			for _, t := range strings.Split(tg, sep) {
				if t = strings.TrimSpace(t); t != "" {
					item.Tags = append(item.Tags, t)
				}
			}
		}
		return emit(item)
	})
}
