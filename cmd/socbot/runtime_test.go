package main

import (
	"os"
	"runtime/debug"
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"1073741824", 1 << 30, false}, {"2GiB", 2 << 30, false}, {"512MiB", 512 << 20, false}, {"1.5GiB", 3 << 29, false},
		{"2GB", 2e9, false}, {" 64 KiB ", 64 << 10, false}, {"100B", 100, false}, {"lots", 0, true}, {"GiB", 0, true},
	} {
		got, err := parseSize(c.in)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("parseSize(%q) = %d, %v; want %d, bad %v", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestTuneRuntime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	unsetenv(t, "GOGC")
	unsetenv(t, "GOMEMLIMIT")
	if err := tuneRuntime(Config{GCPercent: 250, MemoryLimit: "3GiB"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("gc percent %d, want 250", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("memory limit %d, want 3GiB", got)
	}
	for _, cfg := range []Config{{MemoryLimit: "plenty"}, {GCPercent: -5}} {
		if err := tuneRuntime(cfg, nil); !socbot.IsKind(err, socbot.KindInvalid) {
			t.Errorf("%+v: want a field error, got %v", cfg, err)
		}
	}
}

// unsetenv removes an environment variable for the test (t.Setenv first so that it comes back).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}
