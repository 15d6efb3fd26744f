package monitor

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	done := map[string]bool{}
	first := true
	for i, p := range pairs {
		if done[p.k] {
			continue
		}
		done[p.k] = true
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

// renderEVTX writes a record as {"Event":{"System":{...},"EventData":{...},"UserData":{...}}}.
func renderEVTX(r *evtx.Record) []byte {
	var sys, data, user []kv
	for _, f := range r.Fields {
		switch f.Section {
		case evtx.SectionSystem:
			sys = append(sys, kv{f.Name, f.Value})
		case evtx.SectionUserData:
			user = append(user, kv{f.Name, f.Value})
		default:
			data = append(data, kv{f.Name, f.Value})
		}
	}
	b := []byte(`{"Event":{"System":`)
	b = appendObject(b, sys)
	if len(data) > 0 {
		b = append(b, `,"EventData":`...)
		b = appendObject(b, data)
	}
	if len(user) > 0 {
		b = append(b, `,"UserData":`...)
		b = appendObject(b, user)
	}
	b = append(b, `},"EventRecordID":`...)
	b = strconv.AppendUint(b, r.ID, 10)
	return append(b, '}')
}

func renderZeek(r *netlog.ZeekRecord) []byte {
	if len(r.Raw) > 0 && r.Raw[0] == '{' {
		return append([]byte(nil), r.Raw...)
	}
	pairs := make([]kv, 0, len(r.Fields)+1)
	pairs = append(pairs, kv{"_path", r.Path})
	for _, f := range r.Fields {
		pairs = append(pairs, kv{f.Name, f.Value})
	}
	return appendObject(nil, pairs)
}

func renderSyslog(m *syslog.Message) []byte {
	pairs := []kv{{"format", m.Format}}
	if !m.Time.IsZero() {
		pairs = append(pairs, kv{"time", m.Time.Format(time.RFC3339Nano)})
	}
	m.Fields(func(k, v string) { pairs = append(pairs, kv{k, v}) })
	return appendObject(nil, pairs)
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

func extractObservables(m *sigma.Matcher) []socbot.Observable {
	var a socbot.Alert
	for _, f := range hostFields {
		if v := m.Value(f); v != "" {
			a.AddObservable(socbot.ObsHost, v, socbot.AsTarget)
			break
		}
	}
	for _, f := range []struct {
		name string
		typ  socbot.ObservableType
		role socbot.ObsRole
	}{
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
	} {
		v := m.Value(f.name)
		if v == "" || v == "-" {
			continue
		}
		if f.typ == socbot.ObsIP && (v == "::1" || v == "127.0.0.1" || v == "0.0.0.0") {
			continue
		}
		a.AddObservable(f.typ, v, f.role)
	}
	for _, f := range []string{"Hashes", "Hash"} {
		if v := m.Value(f); v != "" {
			for _, part := range strings.Split(v, ",") {
				k, h, ok := strings.Cut(part, "=")
				if !ok {
					continue
				}
				switch strings.ToUpper(strings.TrimSpace(k)) {
				case "MD5":
					a.AddObservable(socbot.ObsMD5, strings.ToLower(h), socbot.AsActor)
				case "SHA1":
					a.AddObservable(socbot.ObsSHA1, strings.ToLower(h), socbot.AsActor)
				case "SHA256":
					a.AddObservable(socbot.ObsSHA256, strings.ToLower(h), socbot.AsActor)
				}
			}
		}
	}
	return a.Observables
}

// RenderEVTXJSON renders an EVTX record as the JSON the monitor emits for it
// ({"Event":{"System":{...},"EventData":{...}}}); the JSON decoder reads it back with the same fields.
func RenderEVTXJSON(r *evtx.Record) []byte { return renderEVTX(r) }
