package localexec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procStat is what /proc/PID/stat says about a process.
type procStat struct {
	// State is one letter: R, S, D, Z (zombie), X (dead), T...
	State byte
	// StartTicks is when the process started, in clock ticks after boot:
	// with the pid it identifies a process even after its pid is reused.
	StartTicks uint64
}

// readStat reads /proc/PID/stat; ok is false when there is no such
// process.
func readStat(pid int) (procStat, bool, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return procStat{}, false, nil
	}
	if err != nil {
		return procStat{}, false, err
	}
	s, err := parseStat(b)
	if err != nil {
		return procStat{}, false, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return s, true, nil
}

// parseStat parses the contents of /proc/PID/stat. The command name (field
// 2) is in parentheses and may itself hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("no ')' after the command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("starttime: %w", err)
	}
	return procStat{State: f[0][0], StartTicks: ticks}, nil
}

// alive reports whether the process pid that started at ticks still runs.
// kill -0 would say yes for a zombie, and a dead wrapper can linger as one
// when PID 1 reaps slowly, so the state letter decides.
func alive(pid int, ticks uint64) (bool, error) {
	if pid <= 0 {
		return false, nil
	}
	s, ok, err := readStat(pid)
	if err != nil || !ok {
		return false, err
	}
	if s.StartTicks != ticks {
		return false, nil // the pid now belongs to another process
	}
	return s.State != 'Z' && s.State != 'X', nil
}

// findWrapper looks for the live wrapper process whose arguments include
// exitPath (unique to one job): the process a crash between starting it
// and recording its pid left running untracked.
func findWrapper(exitPath string) (pid int, ticks uint64, err error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
	}
	needle := []byte("\x00" + wrapperName + "\x00" + exitPath + "\x00")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, needle) {
			continue
		}
		s, ok, err := readStat(p)
		if err != nil || !ok || s.State == 'Z' || s.State == 'X' {
			continue
		}
		return p, s.StartTicks, nil
	}
	return 0, 0, nil
}

// signalGroup sends sig to the process group led by pid (the wrapper is a
// session leader, so its group holds the whole job unless the job made
// groups of its own).
func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
