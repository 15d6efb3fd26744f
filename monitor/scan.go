package monitor

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/evtx"
	"github.com/socbot/socbot/netlog"
	"github.com/socbot/socbot/syslog"
)

// MaxEvent is the largest single JSON event read from a file; larger ones are counted as malformed.
const MaxEvent = 4 << 20

// ScanOptions tune a file scan.
type ScanOptions struct {
	Format   Format     // force a format; FormatUnknown detects per file
	Hint     SourceHint // log source for JSON events whose shape does not tell
	Progress func(n int64)
	Clock    socbot.Clock // for syslog timestamps without a year
}

// FileResult reports one scanned file.
type FileResult struct {
	Path      string `json:"path"`
	Format    Format `json:"format"`
	Events    int64  `json:"events"`
	Malformed int64  `json:"malformed"`
	Err       string `json:"error,omitempty"`
}

// ListFiles expands files and directories (recursively, in name order) and sums their sizes.
func ListFiles(paths []string) ([]string, int64, error) {
	var out []string
	var total int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, 0, socbot.E("monitor.ListFiles", socbot.KindNotFound, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			total += st.Size()
			continue
		}
		var files []string
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
				files = append(files, path)
				total += info.Size()
			}
			return nil
		})
		sort.Strings(files)
		out = append(out, files...)
	}
	return out, total, nil
}

// ScanFiles scans every file. Files of unknown format are reported and skipped; an error from the
// processor's Emit (or ctx) stops the scan.
func ScanFiles(ctx context.Context, p *Processor, files []string, opts ScanOptions) ([]FileResult, error) {
	var res []FileResult
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		r, err := ScanFile(ctx, p, f, opts)
		res = append(res, r)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

type countingReader struct {
	r        io.Reader
	progress func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 && c.progress != nil {
		c.progress(int64(n))
	}
	return n, err
}

// errStop wraps an error from Emit so that it is told apart from a bad file.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// ScanFile scans one file. The returned error is non-nil only when the scan must stop (context or
// Emit failed); problems with the file itself are in FileResult.Err.
func ScanFile(ctx context.Context, p *Processor, path string, opts ScanOptions) (FileResult, error) {
	res := FileResult{Path: path, Format: opts.Format}
	before := p.Stats
	defer func() {
		res.Events = p.Stats.Events - before.Events
		res.Malformed = p.Stats.Malformed - before.Malformed
	}()
	if res.Format == FormatUnknown {
		f, err := DetectFile(path)
		if err != nil {
			res.Err = err.Error()
			return res, nil
		}
		res.Format = f
	}
	emitStop := func(err error) error {
		if err != nil {
			return errStop{err}
		}
		return nil
	}
	n := 0
	check := func() error {
		n++
		if n&1023 == 0 {
			return ctx.Err()
		}
		return nil
	}
	var err error
	switch res.Format {
	case FormatEVTX:
		var f *os.File
		f, err = os.Open(path)
		if err != nil {
			res.Err = err.Error()
			return res, nil
		}
		st, _ := f.Stat()
		if p.evtxReader == nil {
			p.evtxReader = &evtx.Reader{}
		}
		rd := p.evtxReader // one reader per processor: its buffers and template caches carry over
		if st == nil {
			err = fs.ErrInvalid
		} else {
			err = rd.Reset(f, st.Size())
		}
		if err == nil {
			err = rd.Records(func(r *evtx.Record) error {
				if e := check(); e != nil {
					return e
				}
				return emitStop(p.ProcessEVTX(r, path))
			})
			p.Stats.Malformed += int64(rd.Stats.BadRecords)
		}
		if opts.Progress != nil && st != nil {
			opts.Progress(st.Size())
		}
		f.Close()
	case FormatUnknown:
		res.Err = "unknown format (not EVTX, JSON, eve.json, Zeek or syslog)"
		if opts.Progress != nil {
			if st, e := os.Stat(path); e == nil {
				opts.Progress(st.Size())
			}
		}
		return res, nil
	default:
		var f *os.File
		f, err = os.Open(path)
		if err != nil {
			res.Err = err.Error()
			return res, nil
		}
		defer f.Close()
		r := &countingReader{r: f, progress: opts.Progress}
		err = scanStream(ctx, p, r, res.Format, path, opts, check, emitStop)
	}
	var stop errStop
	switch {
	case err == nil:
	case errors.As(err, &stop):
		return res, stop.err
	case ctx.Err() != nil:
		return res, ctx.Err()
	default:
		res.Err = err.Error()
	}
	return res, nil
}

// scanStream reads a text log format from r.
func scanStream(ctx context.Context, p *Processor, r io.Reader, f Format, source string, opts ScanOptions, check func() error, emitStop func(error) error) error {
	switch f {
	case FormatEve:
		st, err := netlog.ReadEve(r, func(e *netlog.EveEvent) error {
			if e := check(); e != nil {
				return e
			}
			return emitStop(p.ProcessEve(e, source))
		})
		p.Stats.Malformed += int64(st.Malformed)
		return err
	case FormatZeekTSV, FormatZeekJSON:
		path := strings.TrimSuffix(filepath.Base(source), filepath.Ext(source))
		if i := strings.IndexAny(path, ".-_"); i > 0 {
			path = path[:i] // conn.2024-01-01 -> conn
		}
		st, err := netlog.ReadZeek(r, path, func(z *netlog.ZeekRecord) error {
			if e := check(); e != nil {
				return e
			}
			return emitStop(p.ProcessZeek(z, source))
		})
		p.Stats.Malformed += int64(st.Malformed)
		return err
	case FormatSyslog:
		parser := &syslog.Parser{Clock: opts.Clock}
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := readLine(br, syslog.MaxMessage)
			if len(line) > 0 {
				if e := check(); e != nil {
					return e
				}
				m, perr := parser.Parse(line)
				if perr != nil {
					p.Stats.Malformed++
				} else if e := emitStop(p.ProcessSyslog(&m, source)); e != nil {
					return e
				}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	case FormatJSON:
		return SplitJSONStream(r, MaxEvent, func(ev []byte) error {
			if e := check(); e != nil {
				return e
			}
			return emitStop(p.ProcessJSON(ev, source, opts.Hint))
		}, func() { p.Stats.Malformed++ })
	}
	return socbot.E("monitor.scan", socbot.KindUnsupported, "format "+string(f))
}

// readLine returns the next line without its newline, cut to max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var out []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(out)+len(chunk) <= max {
			out = append(out, chunk...)
		}
		if !isPrefix || err != nil {
			if err == nil && out == nil {
				out = []byte{}
			}
			return out, err
		}
	}
}

// SplitJSONStream reads JSON objects from r one at a time: JSON Lines, a top-level array of objects,
// or pretty-printed objects concatenated. Objects over max bytes and bytes between objects that are
// not JSON are skipped (bad is called once for each). It works on whole buffers of input: inside an
// object only quotes, backslashes and brackets stop the scan, and strings are skipped eight bytes
// at a time.
func SplitJSONStream(r io.Reader, max int, fn func([]byte) error, bad func()) error {
	buf := make([]byte, 64<<10)
	var obj []byte
	depth, inStr, esc, skipping, junk := 0, false, false, false, false
	for {
		n, rerr := r.Read(buf)
		chunk := buf[:n]
		for i := 0; i < len(chunk); {
			if depth == 0 {
				switch c := chunk[i]; c {
				case '{':
					depth, inStr, esc, skipping = 1, false, false, false
					obj = append(obj[:0], c)
					if junk {
						bad()
						junk = false
					}
				case ' ', '\t', '\r', '\n', ',', '[', ']':
					if c == '\n' && junk {
						bad()
						junk = false
					}
				default:
					junk = true
				}
				i++
				continue
			}
			// inside an object: find where this buffer's part of it ends
			start, done := i, false
			for i < len(chunk) && !done {
				if esc {
					esc = false
					i++
					continue
				}
				if inStr {
					j := quoteOrBackslash(chunk[i:])
					if j < 0 {
						i = len(chunk)
						break
					}
					i += j
					if chunk[i] == '\\' {
						esc = true
					} else {
						inStr = false
					}
					i++
					continue
				}
				switch chunk[i] {
				case '"':
					inStr = true
				case '{', '[':
					depth++
				case '}', ']':
					depth--
					done = depth == 0
				}
				i++
			}
			if !skipping {
				if len(obj)+(i-start) > max {
					skipping = true
					obj = obj[:0]
				} else {
					obj = append(obj, chunk[start:i]...)
				}
			}
			if done {
				if skipping {
					bad()
					continue
				}
				if err := fn(obj); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			if depth > 0 || junk {
				bad()
			}
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// quoteOrBackslash returns the index of the first '"' or '\\' in b, or -1.
func quoteOrBackslash(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		q, s := w^(0x22*lsb8), w^(0x5C*lsb8)
		if m := ((q - lsb8) &^ q & msb8) | ((s - lsb8) &^ s & msb8); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '"' || b[i] == '\\' {
			return i
		}
	}
	return -1
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

var _ = time.Second
