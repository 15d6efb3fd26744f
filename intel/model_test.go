package intel

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/socbot/socbot/ioc"
)

// TestIndicatorIDIsUUIDv5 holds the allocation-free IndicatorID to the uuid package's UUIDv5 of
// "type:value" in socbot's namespace (the ids stored so far), short and long values alike.
func TestIndicatorIDIsUUIDv5(t *testing.T) {
	for _, c := range []struct {
		t ioc.Type
		v string
	}{
		{ioc.IPv4, "203.0.113.7"}, {ioc.Domain, "evil.example.net"}, {ioc.URL, "http://x.example/" + strings.Repeat("a", 200)},
		{ioc.SHA512, strings.Repeat("ab", 64)}, {ioc.Email, ""}, {ioc.URL, "http://x.example/" + strings.Repeat("b", 93)},
	} {
		want := "indicator--" + uuid.NewSHA1(indicatorNamespace, []byte(string(c.t)+":"+c.v)).String()
		if got := IndicatorID(c.t, c.v); got != want {
			t.Errorf("IndicatorID(%s, %q) = %s, want %s", c.t, c.v, got, want)
		}
		if !ValidIndicatorID(IndicatorID(c.t, c.v)) {
			t.Errorf("IndicatorID(%s, %q) is not a valid indicator id", c.t, c.v)
		}
	}
	for _, bad := range []string{"", "indicator--", "indicator--1", "indicator--6770298F-0fd8-471a-ab8c-1c658a46574e",
		"indicator-x6770298f-0fd8-471a-ab8c-1c658a46574e", "indicator--6770298f-0fd8-471a-ab8c-1c658a46574e0",
		"indicator--6770298f00fd8-471a-ab8c-1c658a46574e", "malware--6770298f-0fd8-471a-ab8c-1c658a46574e"} {
		if ValidIndicatorID(bad) {
			t.Errorf("ValidIndicatorID(%q) = true", bad)
		}
	}
}

func BenchmarkIndicatorID(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		IndicatorID(ioc.Domain, "www.evil-example.net")
	}
}
