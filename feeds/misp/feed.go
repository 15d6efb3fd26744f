package misp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// Collector collects a MISP feed directory (Feed.URL points at the directory holding manifest.json):
// it reads the manifest, and fetches only the events whose timestamp is newer than the checkpoint
// (FeedStatus.Cursor holds the newest event timestamp already collected). It implements
// intel.Collector; register it under the format "misp-feed".
type Collector struct {
	HTTP *http.Client
}

var _ intel.Collector = (*Collector)(nil)

func (c *Collector) get(ctx context.Context, f intel.Feed, url string, hdr map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, socbot.FieldError("misp.Collector", "url", "%v", err)
	}
	f.Auth.Apply(req)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	cl := c.HTTP
	if cl == nil {
		cl = http.DefaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, socbot.E("misp.Collector", socbot.KindUnavailable, err)
	}
	return resp, nil
}

// Collect implements intel.Collector.
func (c *Collector) Collect(ctx context.Context, f intel.Feed, st *intel.FeedStatus, emit func(intel.Item) error) (bool, error) {
	const op = "misp.Collector"
	base := strings.TrimSuffix(f.URL, "/manifest.json")
	base = strings.TrimSuffix(base, "/")
	hdr := map[string]string{}
	if st.ETag != "" {
		hdr["If-None-Match"] = st.ETag
	}
	resp, err := c.get(ctx, f, base+"/manifest.json", hdr)
	if err != nil {
		return false, err
	}
	st.LastStatus = resp.StatusCode
	if resp.StatusCode == http.StatusNotModified {
		resp.Body.Close()
		return true, nil
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return false, socbot.E(op, socbot.KindUnavailable, fmt.Sprintf("manifest.json: HTTP %d", resp.StatusCode))
	}
	since, _ := strconv.ParseInt(st.Cursor, 10, 64)
	type due struct {
		uuid string
		ts   int64
	}
	var todo []due
	err = ReadManifest(resp.Body, func(uuid string, e ManifestEntry) error {
		ts, _ := strconv.ParseInt(string(e.Timestamp), 10, 64)
		if ts > since {
			todo = append(todo, due{uuid, ts})
		}
		return nil
	})
	etag := resp.Header.Get("ETag")
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].ts < todo[j].ts })
	opts := OptionsFrom(f.Options)
	newest := since
	for _, d := range todo {
		resp, err := c.get(ctx, f, base+"/"+d.uuid+".json", nil)
		if err != nil {
			return false, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return false, socbot.E(op, socbot.KindUnavailable, fmt.Sprintf("event %s: HTTP %d", d.uuid, resp.StatusCode))
		}
		err = Parse(ctx, opts, resp.Body, emit)
		resp.Body.Close()
		if err != nil {
			return false, socbot.E(op, err, "event "+d.uuid)
		}
		if d.ts > newest {
			newest = d.ts
		}
	}
	st.Cursor = strconv.FormatInt(newest, 10)
	st.ETag = etag
	return false, nil
}

var mispTypes = map[ioc.Type]string{
	ioc.IPv4: "ip-dst", ioc.IPv6: "ip-dst", ioc.CIDR: "ip-dst", ioc.Domain: "domain", ioc.URL: "url", ioc.Email: "email-src",
	ioc.MD5: "md5", ioc.SHA1: "sha1", ioc.SHA256: "sha256", ioc.SHA512: "sha512", ioc.CVE: "vulnerability",
}

var mispCategory = map[ioc.Type]string{
	ioc.IPv4: "Network activity", ioc.IPv6: "Network activity", ioc.CIDR: "Network activity", ioc.Domain: "Network activity",
	ioc.URL: "Network activity", ioc.Email: "Payload delivery", ioc.MD5: "Payload delivery", ioc.SHA1: "Payload delivery",
	ioc.SHA256: "Payload delivery", ioc.SHA512: "Payload delivery", ioc.CVE: "External analysis",
}

// ExportEvent writes the indicators the filter selects as one MISP event ({"Event": {...}}), streaming
// the attributes, never above maxTLP. The event's tlp tag is the most restrictive marking exported.
// It returns the number of attributes written.
func ExportEvent(ctx context.Context, store intel.Store, f intel.Filter, maxTLP intel.TLP, decay intel.Decay, now time.Time, info, eventUUID string, w io.Writer) (int, error) {
	if decay == nil {
		decay = intel.DefaultDecay()
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	ts := strconv.FormatInt(now.Unix(), 10)
	head := map[string]any{"uuid": eventUUID, "info": info, "date": now.Format("2006-01-02"), "timestamp": ts,
		"published": false, "analysis": "2", "threat_level_id": "2", "distribution": "0", "Orgc": Org{Name: "socbot"}}
	hb, _ := json.Marshal(head)
	bw.WriteString(`{"Event":`)
	bw.Write(hb[:len(hb)-1])
	bw.WriteString(`,"Attribute":[`)
	n := 0
	worst := intel.TLPClear
	err := store.ScanIndicators(ctx, f, func(in *intel.Indicator) error {
		if !in.TLP.MayShare(maxTLP) || !in.Active(decay, now) {
			return nil
		}
		typ, ok := mispTypes[in.Type]
		if !ok {
			return nil
		}
		if in.TLP > worst {
			worst = in.TLP
		}
		a := Attribute{UUID: strings.TrimPrefix(in.ID, "indicator--"), Type: typ, Category: mispCategory[in.Type], Value: in.Value,
			ToIDS: true, Comment: in.Description, Timestamp: flexString(strconv.FormatInt(in.LastSeen.Unix(), 10)),
			Tag: []Tag{{Name: "tlp:" + in.TLP.String()}}}
		for _, t := range in.Tags {
			a.Tag = append(a.Tag, Tag{Name: t})
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		return enc.Encode(a)
	})
	if err != nil {
		return n, err
	}
	tag, _ := json.Marshal([]Tag{{Name: "tlp:" + worst.String()}})
	bw.WriteString(`],"Tag":`)
	bw.Write(tag)
	bw.WriteString("}}\n")
	return n, bw.Flush()
}
