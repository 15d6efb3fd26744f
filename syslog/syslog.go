// Package syslog parses syslog messages (RFC 5424, RFC 3164 and the plain lines of /var/log files)
// and runs UDP and TCP listeners (RFC 6587 octet counting or newline framing) with bounded message
// size, connection count and queue length.
package syslog

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// Message is one parsed syslog message.
type Message struct {
	Format   string // rfc5424, rfc3164 or plain
	Facility int    // -1 when the line had no PRI
	Severity int    // -1 when the line had no PRI
	Time     time.Time
	Hostname string
	AppName  string // RFC 3164 TAG without the pid
	ProcID   string
	MsgID    string
	SD       []SDElement
	Message  string
}

// SDElement is one RFC 5424 structured-data element.
type SDElement struct {
	ID     string
	Params []SDParam
}

// SDParam is one structured-data parameter.
type SDParam struct {
	Name, Value string
}

// MaxMessage is the largest message accepted (bytes); longer input is truncated by listeners.
const MaxMessage = 64 << 10

// Parser parses messages. RFC 3164 timestamps have no year or zone: the parser takes the year from
// its clock (the previous year when that would put the message more than a month in the future) and
// the zone from Location.
type Parser struct {
	Clock    socbot.Clock
	Location *time.Location
}

// Parse reads one message (without trailing newline).
func (p *Parser) Parse(b []byte) (Message, error) {
	const op = "syslog.Parse"
	b = bytes.TrimRight(b, "\r\n\x00")
	m := Message{Facility: -1, Severity: -1}
	if len(b) == 0 {
		return m, socbot.FieldError(op, "message", "empty")
	}
	rest := b
	if b[0] == '<' {
		end := bytes.IndexByte(b[:min(len(b), 6)], '>')
		if end < 2 {
			return m, socbot.FieldError(op, "pri", "bad PRI")
		}
		pri, err := strconv.Atoi(string(b[1:end]))
		if err != nil || pri < 0 || pri > 191 {
			return m, socbot.FieldError(op, "pri", "bad PRI %q", b[1:end])
		}
		m.Facility, m.Severity = pri/8, pri%8
		rest = b[end+1:]
		if len(rest) >= 2 && rest[0] >= '1' && rest[0] <= '9' && rest[1] == ' ' {
			return p.parse5424(m, rest[2:])
		}
	}
	return p.parse3164(m, rest)
}

func nextField(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

func nilvalue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func (p *Parser) parse5424(m Message, b []byte) (Message, error) {
	const op = "syslog.Parse"
	m.Format = "rfc5424"
	var ts string
	ts, b = nextField(b)
	if ts != "-" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return m, socbot.FieldError(op, "timestamp", "bad RFC 5424 timestamp %q", ts)
		}
		m.Time = t.UTC()
	}
	var s string
	s, b = nextField(b)
	m.Hostname = nilvalue(s)
	s, b = nextField(b)
	m.AppName = nilvalue(s)
	s, b = nextField(b)
	m.ProcID = nilvalue(s)
	s, b = nextField(b)
	m.MsgID = nilvalue(s)
	if len(b) == 0 {
		return m, nil
	}
	if b[0] == '-' {
		b = b[1:]
	} else if b[0] == '[' {
		var err error
		m.SD, b, err = parseSD(b)
		if err != nil {
			return m, err
		}
	} else {
		return m, socbot.FieldError(op, "structured_data", "expected '-' or '['")
	}
	if len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // BOM
	m.Message = string(b)
	return m, nil
}

func parseSD(b []byte) ([]SDElement, []byte, error) {
	const op = "syslog.Parse"
	var out []SDElement
	for len(b) > 0 && b[0] == '[' {
		b = b[1:]
		i := bytes.IndexAny(b, " ]")
		if i <= 0 {
			return nil, nil, socbot.FieldError(op, "structured_data", "bad SD-ID")
		}
		el := SDElement{ID: string(b[:i])}
		b = b[i:]
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
			eq := bytes.IndexByte(b, '=')
			if eq <= 0 || eq+1 >= len(b) || b[eq+1] != '"' {
				return nil, nil, socbot.FieldError(op, "structured_data", "bad SD-PARAM in %s", el.ID)
			}
			name := string(b[:eq])
			b = b[eq+2:]
			var val []byte
			closed := false
			for j := 0; j < len(b); j++ {
				c := b[j]
				if c == '\\' && j+1 < len(b) && (b[j+1] == '"' || b[j+1] == '\\' || b[j+1] == ']') {
					val = append(val, b[j+1])
					j++
					continue
				}
				if c == '"' {
					b = b[j+1:]
					closed = true
					break
				}
				val = append(val, c)
			}
			if !closed {
				return nil, nil, socbot.FieldError(op, "structured_data", "unterminated value of %s", name)
			}
			el.Params = append(el.Params, SDParam{Name: name, Value: string(val)})
		}
		if len(b) == 0 || b[0] != ']' {
			return nil, nil, socbot.FieldError(op, "structured_data", "missing ']' after %s", el.ID)
		}
		b = b[1:]
		out = append(out, el)
		if len(out) > 64 {
			return nil, nil, socbot.FieldError(op, "structured_data", "too many elements")
		}
	}
	return out, b, nil
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

func (p *Parser) parse3164(m Message, b []byte) (Message, error) {
	if m.Facility < 0 {
		m.Format = "plain"
	} else {
		m.Format = "rfc3164"
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	// "Mmm dd hh:mm:ss" (dd space-padded), or an RFC 3339 timestamp (rsyslog high precision)
	if len(b) >= 16 && b[3] == ' ' && b[6] == ' ' && b[9] == ':' && b[12] == ':' {
		if mon, ok := months[string(b[:3])]; ok {
			day, e1 := strconv.Atoi(strings.TrimSpace(string(b[4:6])))
			hh, e2 := strconv.Atoi(string(b[7:9]))
			mm, e3 := strconv.Atoi(string(b[10:12]))
			ss, e4 := strconv.Atoi(string(b[13:15]))
			if e1 == nil && e2 == nil && e3 == nil && e4 == nil {
				now := time.Now()
				if p.Clock != nil {
					now = p.Clock.Now()
				}
				now = now.In(loc)
				t := time.Date(now.Year(), mon, day, hh, mm, ss, 0, loc)
				if t.After(now.AddDate(0, 1, 0)) {
					t = t.AddDate(-1, 0, 0)
				}
				m.Time = t.UTC()
				b = b[15:]
				if len(b) > 0 && b[0] == ' ' {
					b = b[1:]
				}
			}
		}
	} else if sp := bytes.IndexByte(b, ' '); sp >= 19 && b[4] == '-' && b[10] == 'T' {
		if t, err := time.Parse(time.RFC3339Nano, string(b[:sp])); err == nil {
			m.Time = t.UTC()
			b = b[sp+1:]
		}
	}
	if !m.Time.IsZero() {
		// HOSTNAME then TAG
		var host string
		host, rest := nextField(b)
		if rest != nil && !strings.HasSuffix(host, ":") && !strings.Contains(host, "[") {
			m.Hostname = host
			b = rest
		}
	}
	// TAG: alphanumerics up to ':' or '[' (at most 48 chars)
	tagEnd := -1
	for i := 0; i < len(b) && i < 49; i++ {
		c := b[i]
		if c == '[' || c == ':' {
			tagEnd = i
			break
		}
		if c == ' ' {
			break
		}
	}
	if tagEnd > 0 {
		m.AppName = string(b[:tagEnd])
		b = b[tagEnd:]
		if b[0] == '[' {
			if j := bytes.IndexByte(b, ']'); j > 0 {
				m.ProcID = string(b[1:j])
				b = b[j+1:]
			}
		}
		if len(b) > 0 && b[0] == ':' {
			b = b[1:]
		}
		if len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
	}
	m.Message = string(b)
	return m, nil
}

// Fields returns the message as flat fields for the Sigma matcher and for output.
func (m *Message) Fields(fn func(name, value string)) {
	if m.Hostname != "" {
		fn("host", m.Hostname)
	}
	if m.AppName != "" {
		fn("program", m.AppName)
	}
	if m.ProcID != "" {
		fn("pid", m.ProcID)
	}
	if m.MsgID != "" {
		fn("msgid", m.MsgID)
	}
	if m.Facility >= 0 {
		fn("facility", strconv.Itoa(m.Facility))
		fn("severity", strconv.Itoa(m.Severity))
	}
	for _, el := range m.SD {
		for _, p := range el.Params {
			fn(el.ID+"."+p.Name, p.Value)
		}
	}
	fn("message", m.Message)
}
