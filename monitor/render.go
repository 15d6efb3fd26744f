package monitor

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/evtx"
	"github.com/socbot/socbot/netlog"
	"github.com/socbot/socbot/sigma"
	"github.com/socbot/socbot/syslog"
)

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

type kv struct{ k, v string }

// appendObject writes pairs as a JSON object; repeated keys become arrays.
func appendObject(dst []byte, pairs []kv) []byte {
	dst = append(dst, '{')
	first := true
	for i, p := range pairs {
		dup := false
		for _, q := range pairs[:i] {
			if q.k == p.k {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, p.k)
		dst = append(dst, ':')
		n := 0
		for _, q := range pairs[i:] {
			if q.k == p.k {
				n++
			}
		}
		if n == 1 {
			dst = appendJSONString(dst, p.v)
			continue
		}
		dst = append(dst, '[')
		j := 0
		for _, q := range pairs[i:] {
			if q.k == p.k {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, q.v)
				j++
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// renderer appends an event's JSON to dst; it reuses pairs for the event's fields.
type renderer struct {
	pairs []kv
}

// evtx appends a record as {"Event":{"System":{...},"EventData":{...},"UserData":{...}},"EventRecordID":N}.
func (rn *renderer) evtx(dst []byte, r *evtx.Record) []byte {
	pairs := rn.pairs[:0]
	for _, sec := range []evtx.Section{evtx.SectionSystem, evtx.SectionOther, evtx.SectionUserData} {
		start := len(pairs)
		for _, f := range r.Fields {
			s := f.Section
			if s == evtx.SectionEventData {
				s = evtx.SectionOther
			}
			if s == sec {
				pairs = append(pairs, kv{f.Name, f.Value})
			}
		}
		switch {
		case sec == evtx.SectionSystem:
			dst = append(dst, `{"Event":{"System":`...)
			dst = appendObject(dst, pairs[start:])
		case len(pairs) > start && sec == evtx.SectionOther:
			dst = append(dst, `,"EventData":`...)
			dst = appendObject(dst, pairs[start:])
		case len(pairs) > start:
			dst = append(dst, `,"UserData":`...)
			dst = appendObject(dst, pairs[start:])
		}
	}
	rn.pairs = pairs[:0]
	dst = append(dst, `},"EventRecordID":`...)
	dst = strconv.AppendUint(dst, r.ID, 10)
	return append(dst, '}')
}

func (rn *renderer) zeek(dst []byte, r *netlog.ZeekRecord) []byte {
	if len(r.Raw) > 0 && r.Raw[0] == '{' {
		return append(dst, r.Raw...)
	}
	pairs := append(rn.pairs[:0], kv{"_path", r.Path})
	for _, f := range r.Fields {
		pairs = append(pairs, kv{f.Name, f.Value})
	}
	rn.pairs = pairs[:0]
	return appendObject(dst, pairs)
}

func (rn *renderer) syslog(dst []byte, m *syslog.Message) []byte {
	pairs := append(rn.pairs[:0], kv{"format", m.Format})
	if !m.Time.IsZero() {
		pairs = append(pairs, kv{"time", m.Time.Format(time.RFC3339Nano)})
	}
	m.Fields(func(k, v string) { pairs = append(pairs, kv{k, v}) })
	rn.pairs = pairs[:0]
	return appendObject(dst, pairs)
}

// observableFields are the event fields read back to build observables; they are registered with
// the engine so that the matcher keeps them.
var observableFields = []string{
	"Computer", "Hostname", "ComputerName", "WorkstationName", "host", "hostname", "host.name",
	"User", "SubjectUserName", "TargetUserName", "AccountName", "UserName", "user", "user.name", "SubjectDomainName", "TargetDomainName",
	"IpAddress", "SourceIp", "DestinationIp", "SourceAddress", "DestAddress", "ClientAddress", "src_ip", "dest_ip", "id.orig_h", "id.resp_h",
	"source.ip", "destination.ip", "c-ip", "ClientIP",
	"QueryName", "DestinationHostname", "query", "r-dns", "cs-host", "url.domain", "dns.question.name",
	"Image", "ParentImage", "NewProcessName", "ParentProcessName", "SourceImage", "TargetImage", "process.executable", "CommandLine",
	"Hashes", "Hash", "md5", "sha1", "sha256", "process.hash.sha256",
	"TargetFilename", "ImageLoaded", "file.path",
}

var hostFields = []string{"Computer", "Hostname", "ComputerName", "host.name", "hostname", "host", "WorkstationName"}

// obsField is an event field read back as an observable.
type obsField struct {
	name string
	typ  socbot.ObservableType
	role socbot.ObsRole
}

var obsFieldList = []obsField{
	{"User", socbot.ObsUser, socbot.AsActor}, {"SubjectUserName", socbot.ObsUser, socbot.AsActor}, {"TargetUserName", socbot.ObsUser, socbot.AsTarget},
	{"AccountName", socbot.ObsUser, socbot.AsRelated}, {"UserName", socbot.ObsUser, socbot.AsRelated}, {"user", socbot.ObsUser, socbot.AsActor}, {"user.name", socbot.ObsUser, socbot.AsActor},
	{"IpAddress", socbot.ObsIP, socbot.AsSource}, {"SourceIp", socbot.ObsIP, socbot.AsSource}, {"SourceAddress", socbot.ObsIP, socbot.AsSource},
	{"ClientAddress", socbot.ObsIP, socbot.AsSource}, {"src_ip", socbot.ObsIP, socbot.AsSource}, {"id.orig_h", socbot.ObsIP, socbot.AsSource},
	{"source.ip", socbot.ObsIP, socbot.AsSource}, {"c-ip", socbot.ObsIP, socbot.AsSource}, {"ClientIP", socbot.ObsIP, socbot.AsSource},
	{"DestinationIp", socbot.ObsIP, socbot.AsDestination}, {"DestAddress", socbot.ObsIP, socbot.AsDestination}, {"dest_ip", socbot.ObsIP, socbot.AsDestination},
	{"id.resp_h", socbot.ObsIP, socbot.AsDestination}, {"destination.ip", socbot.ObsIP, socbot.AsDestination},
	{"QueryName", socbot.ObsDomain, socbot.AsDestination}, {"DestinationHostname", socbot.ObsDomain, socbot.AsDestination}, {"query", socbot.ObsDomain, socbot.AsDestination},
	{"cs-host", socbot.ObsDomain, socbot.AsDestination}, {"url.domain", socbot.ObsDomain, socbot.AsDestination}, {"dns.question.name", socbot.ObsDomain, socbot.AsDestination},
	{"Image", socbot.ObsProcess, socbot.AsActor}, {"NewProcessName", socbot.ObsProcess, socbot.AsActor}, {"process.executable", socbot.ObsProcess, socbot.AsActor},
	{"SourceImage", socbot.ObsProcess, socbot.AsActor}, {"TargetImage", socbot.ObsProcess, socbot.AsTarget},
	{"ParentImage", socbot.ObsProcess, socbot.AsRelated}, {"ParentProcessName", socbot.ObsProcess, socbot.AsRelated},
	{"TargetFilename", socbot.ObsFile, socbot.AsTarget}, {"ImageLoaded", socbot.ObsFile, socbot.AsTarget}, {"file.path", socbot.ObsFile, socbot.AsTarget},
	{"md5", socbot.ObsMD5, socbot.AsRelated}, {"sha1", socbot.ObsSHA1, socbot.AsRelated}, {"sha256", socbot.ObsSHA256, socbot.AsRelated},
	{"process.hash.sha256", socbot.ObsSHA256, socbot.AsActor},
}

// obsRefs are the observable fields resolved against one engine.
type obsRefs struct {
	hosts  []sigma.FieldRef
	fields []obsField
	refs   []sigma.FieldRef
	hashes []sigma.FieldRef // Sysmon "Hashes" / "Hash": MD5=...,SHA256=...
}

func newObsRefs(e *sigma.Engine) *obsRefs {
	o := &obsRefs{}
	for _, f := range hostFields {
		if r, ok := e.Field(f); ok {
			o.hosts = append(o.hosts, r)
		}
	}
	for _, f := range obsFieldList {
		if r, ok := e.Field(f.name); ok {
			o.fields = append(o.fields, f)
			o.refs = append(o.refs, r)
		}
	}
	for _, f := range []string{"Hashes", "Hash"} {
		if r, ok := e.Field(f); ok {
			o.hashes = append(o.hashes, r)
		}
	}
	return o
}

// addObs appends an observable unless it is empty or already there.
func addObs(dst []socbot.Observable, t socbot.ObservableType, v string, role socbot.ObsRole) []socbot.Observable {
	if v == "" {
		return dst
	}
	for _, o := range dst {
		if o.Type == t && o.Value == v && o.Role == role {
			return dst
		}
	}
	return append(dst, socbot.Observable{Type: t, Value: v, Role: role})
}

// extractObservables appends the event's observables to dst; lowercased hashes are written to
// *arena. The values point into the event and the arena: valid until the next event.
func (o *obsRefs) extract(m *sigma.Matcher, dst []socbot.Observable, arena *[]byte) []socbot.Observable {
	for _, r := range o.hosts {
		if v := m.FieldValue(r); v != "" {
			dst = addObs(dst, socbot.ObsHost, v, socbot.AsTarget)
			break
		}
	}
	for i, f := range o.fields {
		v := m.FieldValue(o.refs[i])
		if v == "" || v == "-" {
			continue
		}
		if f.typ == socbot.ObsIP && (v == "::1" || v == "127.0.0.1" || v == "0.0.0.0") {
			continue
		}
		dst = addObs(dst, f.typ, v, f.role)
	}
	for _, r := range o.hashes {
		rest := m.FieldValue(r)
		for rest != "" {
			var part string
			part, rest, _ = strings.Cut(rest, ",")
			k, h, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			var t socbot.ObservableType
			switch k = strings.TrimSpace(k); {
			case strings.EqualFold(k, "MD5"):
				t = socbot.ObsMD5
			case strings.EqualFold(k, "SHA1"):
				t = socbot.ObsSHA1
			case strings.EqualFold(k, "SHA256"):
				t = socbot.ObsSHA256
			default:
				continue
			}
			dst = addObs(dst, t, lowerInto(arena, h), socbot.AsActor)
		}
	}
	return dst
}

// lowerInto returns s lowercased (ASCII), written to *arena when it has capitals.
func lowerInto(arena *[]byte, s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			start := len(*arena)
			for j := 0; j < len(s); j++ {
				c := s[j]
				if c >= 'A' && c <= 'Z' {
					c += 32
				}
				*arena = append(*arena, c)
			}
			b := (*arena)[start:]
			return unsafe.String(unsafe.SliceData(b), len(b))
		}
	}
	return s
}

// RenderEVTXJSON renders an EVTX record as the JSON the monitor emits for it
// ({"Event":{"System":{...},"EventData":{...}}}); the JSON decoder reads it back with the same fields.
func RenderEVTXJSON(r *evtx.Record) []byte {
	var rn renderer
	return rn.evtx(nil, r)
}
