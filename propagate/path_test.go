package propagate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flywheel-ml/flywheel"
)

func TestTargetTraversalRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, nil)
	for _, target := range []string{"../etc/passwd", "/etc/passwd", "..", ".hidden", "a/b", `a\b`, ""} {
		doc := UpdateDoc{Target: target, Source: "human", Updates: Updates{FeatureSelection: &FeatureSelectionUpdate{TopN: ptr(int64(5))}}}
		_, err := f.p.Apply(ctx, doc, "alice", ApplyOptions{})
		wantField(t, err, "target")
		doc.Target = "ok"
		_, err = f.p.Apply(ctx, doc, "alice", ApplyOptions{Targets: []string{target}})
		wantField(t, err, "targets[0]")
	}
	if files := readFiles(t, f.dir); len(files) != 0 {
		t.Errorf("files written: %v", files)
	}
	if _, err := ConfigHash(f.dir, "../x"); flywheel.Code(err) != flywheel.EInvalid {
		t.Errorf("ConfigHash of ../x: %v", err)
	}
}

// TestSymlinkEscapesRefused checks that a symlinked directory or file
// that leads outside the config directory is refused, and the outside
// left untouched, while a symlink that stays inside is followed.
func TestSymlinkEscapesRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	doc := mustDecode(t, `{"target": "A", "source": "human", "updates": {"feature_selection": {"top_n": 5}, "data_sampling": {"regime_weight": 2}}}`)
	for _, tc := range []struct {
		name string
		link func(t *testing.T, dir, outside string)
	}{
		{"directory outside", func(t *testing.T, dir, outside string) {
			symlink(t, outside, filepath.Join(dir, "feature_selection"))
		}},
		{"relative directory outside", func(t *testing.T, dir, outside string) {
			rel, _ := filepath.Rel(dir, outside)
			symlink(t, rel, filepath.Join(dir, "feature_selection"))
		}},
		{"file outside", func(t *testing.T, dir, outside string) {
			os.MkdirAll(filepath.Join(dir, "feature_selection"), 0o755)
			symlink(t, filepath.Join(outside, "A.yaml"), filepath.Join(dir, "feature_selection", "A.yaml"))
		}},
		{"dangling", func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Join(outside, "nowhere"), filepath.Join(dir, "feature_selection"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, Config{}, nil)
			outside := filepath.Join(filepath.Dir(f.dir), "outside")
			writeFiles(t, outside, map[string]string{"A.yaml": "target: A\ntop_n: 40\n"})
			tc.link(t, f.dir, outside)
			_, err := f.p.Apply(ctx, doc, "alice", ApplyOptions{})
			wantCode(t, err, flywheel.EInvalid)
			if !strings.Contains(err.Error(), "feature_selection/A.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
			if got := readFiles(t, outside); len(got) != 1 || got["A.yaml"] != "target: A\ntop_n: 40\n" {
				t.Errorf("outside changed: %v", got)
			}
			if _, err := os.Stat(filepath.Join(f.dir, "data_sampling")); !os.IsNotExist(err) {
				t.Errorf("data_sampling was written although the update was refused")
			}
			_, err = f.p.SetPin(ctx, flywheel.Pin{File: "feature_selection/A.yaml", Key: "top_n", Value: "3", Reason: "x"}, "alice")
			wantCode(t, err, flywheel.EInvalid)
		})
	}
	t.Run("inside", func(t *testing.T) {
		t.Parallel()
		f := setup(t, Config{}, map[string]string{"shared/fs/A.yaml": "# kept\ntarget: A\n"})
		symlink(t, filepath.Join(f.dir, "shared", "fs"), filepath.Join(f.dir, "feature_selection"))
		if _, err := f.p.Apply(ctx, doc, "alice", ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(f.dir, "shared", "fs", "A.yaml"))
		if string(b) != "# kept\ntarget: A\ntop_n: 5\n" {
			t.Errorf("file behind the link:\n%s", b)
		}
		if fi, err := os.Lstat(filepath.Join(f.dir, "feature_selection")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link was replaced: %v %v", fi, err)
		}
	})
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

// TestRestoreRefusesUnknownPaths checks that a backup naming a file the
// propagator does not know cannot be used to write it.
func TestRestoreRefusesUnknownPaths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, Config{}, nil)
	b := flywheel.ConfigBackup{ID: "bk-evil", CreatedAt: t0, Files: map[string][]byte{"notes/secret.yaml": []byte("x: 1\n")}}
	if err := f.store.PutConfigBackup(ctx, b); err != nil {
		t.Fatal(err)
	}
	_, err := f.p.Restore(ctx, "bk-evil", "alice", "")
	wantField(t, err, "file")
	if files := readFiles(t, f.dir); len(files) != 0 {
		t.Errorf("files written: %v", files)
	}
}
