package propagate

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/flywheel-ml/flywheel"
)

// Every file is written the way Tailscale's atomicfile does it: a
// temporary file in the same directory, fsync, read back and validated,
// renamed over the old one, and the directory fsynced so that the rename
// itself survives a power cut. A reader sees the old file or the new one,
// never a torn one.
//
// Every path goes through resolve first, and every file operation
// through an os.Root on the config directory: a target name cannot climb
// out of it, and a symlink that points outside is refused (os.Root would
// refuse it too; resolve says why in words).

// tmpMarker is in the name of every temporary file, so that recovery
// can remove those a crash left behind.
const tmpMarker = ".tmp-"

// resolve returns the path rel really names inside the config
// directory, symlinks followed. It refuses a path that is not a clean
// relative path, and one that leads outside the directory.
func (p *Propagator) resolve(rel string) (string, error) {
	if !fs.ValidPath(rel) || rel == "." || strings.Contains(rel, `\`) {
		return "", flywheel.FieldError("file", "%q is not a clean relative path inside the config directory", truncate(rel, 128))
	}
	// Find the longest prefix that exists; the rest cannot hold links.
	parts := strings.Split(rel, "/")
	existing := p.dir
	n := 0
	for ; n < len(parts); n++ {
		next := filepath.Join(existing, parts[n])
		if _, err := os.Lstat(next); err != nil {
			break
		}
		existing = next
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", flywheel.FieldError("file", "%s passes through a symlink that leads nowhere; refusing to write through it", rel)
	}
	inside, err := filepath.Rel(p.dir, real)
	if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) || filepath.IsAbs(inside) {
		return "", flywheel.FieldError("file", "%s leads outside the config directory through a symlink; refusing to touch it", rel)
	}
	out := path.Join(append([]string{filepath.ToSlash(inside)}, parts[n:]...)...)
	if out == "." || out == "" {
		return "", flywheel.FieldError("file", "%s is the config directory itself", rel)
	}
	return out, nil
}

// readFile reads a config file; a missing one gives an error matching
// fs.ErrNotExist.
func (p *Propagator) readFile(rel string) ([]byte, error) {
	real, err := p.resolve(rel)
	if err != nil {
		return nil, err
	}
	data, err := p.root.ReadFile(real)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return data, err
}

// writeFile replaces rel atomically with data, which must pass check
// once read back from the disk.
func (p *Propagator) writeFile(rel string, data []byte, check func([]byte) error) (err error) {
	real, err := p.resolve(rel)
	if err != nil {
		return err
	}
	dir := path.Dir(real)
	if err := p.mkdirs(dir); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	mode := fs.FileMode(0o644)
	if fi, err := p.root.Stat(real); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp := path.Join(dir, "."+path.Base(real)+tmpMarker+rand.Text()[:10])
	f, err := p.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	defer func() {
		if err != nil {
			_ = p.root.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(mode), f.Sync(), f.Close())
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	got, err := p.root.ReadFile(tmp)
	if err != nil {
		return fmt.Errorf("write %s: read back: %w", rel, err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("write %s: the bytes read back differ from those written", rel)
	}
	if check != nil {
		if err := check(got); err != nil {
			return err
		}
	}
	if err := p.root.Rename(tmp, real); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	return p.syncDir(dir)
}

// removeFile deletes rel durably; a missing file is not an error.
func (p *Propagator) removeFile(rel string) error {
	real, err := p.resolve(rel)
	if err != nil {
		return err
	}
	if err := p.root.Remove(real); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", rel, err)
	}
	return p.syncDir(path.Dir(real))
}

// mkdirs creates dir and its missing parents, fsyncing the parent of
// each one created so that the new entry is durable.
func (p *Propagator) mkdirs(dir string) error {
	if dir == "." {
		return nil
	}
	if _, err := p.root.Stat(dir); err == nil {
		return nil
	}
	if err := p.mkdirs(path.Dir(dir)); err != nil {
		return err
	}
	if err := p.root.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return p.syncDir(path.Dir(dir))
}

// syncDir fsyncs a directory, making the renames and removals in it
// durable.
func (p *Propagator) syncDir(dir string) error {
	d, err := p.root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// removeStaleTemps deletes the temporary files a crash left behind.
func (p *Propagator) removeStaleTemps() {
	for _, dir := range []string{".", "training", dirFeatureSelection, dirDataSampling} {
		real := dir
		if dir != "." {
			var err error
			if real, err = p.resolve(dir); err != nil {
				continue
			}
		}
		entries, err := fs.ReadDir(p.root.FS(), real)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), tmpMarker) {
				_ = p.root.Remove(path.Join(real, e.Name()))
			}
		}
	}
}
