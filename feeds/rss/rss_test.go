package rss

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/socbot/socbot/intel"
)

func TestStripTags(t *testing.T) {
	if g := stripTags("<p>a &amp; <b>b</b></p>"); g != " a &  b  " {
		t.Errorf("%q", g)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../testdata/feed.*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(context.Background(), Options{}, bytes.NewReader(b), func(intel.Item) error { return nil })
	})
}
