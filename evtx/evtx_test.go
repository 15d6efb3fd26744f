package evtx

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

func corpusDir(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus", "detection")
	if _, err := os.Stat(filepath.Join(c, "evtx")); err != nil {
		t.Skipf("detection corpus not present at %s", c)
	}
	return c
}

func corpusFiles(t testing.TB) []string {
	c := corpusDir(t)
	var files []string
	for _, root := range []string{filepath.Join(c, "evtx"), filepath.Join(c, "sigma", "regression_data")} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && filepath.Ext(p) == ".evtx" {
				files = append(files, p)
			}
			return nil
		})
	}
	return files
}

func TestDumpOne(t *testing.T) {
	files := corpusFiles(t)
	if os.Getenv("EVTX_DUMP") == "" {
		t.Skip("set EVTX_DUMP")
	}
	n := 0
	_, err := ReadFile(files[0], func(r *Record) error {
		if n < 3 {
			fmt.Println(r.ID, r.Written, r.Channel, r.EventID)
			for _, f := range r.Fields {
				fmt.Printf("   %d %s = %q\n", f.Section, f.Name, f.Value)
			}
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var updateGolden = flag.Bool("update", false, "rewrite testdata/synthetic.evtx")

func TestDecodeUTF16(t *testing.T) {
	for _, s := range []string{"", "a", "abcd", "abcdefgh", "abcdefghi", "C:\\Windows\\System32\\cmd.exe", "héllo wörld, ünïcode", "emoji 😀 ok", "stop\x00after"} {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		want := s
		if i := strings.IndexByte(s, 0); i >= 0 {
			want = s[:i]
		}
		if got := string(decodeUTF16(nil, b)); got != want {
			t.Errorf("%q: got %q", s, got)
		}
	}
}

func TestAppendFiletime(t *testing.T) {
	for _, ft := range []uint64{132000000000000000, 132000000000000001, 116444736000000000 + 1234567, 133000000099999999} {
		want := filetime(ft).Format("2006-01-02T15:04:05.0000000Z")
		if got := string(appendFiletime(nil, ft)); got != want {
			t.Errorf("%d: got %s want %s", ft, got, want)
		}
	}
}
