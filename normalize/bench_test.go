package normalize

import (
	"bytes"
	"os"
	"sort"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system, all threads, GC included) the process has used so far. On
// a machine shared with other work, CPU time per operation is steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per operation (and per unit when units > 1) since start.
func reportCPU(b *testing.B, start time.Duration, units int, unit string) {
	cpu := float64((cpuTime() - start).Nanoseconds())
	b.ReportMetric(cpu/float64(b.N), "cpu-ns/op")
	if units > 1 {
		b.ReportMetric(cpu/float64(b.N*units), "cpu-ns/"+unit)
	}
}

// benchRecord picks, for a format, the first fixture record that gives exactly one alert.
func benchRecord(b *testing.B, format string) []byte {
	b.Helper()
	for _, file := range fixtures(b)[format] {
		body, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		var found []byte
		_ = Records(body, func(_ int, rec []byte, err error) error {
			if found == nil && err == nil {
				if alerts, err := Normalize(format, rec, testNow); err == nil && len(alerts) == 1 {
					found = append([]byte(nil), rec...)
				}
			}
			return nil
		})
		if found != nil {
			return found
		}
	}
	b.Fatalf("no single-alert fixture for %s", format)
	return nil
}

// BenchmarkNormalize measures one record of each format through Normalize with the format named
// (parse, map, copy of Raw), and "auto" the same records with detection.
func BenchmarkNormalize(b *testing.B) {
	formats := make([]string, 0, len(fixtures(b)))
	for f := range fixtures(b) {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	for _, format := range formats {
		rec := benchRecord(b, format)
		for _, mode := range []string{"named", "auto"} {
			name := format
			if mode == "auto" {
				name = format + "/auto"
			}
			b.Run(name, func(b *testing.B) {
				f := format
				if mode == "auto" {
					f = ""
				}
				b.SetBytes(int64(len(rec)))
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					if _, err := Normalize(f, rec, testNow); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, start, 1, "")
			})
		}
	}
}

// BenchmarkRecords measures splitting a 1000-record NDJSON body and a 1000-element array.
func BenchmarkRecords(b *testing.B) {
	rec := benchRecord(b, "suricata")
	nd := bytes.Repeat(append(rec, '\n'), 1000)
	arr := append([]byte{'['}, bytes.Repeat(append(rec, ','), 1000)...)
	arr[len(arr)-1] = ']'
	n := 0
	fn := func(int, []byte, error) error { n++; return nil }
	for name, body := range map[string][]byte{"ndjson": nd, "array": arr} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if err := Records(body, fn); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
			reportCPU(b, start, 1000, "record")
		})
	}
}

// BenchmarkIngestBatch is what the ingest handler does with a body: split it and normalise each record
// (1000 Suricata alerts of about 800 bytes).
func BenchmarkIngestBatch(b *testing.B) {
	rec := benchRecord(b, "suricata")
	body := bytes.Repeat(append(rec, '\n'), 1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		_ = Records(body, func(_ int, rec []byte, err error) error {
			if err != nil {
				b.Fatal(err)
			}
			_, err = Normalize("", rec, testNow)
			return err
		})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/alert")
	reportCPU(b, start, 1000, "alert")
}
