package evtx

import (
	"bytes"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	velo "www.velocidex.com/golang/evtx"
)

func loadCorpusBytes(b *testing.B) ([][]byte, int) {
	files := corpusFiles(b)
	var datas [][]byte
	records := 0
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		datas = append(datas, d)
	}
	for _, d := range datas {
		rd, err := NewReader(bytes.NewReader(d), int64(len(d)))
		if err != nil {
			continue
		}
		rd.Records(func(*Record) error { records++; return nil })
	}
	return datas, records
}

// BenchmarkCorpus parses every corpus EVTX file (465 files, 4,014 records) from memory per op.
func BenchmarkCorpus(b *testing.B) {
	datas, records := loadCorpusBytes(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := threadCPU()
	fields := 0
	rd := &Reader{}
	for i := 0; i < b.N; i++ {
		for _, d := range datas {
			if rd.ResetBytes(d) != nil {
				continue
			}
			rd.Records(func(r *Record) error { fields += len(r.Fields); return nil })
		}
	}
	b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(records*b.N)/(threadCPU()-cpu0).Seconds(), "records/cpu-s")
}

// BenchmarkCorpusVelocidex is the same work with www.velocidex.com/golang/evtx v0.2.0.
func BenchmarkCorpusVelocidex(b *testing.B) {
	datas, records := loadCorpusBytes(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range datas {
			chunks, err := velo.GetChunks(bytes.NewReader(d))
			if err != nil {
				continue
			}
			for _, c := range chunks {
				c.Parse(0)
			}
		}
	}
	b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
}

// threadCPU is the CPU time of the calling OS thread (Linux RUSAGE_THREAD).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
