// Package abusech reads the abuse.ch feeds: URLhaus CSV dumps, Feodo Tracker's IP blocklist (CSV and
// JSON) and ThreatFox exports (CSV and the JSON API answer). Columns are found from the header (which
// abuse.ch often writes as a comment), so older and newer layouts both read; everything is streamed.
package abusech

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds/csvmap"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// Format names.
const (
	URLhausCSV    = "urlhaus"
	FeodoCSV      = "feodo"
	FeodoJSON     = "feodo-json"
	ThreatFoxCSV  = "threatfox"
	ThreatFoxJSON = "threatfox-json"
)

// default column layouts, used when no header is found
var layouts = map[string][]string{
	URLhausCSV:   {"id", "dateadded", "url", "url_status", "last_online", "threat", "tags", "urlhaus_link", "reporter"},
	FeodoCSV:     {"first_seen_utc", "dst_ip", "dst_port", "c2_status", "last_online", "malware"},
	ThreatFoxCSV: {"first_seen_utc", "ioc_id", "ioc_value", "ioc_type", "threat_type", "fk_malware", "malware_alias", "malware_printable", "last_seen_utc", "confidence_level", "is_compromised", "reference", "tags", "anonymous", "reporter"},
}

// headerKey is a column that only the header row of each format has.
var headerKey = map[string]string{URLhausCSV: "dateadded", FeodoCSV: "dst_ip", ThreatFoxCSV: "ioc_value"}

// ParseCSV streams one of the CSV formats (URLhausCSV, FeodoCSV, ThreatFoxCSV).
func ParseCSV(ctx context.Context, format string, r io.Reader, emit func(intel.Item) error) error {
	const op = "abusech.ParseCSV"
	layout, ok := layouts[format]
	if !ok {
		return socbot.FieldError(op, "format", "unknown abuse.ch CSV format %q", format)
	}
	cols := map[string]int{}
	setCols := func(names []string) {
		cols = map[string]int{}
		for i, n := range names {
			cols[strings.Trim(strings.TrimSpace(n), `"`)] = i
		}
	}
	setCols(layout)
	key := headerKey[format]
	onComment := func(c string) {
		if strings.Contains(c, key) {
			setCols(splitHeader(c))
		}
	}
	get := func(rec []string, name string) string {
		i, ok := cols[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	rows := 0
	err := csvmap.Records(ctx, r, ',', "#", onComment, func(rec []string) error {
		if len(rec) > 0 && slicesContain(rec, key) {
			setCols(rec)
			return nil
		}
		rows++
		var it intel.Item
		switch format {
		case URLhausCSV:
			it = intel.Item{Type: ioc.URL, Value: get(rec, "url"), FirstSeen: csvmap.ParseTime(get(rec, "dateadded"), ""),
				LastSeen: csvmap.ParseTime(get(rec, "last_online"), ""), Ref: get(rec, "urlhaus_link"),
				Tags: tags(get(rec, "tags"), get(rec, "threat"))}
			if it.Ref == "" && get(rec, "id") != "" {
				it.Ref = "urlhaus:" + get(rec, "id")
			}
			if get(rec, "url_status") == "offline" {
				it.Confidence = 40
			}
		case FeodoCSV:
			it = intel.Item{Type: ioc.IPv4, Value: get(rec, "dst_ip"), FirstSeen: csvmap.ParseTime(get(rec, "first_seen_utc"), ""),
				LastSeen: csvmap.ParseTime(get(rec, "last_online"), ""), Tags: tags(get(rec, "malware"), "botnet_cc"),
				Description: "Feodo Tracker C2 port " + get(rec, "dst_port")}
			if strings.Contains(it.Value, ":") {
				it.Type = ioc.IPv6
			}
			if get(rec, "c2_status") == "offline" {
				it.Confidence = 50
			}
		case ThreatFoxCSV:
			it = threatFoxItem(get(rec, "ioc_value"), get(rec, "ioc_type"), get(rec, "threat_type"), get(rec, "malware_printable"),
				get(rec, "confidence_level"), get(rec, "first_seen_utc"), get(rec, "last_seen_utc"), get(rec, "ioc_id"), get(rec, "tags"))
		}
		return emit(it)
	})
	if err != nil {
		return err
	}
	return nil
}

func slicesContain(rec []string, s string) bool {
	for _, r := range rec {
		if strings.TrimSpace(r) == s {
			return true
		}
	}
	return false
}

func splitHeader(c string) []string {
	var out []string
	for _, f := range strings.Split(c, ",") {
		out = append(out, strings.Trim(strings.TrimSpace(f), `"`))
	}
	return out
}

func tags(list string, extra ...string) []string {
	var out []string
	if list != "" && list != "None" {
		for _, t := range strings.Split(list, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, strings.ToLower(t))
			}
		}
	}
	for _, e := range extra {
		if e != "" && e != "None" {
			out = append(out, strings.ToLower(e))
		}
	}
	return out
}

func threatFoxItem(value, typ, threat, malware, conf, first, last, id, tagList string) intel.Item {
	it := intel.Item{Value: value, FirstSeen: csvmap.ParseTime(first, ""), LastSeen: csvmap.ParseTime(last, ""),
		Tags: tags(tagList, threat, malware)}
	if id != "" {
		it.Ref = "https://threatfox.abuse.ch/ioc/" + id + "/"
	}
	if c, err := strconv.Atoi(conf); err == nil {
		it.Confidence = c
	}
	switch typ {
	case "ip:port":
		host, _, err := net.SplitHostPort(value)
		if err != nil {
			host = value
		}
		it.Value = host
		it.Type = ioc.IPv4
		if strings.Contains(host, ":") {
			it.Type = ioc.IPv6
		}
	case "domain":
		it.Type = ioc.Domain
	case "url":
		it.Type = ioc.URL
	case "md5_hash":
		it.Type = ioc.MD5
	case "sha1_hash":
		it.Type = ioc.SHA1
	case "sha256_hash":
		it.Type = ioc.SHA256
	}
	return it
}

// feodoJSON is one entry of Feodo Tracker's JSON blocklist.
type feodoJSON struct {
	IP         string `json:"ip_address"`
	Port       int    `json:"port"`
	Status     string `json:"status"`
	Hostname   string `json:"hostname"`
	ASNumber   int    `json:"as_number"`
	ASName     string `json:"as_name"`
	Country    string `json:"country"`
	FirstSeen  string `json:"first_seen"`
	LastOnline string `json:"last_online"`
	Malware    string `json:"malware"`
}

// ParseFeodoJSON streams Feodo Tracker's JSON array.
func ParseFeodoJSON(ctx context.Context, r io.Reader, emit func(intel.Item) error) error {
	return streamArray(ctx, r, "", func(dec *json.Decoder) error {
		var e feodoJSON
		if err := dec.Decode(&e); err != nil {
			return socbot.E("abusech.ParseFeodoJSON", socbot.KindInvalid, err)
		}
		it := intel.Item{Type: ioc.IPv4, Value: e.IP, FirstSeen: csvmap.ParseTime(e.FirstSeen, ""), LastSeen: csvmap.ParseTime(e.LastOnline, ""),
			Tags: tags(e.Malware, "botnet_cc"), Description: "Feodo Tracker C2 port " + strconv.Itoa(e.Port)}
		if strings.Contains(e.IP, ":") {
			it.Type = ioc.IPv6
		}
		if e.Status == "offline" {
			it.Confidence = 50
		}
		if err := emit(it); err != nil {
			return err
		}
		if e.Hostname != "" {
			return emit(intel.Item{Type: ioc.Domain, Value: e.Hostname, FirstSeen: it.FirstSeen, LastSeen: it.LastSeen, Tags: it.Tags, Confidence: it.Confidence})
		}
		return nil
	})
}

// threatFoxJSON is one IOC of the ThreatFox API answer.
type threatFoxJSON struct {
	ID         json.Number `json:"id"`
	IOC        string      `json:"ioc"`
	ThreatType string      `json:"threat_type"`
	IOCType    string      `json:"ioc_type"`
	Malware    string      `json:"malware_printable"`
	Confidence json.Number `json:"confidence_level"`
	FirstSeen  string      `json:"first_seen"`
	LastSeen   string      `json:"last_seen"`
	Tags       []string    `json:"tags"`
}

// ParseThreatFoxJSON streams the ThreatFox API answer {"query_status": "ok", "data": [...]}.
func ParseThreatFoxJSON(ctx context.Context, r io.Reader, emit func(intel.Item) error) error {
	return streamArray(ctx, r, "data", func(dec *json.Decoder) error {
		var e threatFoxJSON
		if err := dec.Decode(&e); err != nil {
			return socbot.E("abusech.ParseThreatFoxJSON", socbot.KindInvalid, err)
		}
		return emit(threatFoxItem(e.IOC, e.IOCType, e.ThreatType, e.Malware, e.Confidence.String(), e.FirstSeen, e.LastSeen,
			e.ID.String(), strings.Join(e.Tags, ",")))
	})
}

// streamArray positions dec inside the array at member key of the top-level object (or the top-level
// array when key is "") and calls each for every element.
func streamArray(ctx context.Context, r io.Reader, key string, each func(*json.Decoder) error) error {
	const op = "abusech.json"
	dec := json.NewDecoder(r)
	t, err := dec.Token()
	if err != nil {
		return socbot.E(op, socbot.KindInvalid, err)
	}
	if key != "" {
		if t != json.Delim('{') {
			return socbot.E(op, socbot.KindInvalid, "expected a JSON object")
		}
		for {
			if !dec.More() {
				return socbot.FieldError(op, key, "no %q array in the answer", key)
			}
			k, err := dec.Token()
			if err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
			if k == key {
				if t, err = dec.Token(); err != nil {
					return socbot.E(op, socbot.KindInvalid, err)
				}
				break
			}
			if k == "query_status" {
				var s string
				if err := dec.Decode(&s); err != nil {
					return socbot.E(op, socbot.KindInvalid, err)
				}
				if s != "ok" && s != "" {
					return socbot.E(op, socbot.KindUnavailable, "query_status "+s)
				}
				continue
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return socbot.E(op, socbot.KindInvalid, err)
			}
		}
	}
	if t != json.Delim('[') {
		return socbot.E(op, socbot.KindInvalid, "expected a JSON array")
	}
	for dec.More() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := each(dec); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	if err != nil {
		return socbot.E(op, socbot.KindInvalid, err)
	}
	return nil
}
