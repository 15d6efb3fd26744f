package beacon

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/socbot/socbot/netlog"

	socbot "github.com/socbot/socbot"
)

// LoadZeek feeds Zeek logs to the analyzer. paths may be files or directories (conn.log and
// http.log are read, plain or JSON). Requests in http.log that went through a proxy (CONNECT, or an
// absolute URI sent to a proxy) become proxied connections keyed by host name, with the bytes of the
// underlying conn.log connection; those conn.log connections are then not counted again as
// connections to the proxy.
func LoadZeek(a *Analyzer, paths ...string) (netlog.Stats, error) {
	var conns, https []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return netlog.Stats{}, socbot.E("beacon.LoadZeek", socbot.KindNotFound, err)
		}
		if st.IsDir() {
			for _, n := range []string{"conn", "http"} {
				m, _ := filepath.Glob(filepath.Join(p, n+"*.log"))
				if n == "conn" {
					conns = append(conns, m...)
				} else {
					https = append(https, m...)
				}
			}
			continue
		}
		if strings.HasPrefix(filepath.Base(p), "http") {
			https = append(https, p)
		} else {
			conns = append(conns, p)
		}
	}
	var total netlog.Stats
	type proxied struct {
		c   Conn
		uid string
	}
	var reqs []proxied
	proxiedUIDs := map[string]bool{}
	for _, f := range https {
		st, err := readZeek(f, "http", func(r *netlog.ZeekRecord) {
			method, uri, host := r.Get("method"), r.Get("uri"), r.Get("host")
			isProxy := method == "CONNECT" || r.Get("proxied") != "" || strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://")
			if !isProxy || host == "" {
				return
			}
			if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") && strings.Count(host, ":") == 1 {
				host = host[:i]
			}
			uid := r.Get("uid")
			proxiedUIDs[uid] = true
			reqs = append(reqs, proxied{uid: uid, c: Conn{Src: r.Get("id.orig_h"), Dst: strings.ToLower(host),
				Proxy: r.Get("id.resp_h") + ":" + r.Get("id.resp_p"), Time: r.Time,
				Bytes: int64(netlog.ParseFloat(r.Get("request_body_len")) + netlog.ParseFloat(r.Get("response_body_len")))}})
		})
		addStats(&total, st)
		if err != nil {
			return total, err
		}
	}
	connBytes := map[string]int64{}
	for _, f := range conns {
		st, err := readZeek(f, "conn", func(r *netlog.ZeekRecord) {
			b := int64(netlog.ParseFloat(r.Get("orig_bytes")) + netlog.ParseFloat(r.Get("resp_bytes")))
			uid := r.Get("uid")
			if proxiedUIDs[uid] {
				connBytes[uid] = b
				return
			}
			a.Add(Conn{Src: r.Get("id.orig_h"), Dst: r.Get("id.resp_h"), Time: r.Time, Bytes: b, Duration: netlog.ParseFloat(r.Get("duration"))})
		})
		addStats(&total, st)
		if err != nil {
			return total, err
		}
	}
	for _, q := range reqs {
		if b, ok := connBytes[q.uid]; ok {
			q.c.Bytes = b
		}
		a.Add(q.c)
	}
	return total, nil
}

func addStats(t *netlog.Stats, s netlog.Stats) {
	t.Lines += s.Lines
	t.Records += s.Records
	t.Malformed += s.Malformed
}

func readZeek(path, kind string, fn func(*netlog.ZeekRecord)) (netlog.Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return netlog.Stats{}, socbot.E("beacon.LoadZeek", socbot.KindNotFound, err)
	}
	defer f.Close()
	return netlog.ReadZeek(f, kind, func(r *netlog.ZeekRecord) error { fn(r); return nil })
}
