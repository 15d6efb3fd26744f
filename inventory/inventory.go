// Package inventory reads a client's asset inventory from CSV or JSON exports: host names, IPs, owner,
// criticality, internet exposure and the crown-jewel tag. Errors name the row and the column.
package inventory

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	socbot "github.com/socbot/socbot"
)

// Parse reads assets from data: a JSON array or object (one asset, or {"assets": [...]}) or CSV with a
// header row. CSV columns (case-insensitive, any order; only hostname is required): hostname (or host,
// name), ips (or ip, ip_address; several separated by ';', ',' or spaces), owner, criticality,
// internet_facing, crown_jewel (true/false, yes/no, 1/0), tags (separated by ';'), os.
func Parse(data []byte) ([]socbot.Asset, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, socbot.E("inventory.Parse", socbot.KindInvalid, "empty inventory")
	}
	if trimmed[0] == '[' || trimmed[0] == '{' {
		return parseJSON(trimmed)
	}
	return parseCSV(trimmed)
}

func parseJSON(data []byte) ([]socbot.Asset, error) {
	const op = "inventory.json"
	var assets []socbot.Asset
	if data[0] == '{' {
		var wrapped struct {
			Assets []socbot.Asset `json:"assets"`
		}
		if err := json.Unmarshal(data, &wrapped); err == nil && wrapped.Assets != nil {
			return wrapped.Assets, nil
		}
		var one socbot.Asset
		if err := json.Unmarshal(data, &one); err != nil {
			return nil, jsonErr(op, err)
		}
		return []socbot.Asset{one}, nil
	}
	if err := json.Unmarshal(data, &assets); err != nil {
		return nil, jsonErr(op, err)
	}
	return assets, nil
}

func jsonErr(op string, err error) error {
	var te *json.UnmarshalTypeError
	if ok := asType(err, &te); ok {
		return socbot.FieldError(op, te.Field, "wrong type: %s where %s was expected", te.Value, te.Type)
	}
	return socbot.E(op, socbot.KindInvalid, err.Error())
}

func asType(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}

var columnNames = map[string]string{
	"hostname": "hostname", "host": "hostname", "name": "hostname", "host_name": "hostname",
	"ips": "ips", "ip": "ips", "ip_address": "ips", "ip_addresses": "ips", "addresses": "ips",
	"owner": "owner", "criticality": "criticality", "internet_facing": "internet_facing", "crown_jewel": "crown_jewel", "tags": "tags", "os": "os",
}

func parseCSV(data []byte) ([]socbot.Asset, error) {
	const op = "inventory.csv"
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, socbot.E(op, socbot.KindInvalid, "reading the header row", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		name = strings.NewReplacer(" ", "_", "-", "_").Replace(name)
		if c, ok := columnNames[name]; ok {
			cols[c] = i
		}
	}
	if _, ok := cols["hostname"]; !ok {
		return nil, socbot.FieldError(op, "hostname", "the header row has no hostname column (got %s)", strings.Join(header, ", "))
	}
	var out []socbot.Asset
	for row := 2; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, socbot.E(op, socbot.KindInvalid, fmt.Sprintf("row %d", row), err)
		}
		get := func(c string) string {
			if i, ok := cols[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		a := socbot.Asset{Hostname: get("hostname"), Owner: get("owner"), Criticality: get("criticality"), OS: get("os")}
		if a.Hostname == "" {
			return nil, socbot.FieldError(op, fmt.Sprintf("row %d hostname", row), "hostname is empty")
		}
		for _, ip := range strings.FieldsFunc(get("ips"), func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '|' }) {
			a.IPs = append(a.IPs, ip)
		}
		for _, t := range strings.Split(get("tags"), ";") {
			if t = strings.TrimSpace(t); t != "" {
				a.Tags = append(a.Tags, t)
			}
		}
		for _, f := range []struct {
			col string
			dst *bool
		}{{"internet_facing", &a.InternetFacing}, {"crown_jewel", &a.CrownJewel}} {
			v, ok := parseBool(get(f.col))
			if !ok {
				return nil, socbot.FieldError(op, fmt.Sprintf("row %d %s", row, f.col), "not a yes/no value: %q", get(f.col))
			}
			*f.dst = v
		}
		out = append(out, a)
	}
	return out, nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "", "false", "no", "n", "0", "f":
		return false, true
	case "true", "yes", "y", "1", "t", "x":
		return true, true
	}
	return false, false
}
