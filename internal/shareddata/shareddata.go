// Package shareddata locates the real market data that lives next to the
// repository in ../shared/data, for the tests and benchmarks that read it.
// The folder holds third-party files that must not be copied into the
// repository, so a clone without it skips those tests, except under
// CI=true, where a skip would hide a broken setup.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns the path of shared/data/rel, found by walking up from the
// working directory (a test's is its package directory). When it is not
// there the test is skipped, or failed under CI=true.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	if p, ok := Find(dir, rel); ok {
		return p
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("shared/data/%s not found above the package directory; CI must provide ../shared/data", rel)
	}
	tb.Skipf("skipping: shared/data/%s not found above the package directory (it lives next to the repository, see ../shared/data/README.md)", rel)
	return ""
}

// Find returns the path of shared/data/rel and whether it exists, looking
// up from dir as Path does, without a test to skip.
func Find(dir, rel string) (string, bool) {
	for {
		p := filepath.Join(dir, "shared", "data", rel)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
