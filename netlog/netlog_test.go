package netlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadZeekTSV(t *testing.T) {
	f, err := os.Open("testdata/conn.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	st, err := ReadZeek(f, "", func(r *ZeekRecord) error {
		got = append(got, r.Path+"|"+r.Get("uid")+"|"+r.Get("id.resp_h")+"|"+r.Get("orig_bytes")+"|"+r.Get("service")+"|"+r.Time.Format("15:04:05.0"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"conn|C1|198.51.100.7|300|ssl|22:13:20.0", "conn|C2|198.51.100.7||||22:14:20.0", "conn|C3|198.51.100.7|310|ssl|22:15:20.5"}
	want[1] = "conn|C2|198.51.100.7|||22:14:20.0"
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.Records != 3 || st.Malformed != 1 {
		t.Errorf("stats %+v, want 3 records and 1 malformed", st)
	}
}

func TestReadZeekJSON(t *testing.T) {
	data, _ := os.ReadFile("testdata/dns.json")
	var got []string
	st, err := ReadZeek(bytes.NewReader(data), "dns", func(r *ZeekRecord) error {
		got = append(got, r.Path+"|"+r.Get("query")+"|"+r.Get("answers")+"|"+r.Time.Format("15:04:05.00"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "dns|evil.example.com|203.0.113.9|22:13:20.25\ndns|good.example.org||22:13:20.50"
	if strings.Join(got, "\n") != want {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	if st.Malformed != 1 {
		t.Errorf("malformed %d, want 1", st.Malformed)
	}
}

func TestReadEve(t *testing.T) {
	data, _ := os.ReadFile("testdata/eve.json")
	var got []string
	st, err := ReadEve(bytes.NewReader(data), func(e *EveEvent) error {
		s := e.EventType + "|" + e.SrcIP + ">" + e.DestIP + "|" + e.DNSQuery + e.TLSSNI + e.TLSJA3 + e.HTTPHost + e.HTTPURL
		if e.Alert != nil {
			s += "|" + e.Alert.Signature + "|" + e.Alert.Metadata["mitre_technique_id"][0]
		}
		got = append(got, s+"|"+e.Time.Format("15:04:05"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"alert|192.0.2.10>198.51.100.7||GPL ATTACK_RESPONSE id check returned root|T1059|21:13:20",
		"dns|192.0.2.10>192.0.2.53|evil.example.com|21:13:21",
		"tls|192.0.2.10>198.51.100.8|c2.example.nete7d705a3286e19ea42f587b344ee6865|21:13:22",
		"http|192.0.2.10>198.51.100.9|dl.example.net/payload.exe|21:13:23",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.Malformed != 2 {
		t.Errorf("malformed %d, want 2", st.Malformed)
	}
}

func TestLongLineSkipped(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"event_type":"dns","src_ip":"192.0.2.1"}` + "\n")
	b.WriteString(`{"event_type":"x","pad":"` + strings.Repeat("a", MaxLine+10) + `"}` + "\n")
	b.WriteString(`{"event_type":"flow","src_ip":"192.0.2.2"}` + "\n")
	n := 0
	st, err := ReadEve(&b, func(e *EveEvent) error { n++; return nil })
	if err != nil || n != 2 || st.Malformed != 1 {
		t.Fatalf("n=%d st=%+v err=%v; want 2 events and 1 malformed", n, st, err)
	}
}

func corpus(t testing.TB) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no module root")
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus", "detection")
	if _, err := os.Stat(c); err != nil {
		t.Skipf("detection corpus not present at %s", c)
	}
	return c
}

func TestCorpusEve(t *testing.T) {
	c := corpus(t)
	data, err := os.ReadFile(filepath.Join(c, "suricata", "surevego", "eve.json"))
	if err != nil {
		t.Skip(err)
	}
	types := map[string]int{}
	st, err := ReadEve(bytes.NewReader(data), func(e *EveEvent) error { types[e.EventType]++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 266 || types["alert"] != 68 || types["dns"] != 48 || types["flow"] != 13 {
		t.Errorf("records %d types %v; want 266 with 68 alert, 48 dns, 13 flow", st.Records, types)
	}
}

func TestCorpusZeek(t *testing.T) {
	c := corpus(t)
	for _, tc := range []struct {
		file string
		want int
	}{{"zeek/rita/proxy/conn.log", 463}, {"zeek/rita/proxy/http.log", 407}, {"zeek/rita/json_with_all_fields/conn.log", -1}} {
		f, err := os.Open(filepath.Join(c, tc.file))
		if err != nil {
			t.Skip(err)
		}
		st, err := ReadZeek(f, strings.TrimSuffix(filepath.Base(tc.file), ".log"), func(*ZeekRecord) error { return nil })
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Malformed != 0 || (tc.want >= 0 && st.Records != tc.want) || st.Records == 0 {
			t.Errorf("%s: %+v, want %d records and none malformed", tc.file, st, tc.want)
		}
	}
}

// corpusSeed returns the first n bytes of a corpus file, or nil when the corpus is absent.
func corpusSeed(rel string, n int) []byte {
	dir, _ := os.Getwd()
	for i := 0; i < 6; i++ {
		if d, err := os.ReadFile(filepath.Join(dir, "..", "shared", "corpus", "detection", rel)); err == nil {
			if len(d) > n {
				d = d[:n]
			}
			return d
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

func FuzzReadZeek(f *testing.F) {
	for _, rel := range []string{"zeek/rita/proxy/conn.log", "zeek/rita/proxy/http.log", "zeek/rita/json_with_all_fields/dns.log"} {
		if d := corpusSeed(rel, 8192); d != nil {
			f.Add(d)
		}
	}
	for _, p := range []string{"testdata/conn.log", "testdata/dns.json"} {
		d, _ := os.ReadFile(p)
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadZeek(bytes.NewReader(data), "conn", func(r *ZeekRecord) error { _ = r.Get("ts"); return nil })
	})
}

func FuzzReadEve(f *testing.F) {
	for _, rel := range []string{"suricata/surevego/eve.json", "suricata/suricata-verify/tls-json-output-ids/eve.json"} {
		if d := corpusSeed(rel, 8192); d != nil {
			f.Add(d)
		}
	}
	d, _ := os.ReadFile("testdata/eve.json")
	f.Add(d)
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadEve(bytes.NewReader(data), func(*EveEvent) error { return nil })
	})
}
