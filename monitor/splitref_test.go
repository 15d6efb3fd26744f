package monitor

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// refSplitJSONStream is SplitJSONStream as it was (one byte at a time); it reads JSON objects from r one at a time: JSON Lines, a top-level array of objects,
// or pretty-printed objects concatenated. Objects over max bytes and bytes between objects that are
// not JSON are skipped (bad is called once for each).
func refSplitJSONStream(r io.Reader, max int, fn func([]byte) error, bad func()) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var obj []byte
	depth, inStr, esc, skipping, junk := 0, false, false, false, false
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF {
				if depth > 0 || junk {
					bad()
				}
				return nil
			}
			return err
		}
		if depth == 0 {
			switch c {
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
			continue
		}
		if !skipping {
			if len(obj) >= max {
				skipping = true
				obj = obj[:0]
			} else {
				obj = append(obj, c)
			}
		}
		switch {
		case esc:
			esc = false
		case inStr:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				if skipping {
					bad()
					continue
				}
				if err := fn(obj); err != nil {
					return err
				}
			}
		}
	}
}

type splitResult struct {
	objs []string
	bad  int
	err  error
}

func splitWith(split func(io.Reader, int, func([]byte) error, func()) error, r io.Reader, max int) splitResult {
	var res splitResult
	res.err = split(r, max, func(b []byte) error { res.objs = append(res.objs, string(b)); return nil }, func() { res.bad++ })
	return res
}

func sameSplit(a, b splitResult) bool {
	return strings.Join(a.objs, "\x00") == strings.Join(b.objs, "\x00") && a.bad == b.bad && (a.err == nil) == (b.err == nil)
}

// FuzzSplitJSONStreamMatchesReference holds the buffer-at-a-time splitter to the byte-at-a-time
// one, with whole reads, one-byte reads and half reads (objects and escapes cut at every place).
func FuzzSplitJSONStreamMatchesReference(f *testing.F) {
	f.Add([]byte("[{\"a\":\"}\"},\n{\"b\":[1,{\"c\":2}]}]\n garbage\n{\"d\":\"\\\"{\"}\n{\"unterminated\":"), 1<<20)
	f.Add([]byte(`{"a":"`+strings.Repeat("x\\\\", 20)+`"}{"b":1}`), 40)
	f.Add([]byte("x{\"a\":1}\n\n{\"b\":\"\\\\\"}"), 8)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 1 || max > 1<<20 {
			max = 64
		}
		want := splitWith(refSplitJSONStream, bytes.NewReader(b), max)
		for name, r := range map[string]io.Reader{"whole": bytes.NewReader(b), "one byte": iotest.OneByteReader(bytes.NewReader(b)), "half": iotest.HalfReader(bytes.NewReader(b))} {
			if got := splitWith(SplitJSONStream, r, max); !sameSplit(got, want) {
				t.Fatalf("%s reads of %q (max %d): got %q bad %d, want %q bad %d", name, b, max, got.objs, got.bad, want.objs, want.bad)
			}
		}
	})
}
