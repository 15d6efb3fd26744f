// Package netlog reads network sensor logs: Suricata eve.json and Zeek logs in TSV (with #fields
// headers) or JSON form. Readers stream line by line with bounded line length; a malformed line is
// counted and skipped, never fatal.
package netlog

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// MaxLine is the longest log line read; longer lines are counted as malformed and skipped.
const MaxLine = 4 << 20

// Field is one named value of a record.
type Field struct {
	Name  string
	Value string
}

// Stats counts lines read and skipped.
type Stats struct {
	Lines     int `json:"lines"`
	Records   int `json:"records"`
	Malformed int `json:"malformed"`
}

// lines calls fn for each line of r (without the newline), skipping over-long lines.
func lines(r io.Reader, st *Stats, fn func([]byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	tooLong := false
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(chunk) > 0 || (err == nil && !isPrefix) {
			if isPrefix || long != nil || tooLong {
				if !tooLong {
					long = append(long, chunk...)
					if len(long) > MaxLine {
						tooLong, long = true, nil
					}
				}
				if isPrefix {
					continue
				}
				if tooLong {
					st.Lines++
					st.Malformed++
					tooLong = false
					continue
				}
				chunk, long = long, nil
			}
			st.Lines++
			if ferr := fn(chunk); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return socbot.E("netlog.read", err)
		}
	}
}

// ZeekRecord is one Zeek log entry: the log path (conn, dns, http, ssl, ...), time and fields in
// log order. Unset fields ("-") are left out; "(empty)" becomes "". Values are valid only during the
// callback.
type ZeekRecord struct {
	Path   string
	Time   time.Time
	Fields []Field
	Raw    []byte // the line as read
}

// Get returns the value of a field ("" if unset).
func (z *ZeekRecord) Get(name string) string {
	for _, f := range z.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// ReadZeek reads a Zeek log in TSV (header lines starting with '#') or JSON Lines form. path is the
// log path to assume when the file does not say (e.g. "conn" from conn.log).
func ReadZeek(r io.Reader, path string, fn func(*ZeekRecord) error) (Stats, error) {
	var st Stats
	var names []string
	sep := byte('\t')
	unset, empty := "-", "(empty)"
	var p fastjson.Parser
	rec := &ZeekRecord{Path: path}
	err := lines(r, &st, func(line []byte) error {
		if len(line) == 0 {
			return nil
		}
		if line[0] == '#' {
			k, v, _ := bytes.Cut(line[1:], []byte{sep})
			if len(v) == 0 && string(k) != "fields" {
				k, v, _ = bytes.Cut(line[1:], []byte{' '})
			}
			switch string(k) {
			case "separator":
				if s := strings.TrimSpace(string(v)); strings.HasPrefix(s, `\x`) && len(s) == 4 {
					if b, err := strconv.ParseUint(s[2:], 16, 8); err == nil {
						sep = byte(b)
					}
				}
			case "fields":
				names = strings.Split(string(v), string(sep))
			case "path":
				rec.Path = string(v)
			case "unset_field":
				unset = string(v)
			case "empty_field":
				empty = string(v)
			}
			return nil
		}
		rec.Fields = rec.Fields[:0]
		rec.Raw = line
		rec.Time = time.Time{}
		if line[0] == '{' {
			v, err := p.ParseBytes(line)
			if err != nil {
				st.Malformed++
				return nil
			}
			o, err := v.Object()
			if err != nil {
				st.Malformed++
				return nil
			}
			o.Visit(func(k []byte, c *fastjson.Value) {
				val := jsonText(c)
				if string(k) == "_path" {
					rec.Path = val
					return
				}
				rec.Fields = append(rec.Fields, Field{Name: string(k), Value: val})
			})
			rec.Time = zeekTime(rec.Get("ts"))
			st.Records++
			return fn(rec)
		}
		if names == nil {
			st.Malformed++
			return nil
		}
		cols := bytes.Split(line, []byte{sep})
		if len(cols) != len(names) {
			st.Malformed++
			return nil
		}
		for i, c := range cols {
			s := string(c)
			if s == unset {
				continue
			}
			if s == empty {
				s = ""
			}
			rec.Fields = append(rec.Fields, Field{Name: names[i], Value: s})
		}
		rec.Time = zeekTime(rec.Get("ts"))
		st.Records++
		return fn(rec)
	})
	return st, err
}

func jsonText(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNull:
		return ""
	case fastjson.TypeArray:
		a, _ := v.Array()
		parts := make([]string, 0, len(a))
		for _, x := range a {
			parts = append(parts, jsonText(x))
		}
		return strings.Join(parts, ",")
	}
	return v.String()
}

// zeekTime reads epoch seconds with fractions, or RFC 3339 (Zeek JSON with ISO timestamps).
func zeekTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

// ParseFloat parses a Zeek count/interval field, 0 when unset or bad.
func ParseFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
