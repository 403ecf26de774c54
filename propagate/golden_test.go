package propagate

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/flywheel-ml/flywheel"
)

var update = flag.Bool("update", false, "rewrite the expected files of the golden tests")

// TestGolden runs every case in testdata/golden: the files in before/,
// the pins in pins.yaml and the update in update.yaml (or update.json)
// must give exactly the files in after/, and the keys in held.txt must
// be the ones held back by pins. Rolling the change back must give the
// data of before/ again, with the files the change created removed.
func TestGolden(t *testing.T) {
	t.Parallel()
	cases, err := os.ReadDir("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			runGolden(t, filepath.Join("testdata/golden", c.Name()))
		})
	}
}

func runGolden(t *testing.T, dir string) {
	ctx := context.Background()
	before := readFiles(t, filepath.Join(dir, "before"))
	f := setup(t, Config{}, before)
	if data, err := os.ReadFile(filepath.Join(dir, "pins.yaml")); err == nil {
		var pins []flywheel.Pin
		if err := yaml.Unmarshal(data, &pins); err != nil {
			t.Fatalf("pins.yaml: %v", err)
		}
		for _, p := range pins {
			p.CreatedAt = t0
			if err := f.store.SetPin(ctx, p); err != nil {
				t.Fatalf("set pin: %v", err)
			}
		}
	}
	doc := mustDecode(t, string(readEither(t, dir, "update.yaml", "update.json")))
	c, err := f.p.Apply(ctx, doc, "golden", ApplyOptions{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	got := readFiles(t, f.dir)
	heldPath := filepath.Join(dir, "held.txt")
	if *update {
		os.RemoveAll(filepath.Join(dir, "after"))
		writeFiles(t, filepath.Join(dir, "after"), got)
		held := strings.Join(c.HeldByPins, "\n")
		if held != "" {
			held += "\n"
		}
		if err := os.WriteFile(heldPath, []byte(held), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFiles(t, filepath.Join(dir, "after"))
	for _, name := range slices.Sorted(keysOf(want, got)) {
		if got[name] != want[name] {
			t.Errorf("%s:\n--- got\n%s--- want\n%s", name, got[name], want[name])
		}
	}
	wantHeld, _ := os.ReadFile(heldPath)
	if g, w := strings.Join(c.HeldByPins, "\n"), strings.TrimSpace(string(wantHeld)); g != w {
		t.Errorf("held by pins:\n%s\nwant:\n%s", g, w)
	}
	if _, err := f.p.Rollback(ctx, c.ID, "golden", "golden test"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	back := readFiles(t, f.dir)
	for _, name := range slices.Sorted(keysOf(before, back)) {
		if !sameData([]byte(back[name]), []byte(before[name])) || (back[name] == "") != (before[name] == "") {
			t.Errorf("after rollback, %s:\n%s\nwant the data of:\n%s", name, back[name], before[name])
		}
	}
}

func readEither(t *testing.T, dir string, names ...string) []byte {
	t.Helper()
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			return b
		}
	}
	t.Fatalf("%s has none of %v", dir, names)
	return nil
}

// keysOf returns the union of the maps' keys.
func keysOf(ms ...map[string]string) func(func(string) bool) {
	set := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			set[k] = true
		}
	}
	return func(yield func(string) bool) {
		for k := range set {
			if !yield(k) {
				return
			}
		}
	}
}
