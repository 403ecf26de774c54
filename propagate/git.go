package propagate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// GitMode says whether changes are also commits in the config directory.
type GitMode int

// Git modes.
const (
	// GitAuto commits when the config directory is the top of a git
	// repository (it holds .git) and git is installed.
	GitAuto GitMode = iota
	// GitOff never commits.
	GitOff
	// GitOn always commits; New fails when the directory is not in a git
	// work tree.
	GitOn
)

// detectGit decides whether to commit.
func detectGit(dir string, mode GitMode) (bool, error) {
	switch mode {
	case GitOff:
		return false, nil
	case GitOn:
		out, err := exec.Command("git", "-C", dir, "rev-parse", "--is-inside-work-tree").Output()
		if err != nil || strings.TrimSpace(string(out)) != "true" {
			return false, errors.New("propagate: git mode is on but " + dir + " is not inside a git work tree")
		}
		return true, nil
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return false, nil
	}
	_, err := exec.LookPath("git")
	return err == nil, nil
}

// gitIgnored are flywheel's own files in the config directory, which
// must not show up as untracked in the team's repository.
var gitIgnored = []string{lockName, journalName, ".*" + tmpMarker + "*"}

// excludeOwnFiles adds flywheel's own files to the repository's
// info/exclude (local to the clone, unlike .gitignore, which is the
// team's file).
func excludeOwnFiles(dir string) error {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--git-path", "info/exclude").Output()
	if err != nil {
		return fmt.Errorf("propagate: find the git exclude file: %w", err)
	}
	path := strings.TrimSpace(string(out))
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var add []string
	for _, pat := range gitIgnored {
		if !slices.Contains(strings.Split(string(old), "\n"), pat) {
			add = append(add, pat)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		old = append(old, '\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(old, []byte("# flywheel's lock, journal and temporary files\n"+strings.Join(add, "\n")+"\n")...), 0o644)
}

// gitCommit commits paths with message, authored by actor. The files are
// already written and recorded when this runs, so a failing commit is
// logged, not returned: git is a second history, the store the first.
// A commit with nothing in it is still made (a pin that kept the file's
// value), so that the history shows every person's decision.
func (p *Propagator) gitCommit(ctx context.Context, paths []string, message, actor string) {
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", p.dir}, args...)...)
		cmd.Env = append(os.Environ(),
			"GIT_AUTHOR_NAME="+actor, "GIT_AUTHOR_EMAIL="+actor+"@flywheel.invalid",
			"GIT_COMMITTER_NAME=flywheel", "GIT_COMMITTER_EMAIL=flywheel@flywheel.invalid")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			p.log.Error("git "+args[0]+" in the config directory", keyErr, err, keyStderr, strings.TrimSpace(stderr.String()))
			return err
		}
		return nil
	}
	if len(paths) > 0 {
		if run(append([]string{"add", "-A", "--"}, paths...)...) != nil {
			return
		}
	}
	args := []string{"commit", "--quiet", "--no-verify", "--allow-empty", "-m", message}
	if len(paths) > 0 {
		args = append(args, "--")
		args = append(args, paths...)
	} else {
		// Commit nothing staged by someone else: only what this
		// operation changed belongs in its commit.
		args = append(args, "--only")
	}
	_ = run(args...)
}
