package dashboard_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strconv"
	"testing"
)

func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	j, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fmtNum is the dashboard's number format, written out independently.
func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

// tempDir is a directory for the benchmark's database that outlives one
// benchmark run (b.TempDir is removed after each of b.N's rounds, and the
// seeded store is shared between them).
func tempDir() (string, error) { return os.MkdirTemp("", "flywheel-dashboard-bench-") }

// TestMain removes the benchmark's shared database after every test and
// benchmark ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if bench10k.db != nil {
		bench10k.db.Close()
		os.RemoveAll(bench10k.dir)
	}
	os.Exit(code)
}
