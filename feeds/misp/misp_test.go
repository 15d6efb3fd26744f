package misp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

const ev1 = `{"Event": {"uuid": "11111111-1111-4111-8111-111111111111", "info": "one", "timestamp": "100",
 "Attribute": [{"type": "ip-dst", "value": "198.51.100.61", "to_ids": true}]}}`
const ev2 = `{"Event": {"uuid": "22222222-2222-4222-8222-222222222222", "info": "two", "timestamp": "200",
 "Attribute": [{"type": "domain", "value": "two.misp-feed.example.net", "to_ids": true}]}}`

func TestCollector(t *testing.T) {
	var fetched atomic.Int32
	manifest := `{"11111111-1111-4111-8111-111111111111": {"info": "one", "timestamp": "100"},
	              "22222222-2222-4222-8222-222222222222": {"info": "two", "timestamp": 200}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/feed/manifest.json":
			io.WriteString(w, manifest)
		case "/feed/11111111-1111-4111-8111-111111111111.json":
			fetched.Add(1)
			io.WriteString(w, ev1)
		case "/feed/22222222-2222-4222-8222-222222222222.json":
			fetched.Add(1)
			io.WriteString(w, ev2)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := &Collector{HTTP: srv.Client()}
	f := intel.Feed{Name: "misp", URL: srv.URL + "/feed/"}
	var st intel.FeedStatus
	var items []string
	emit := func(it intel.Item) error { items = append(items, string(it.Type)+" "+it.Value); return nil }
	if _, err := c.Collect(context.Background(), f, &st, emit); err != nil {
		t.Fatal(err)
	}
	if strings.Join(items, ",") != "ipv4 198.51.100.61,domain two.misp-feed.example.net" || st.Cursor != "200" || fetched.Load() != 2 {
		t.Fatalf("first: %v cursor %q fetched %d", items, st.Cursor, fetched.Load())
	}
	items = nil
	if _, err := c.Collect(context.Background(), f, &st, emit); err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 || fetched.Load() != 2 {
		t.Fatalf("second run refetched: %v", items)
	}
	manifest = strings.Replace(manifest, `"timestamp": 200`, `"timestamp": 300`, 1)
	if _, err := c.Collect(context.Background(), f, &st, emit); err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || st.Cursor != "300" {
		t.Fatalf("changed event: %v %q", items, st.Cursor)
	}
}

func TestExportRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	store := intel.NewMemStore()
	mk := func(tp ioc.Type, v string, tlp intel.TLP) intel.Indicator {
		return intel.Indicator{ID: intel.IndicatorID(tp, v), Type: tp, Value: v, TLP: tlp, Confidence: 90, FirstSeen: now, LastSeen: now, Tags: []string{"c2"}}
	}
	store.PutIndicators(context.Background(), []intel.Indicator{
		mk(ioc.IPv4, "198.51.100.62", intel.TLPGreen), mk(ioc.Domain, "export.misp-test.example.net", intel.TLPClear),
		mk(ioc.SHA256, strings.Repeat("c", 64), intel.TLPAmber), mk(ioc.IPv4, "198.51.100.63", intel.TLPRed),
	})
	var buf bytes.Buffer
	n, err := ExportEvent(context.Background(), store, intel.Filter{TenantID: "*"}, intel.TLPAmber, nil, now, "socbot export", "33333333-3333-4333-8333-333333333333", &buf)
	if err != nil || n != 3 {
		t.Fatalf("export: %d %v", n, err)
	}
	if strings.Contains(buf.String(), "198.51.100.63") {
		t.Fatal("TLP:RED exported")
	}
	var got []string
	if err := Parse(context.Background(), Options{}, &buf, func(it intel.Item) error {
		got = append(got, string(it.Type)+" "+it.Value+" "+it.TLP)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got) // the store has no order
	if strings.Join(got, ",") != "domain export.misp-test.example.net clear,ipv4 198.51.100.62 green,sha256 "+strings.Repeat("c", 64)+" amber" {
		t.Fatalf("round trip: %v", got)
	}
}

func TestHashesAndManifest(t *testing.T) {
	var n int
	if err := ReadHashes(strings.NewReader("d41d8cd98f00b204e9800998ecf8427e,11111111-1111-4111-8111-111111111111\n\n"), func(h, ev string) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("hashes: %d %v", n, err)
	}
	if err := ReadHashes(strings.NewReader("garbage\n"), func(string, string) error { return nil }); err == nil {
		t.Fatal("bad hashes.csv accepted")
	}
	if err := ReadManifest(strings.NewReader("[1]"), func(string, ManifestEntry) error { return nil }); err == nil {
		t.Fatal("bad manifest accepted")
	}
}

func FuzzEvents(f *testing.F) {
	f.Add([]byte(ev1))
	f.Add([]byte(`{"response": [` + ev1 + `,` + ev2 + `]}`))
	f.Add([]byte(`[` + ev2 + `]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(context.Background(), Options{AllAttributes: true}, bytes.NewReader(b), func(intel.Item) error { return nil })
		ReadManifest(bytes.NewReader(b), func(string, ManifestEntry) error { return nil })
		ReadHashes(bytes.NewReader(b), func(string, string) error { return nil })
	})
}
