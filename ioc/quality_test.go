package ioc

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestCorpusPrecisionRecall extracts IOCs from the real texts of the shared corpus and compares them
// with the expected sets annotated by hand under testdata/expected/ (mirroring the corpus paths).
// It reports micro-averaged precision and recall and fails below 0.95 either way.
func TestCorpusPrecisionRecall(t *testing.T) {
	corpus := corpusDir(t)
	var files []string
	filepath.Walk("testdata/expected", func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(p, ".tsv") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no expected sets under testdata/expected")
	}
	var tp, fp, fn int
	for _, exp := range files {
		rel := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(exp), "testdata/expected/"), ".tsv")
		text, err := os.ReadFile(filepath.Join(corpus, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		want := readExpected(t, exp)
		got := map[string]bool{}
		for _, i := range ExtractAll(text, Options{}) {
			got[string(i.Type)+"\t"+i.Value] = true
		}
		ftp, ffp, ffn := 0, 0, 0
		for k := range got {
			if want[k] {
				ftp++
			} else {
				ffp++
				t.Logf("%s: false positive %s", rel, k)
			}
		}
		for k := range want {
			if !got[k] {
				ffn++
				t.Logf("%s: missed %s", rel, k)
			}
		}
		t.Logf("%-80s tp=%d fp=%d fn=%d", rel, ftp, ffp, ffn)
		tp, fp, fn = tp+ftp, fp+ffp, fn+ffn
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(tp+fn)
	t.Logf("corpus extraction: %d files, precision %.4f, recall %.4f (tp=%d fp=%d fn=%d)", len(files), precision, recall, tp, fp, fn)
	if precision < 0.95 || recall < 0.95 {
		t.Errorf("precision %.4f / recall %.4f below 0.95", precision, recall)
	}
}

func readExpected(t *testing.T, path string) map[string]bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		m[l] = true
	}
	return m
}
