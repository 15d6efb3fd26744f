package csvmap

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/socbot/socbot/intel"
)

func TestParseByIndexAndTimes(t *testing.T) {
	in := "  # comment\n\n198.51.100.5\t1700000000\thigh\nbad-csv.example.org\t2026-01-02\t\n"
	m := MappingFromOptions(map[string]string{"value": "1", "last_seen": "2", "delimiter": "tab"})
	var got []intel.Item
	if err := Parse(context.Background(), m, strings.NewReader(in), func(it intel.Item) error { got = append(got, it); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Type != "ipv4" || !got[0].LastSeen.Equal(time.Unix(1700000000, 0).UTC()) || got[1].Type != "domain" || got[1].LastSeen.IsZero() {
		t.Fatalf("%+v", got)
	}
	if err := Parse(context.Background(), Mapping{Value: "1", Type: "bogus"}, strings.NewReader("x\n"), func(intel.Item) error { return nil }); err == nil {
		t.Fatal("bad fixed type accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("value,type\n1.2.3.4,ipv4\n"), "value")
	f.Add([]byte("# c\n\"a\",\"b\"\n"), "2")
	f.Fuzz(func(t *testing.T, b []byte, col string) {
		m := MappingFromOptions(map[string]string{"value": col, "tags": "3", "last_seen": "2"})
		Parse(context.Background(), m, bytes.NewReader(b), func(intel.Item) error { return nil })
	})
}
