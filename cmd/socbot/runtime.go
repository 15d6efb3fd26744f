package main

import (
	"bufio"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	socbot "github.com/socbot/socbot"
)

// tuneRuntime sets the Go collector's pace from the configuration unless GOGC or GOMEMLIMIT are set
// in the environment: collections every gc_percent of heap growth (default 300, against Go's 100),
// held back by a soft memory limit (default half the machine's memory) so that a large live heap (an
// intel match index) collects more often rather than growing the process without bound.
func tuneRuntime(cfg Config, logger *slog.Logger) error {
	limit := memTotal() / 2
	if cfg.MemoryLimit != "" {
		v, err := parseSize(cfg.MemoryLimit)
		if err != nil || v <= 0 {
			return socbot.FieldError("config", "memory_limit", "want a size such as 2GiB or 512MiB, not %q", cfg.MemoryLimit)
		}
		limit = v
	}
	if cfg.GCPercent < 0 {
		return socbot.FieldError("config", "gc_percent", "must be positive, not %d", cfg.GCPercent)
	}
	pct := cfg.GCPercent
	if pct == 0 {
		pct = 300
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(pct)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	if logger != nil {
		logger.Debug("go runtime", "gc_percent", pct, "memory_limit", limit, "GOGC", os.Getenv("GOGC"), "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
	}
	return nil
}

// parseSize reads 1073741824, 1GiB, 512MiB, 2GB, 100MB, 64KiB.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			return int64(v * float64(u.mul)), err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// memTotal is the machine's memory in bytes (0 when unknown).
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
