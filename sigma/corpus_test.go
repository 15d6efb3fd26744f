package sigma

import (
	"os"
	"path/filepath"
	"testing"
)

// corpusDir returns ../shared/corpus/detection relative to the module root, or skips the test.
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
	if _, err := os.Stat(filepath.Join(c, "sigma", "rules")); err != nil {
		t.Skipf("detection corpus not present at %s (only in the project's shared workspace)", c)
	}
	return c
}

func corpusRuleDirs(c string) []string {
	return []string{filepath.Join(c, "sigma", "rules"), filepath.Join(c, "sigma", "rules-emerging-threats"), filepath.Join(c, "sigma", "rules-threat-hunting")}
}
