package plain

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/socbot/socbot/intel"
)

func TestValue(t *testing.T) {
	for in, want := range map[string]string{"  1.2.3.4  # x": "1.2.3.4", "# c": "", "; c": "", "// c": "", "a.example.com,comment": "a.example.com", "": ""} {
		if g := Value(in); g != want {
			t.Errorf("Value(%q) = %q, want %q", in, g, want)
		}
	}
	long := strings.Repeat("a", MaxLine+10)
	if err := Parse(context.Background(), "", strings.NewReader(long), func(intel.Item) error { return nil }); err == nil {
		t.Error("an over-long line was accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("# list\n1.2.3.4\nevil[.]example[.]com\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(context.Background(), "", bytes.NewReader(b), func(intel.Item) error { return nil })
	})
}
