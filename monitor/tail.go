package monitor

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/socbot/socbot/evtx"
)

// tailer follows the files matching one pattern, polling for growth. Rotation (a new file at the
// same path) and truncation restart the file from the beginning. Text formats are read in whole
// lines; EVTX files are re-read on change and only records newer than the last seen are matched.
type tailer struct {
	b      *Bot
	in     TailInput
	format Format
	hint   SourceHint
	files  map[string]*tailState
	first  bool
	max    int64 // bytes read per file per poll
}

type tailState struct {
	info       os.FileInfo
	offset     int64
	partial    []byte
	format     Format
	header     []byte // Zeek TSV header lines, replayed before each chunk
	lastRecord uint64
}

func newTailer(b *Bot, in TailInput) *tailer {
	f, _ := ParseFormat(in.Format)
	t := &tailer{b: b, in: in, format: f, files: map[string]*tailState{}, first: true, max: 16 << 20}
	if in.Logsource != "" {
		parts := strings.SplitN(in.Logsource, "/", 3)
		t.hint.Product, t.hint.Channel = parts[0], "*"
		if len(parts) > 1 {
			t.hint.Channel = parts[1]
		}
		if len(parts) > 2 {
			t.hint.EventID = parts[2]
		}
	}
	return t
}

func (t *tailer) run(ctx context.Context) error {
	tick := time.NewTicker(time.Duration(t.b.cfg.TailInterval))
	defer tick.Stop()
	for {
		t.poll(ctx)
		t.first = false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (t *tailer) poll(ctx context.Context) {
	paths, err := filepath.Glob(t.in.Path)
	if err != nil {
		t.b.log.Warn("tail: bad pattern", "path", t.in.Path, "err", err)
		return
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			return
		}
		info, err := os.Stat(p)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		st := t.files[p]
		if st == nil || !os.SameFile(st.info, info) || info.Size() < st.offset {
			st = &tailState{format: t.format}
			if st.format == FormatUnknown {
				st.format, _ = DetectFile(p)
				if st.format == FormatUnknown && info.Size() == 0 {
					continue // decide when data arrives
				}
			}
			if t.first && !t.in.FromStart {
				st.offset = info.Size()
				if st.format == FormatEVTX {
					st.lastRecord = lastEVTXRecord(p)
				}
				if st.format == FormatZeekTSV {
					st.header = zeekHeader(p)
				}
			}
			t.files[p] = st
		}
		prev := st.info
		st.info = info
		if st.format == FormatEVTX {
			if prev == nil || !info.ModTime().Equal(prev.ModTime()) || info.Size() != prev.Size() || st.offset == 0 {
				t.readEVTX(ctx, p, st)
				st.offset = info.Size()
			}
			continue
		}
		if info.Size() > st.offset {
			t.readText(ctx, p, st, info.Size())
		}
	}
}

func lastEVTXRecord(path string) uint64 {
	var last uint64
	evtx.ReadFile(path, func(r *evtx.Record) error {
		if r.ID > last {
			last = r.ID
		}
		return nil
	})
	return last
}

func zeekHeader(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, buf)
	var h []byte
	for _, line := range bytes.SplitAfter(buf[:n], []byte{'\n'}) {
		if len(line) == 0 || line[0] != '#' {
			break
		}
		h = append(h, line...)
	}
	return h
}

func (t *tailer) readEVTX(ctx context.Context, path string, st *tailState) {
	w, err := t.b.acquire(ctx, t.in.Tenant, 0)
	if err != nil {
		return
	}
	defer t.b.release(w)
	last := st.lastRecord
	_, err = evtx.ReadFile(path, func(r *evtx.Record) error {
		if r.ID <= st.lastRecord {
			return nil
		}
		if r.ID > last {
			last = r.ID
		}
		return w.p.ProcessEVTX(r, path)
	})
	st.lastRecord = last
	if err != nil {
		t.b.log.Warn("tail: evtx read failed", "path", path, "err", err)
	}
}

func (t *tailer) readText(ctx context.Context, path string, st *tailState, size int64) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	n := size - st.offset
	if n > t.max {
		n = t.max
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, st.offset)
	if err != nil && err != io.EOF {
		return
	}
	buf = buf[:got]
	st.offset += int64(got)
	data := append(st.partial, buf...)
	cut := bytes.LastIndexByte(data, '\n')
	if cut < 0 {
		if len(data) > MaxEvent {
			data = nil // a line that never ends: drop it
		}
		st.partial = data
		return
	}
	st.partial = append([]byte(nil), data[cut+1:]...)
	chunk := data[:cut+1]
	if st.format == FormatUnknown {
		st.format = DetectFormat(path, chunk)
		if st.format == FormatUnknown {
			return
		}
	}
	if st.format == FormatZeekTSV {
		if st.header == nil && chunk[0] == '#' {
			for _, line := range bytes.SplitAfter(chunk, []byte{'\n'}) {
				if len(line) == 0 || line[0] != '#' {
					break
				}
				st.header = append(st.header, line...)
			}
		} else {
			chunk = append(append([]byte(nil), st.header...), chunk...)
		}
	}
	w, err := t.b.acquire(ctx, t.in.Tenant, 0)
	if err != nil {
		return
	}
	defer t.b.release(w)
	opts := ScanOptions{Hint: t.hint, Clock: t.b.clock}
	stop := func(err error) error {
		if err != nil {
			return errStop{err}
		}
		return nil
	}
	if err := scanStream(ctx, w.p, bytes.NewReader(chunk), st.format, path, opts, func() error { return ctx.Err() }, stop); err != nil {
		t.b.log.Warn("tail: read failed", "path", path, "err", err)
	}
}
