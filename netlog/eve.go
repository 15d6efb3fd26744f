package netlog

import (
	"io"
	"time"

	"github.com/valyala/fastjson"
)

// EveEvent is one Suricata eve.json record with the fields socbot uses pulled out. Raw is the whole
// line; it is valid only during the callback.
type EveEvent struct {
	Time      time.Time
	EventType string
	FlowID    string
	SrcIP     string
	SrcPort   int
	DestIP    string
	DestPort  int
	Proto     string
	AppProto  string
	Host      string // sensor host, when present

	Alert *EveAlert

	DNSQuery   string // dns.rrname (or dns.query[0].rrname in old formats)
	HTTPHost   string
	HTTPURL    string
	HTTPUA     string
	TLSSNI     string
	TLSJA3     string
	TLSJA3S    string
	FileMD5    string
	FileSHA1   string
	FileSHA256 string
	FileName   string
	Raw        []byte
}

// EveAlert is the alert part of an eve event.
type EveAlert struct {
	Action      string
	GID         int
	SignatureID int
	Rev         int
	Signature   string
	Category    string
	Severity    int // Suricata: 1 high, 2 medium, 3 low
	Metadata    map[string][]string
}

// ReadEve reads eve.json lines. Lines that are not JSON objects with an event_type are counted as
// malformed and skipped.
func ReadEve(r io.Reader, fn func(*EveEvent) error) (Stats, error) {
	var st Stats
	var p fastjson.Parser
	ev := &EveEvent{}
	alert := &EveAlert{}
	err := lines(r, &st, func(line []byte) error {
		if len(line) == 0 {
			return nil
		}
		v, err := p.ParseBytes(line)
		if err != nil || v.Type() != fastjson.TypeObject {
			st.Malformed++
			return nil
		}
		et := string(v.GetStringBytes("event_type"))
		if et == "" {
			st.Malformed++
			return nil
		}
		*ev = EveEvent{EventType: et, Raw: line}
		if ts := v.GetStringBytes("timestamp"); ts != nil {
			ev.Time = eveTime(string(ts))
		}
		ev.FlowID = numOrString(v.Get("flow_id"))
		ev.SrcIP = string(v.GetStringBytes("src_ip"))
		ev.SrcPort = v.GetInt("src_port")
		ev.DestIP = string(v.GetStringBytes("dest_ip"))
		ev.DestPort = v.GetInt("dest_port")
		ev.Proto = string(v.GetStringBytes("proto"))
		ev.AppProto = string(v.GetStringBytes("app_proto"))
		ev.Host = string(v.GetStringBytes("host"))
		if a := v.Get("alert"); a != nil && a.Type() == fastjson.TypeObject {
			*alert = EveAlert{
				Action:      string(a.GetStringBytes("action")),
				GID:         a.GetInt("gid"),
				SignatureID: a.GetInt("signature_id"),
				Rev:         a.GetInt("rev"),
				Signature:   string(a.GetStringBytes("signature")),
				Category:    string(a.GetStringBytes("category")),
				Severity:    a.GetInt("severity"),
			}
			if md := a.Get("metadata"); md != nil && md.Type() == fastjson.TypeObject {
				alert.Metadata = map[string][]string{}
				o, _ := md.Object()
				o.Visit(func(k []byte, mv *fastjson.Value) {
					arr, _ := mv.Array()
					for _, x := range arr {
						alert.Metadata[string(k)] = append(alert.Metadata[string(k)], string(x.GetStringBytes()))
					}
				})
			}
			ev.Alert = alert
		}
		if d := v.Get("dns"); d != nil {
			ev.DNSQuery = string(d.GetStringBytes("rrname"))
			if ev.DNSQuery == "" {
				if q := d.Get("query"); q != nil {
					if arr, _ := q.Array(); len(arr) > 0 {
						ev.DNSQuery = string(arr[0].GetStringBytes("rrname"))
					}
				}
			}
			if ev.DNSQuery == "" {
				if q := d.Get("queries"); q != nil {
					if arr, _ := q.Array(); len(arr) > 0 {
						ev.DNSQuery = string(arr[0].GetStringBytes("rrname"))
					}
				}
			}
		}
		if h := v.Get("http"); h != nil {
			ev.HTTPHost = string(h.GetStringBytes("hostname"))
			ev.HTTPURL = string(h.GetStringBytes("url"))
			ev.HTTPUA = string(h.GetStringBytes("http_user_agent"))
		}
		if t := v.Get("tls"); t != nil {
			ev.TLSSNI = string(t.GetStringBytes("sni"))
			ev.TLSJA3 = string(t.GetStringBytes("ja3", "hash"))
			ev.TLSJA3S = string(t.GetStringBytes("ja3s", "hash"))
		}
		if f := v.Get("fileinfo"); f != nil {
			ev.FileName = string(f.GetStringBytes("filename"))
			ev.FileMD5 = string(f.GetStringBytes("md5"))
			ev.FileSHA1 = string(f.GetStringBytes("sha1"))
			ev.FileSHA256 = string(f.GetStringBytes("sha256"))
		}
		st.Records++
		return fn(ev)
	})
	return st, err
}

func numOrString(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	if v.Type() == fastjson.TypeString {
		return string(v.GetStringBytes())
	}
	return v.String()
}

// eveTime reads Suricata's "2017-01-30T12:13:14.123456+0100" (zone without colon) and RFC 3339.
func eveTime(s string) time.Time {
	for _, f := range []string{"2006-01-02T15:04:05.999999999-0700", time.RFC3339Nano} {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
