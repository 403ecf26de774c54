//go:build unix

package train

import (
	"syscall"
	"time"
)

// processCPUTime is the user and system CPU time this process has used,
// from getrusage(2): the run's cpu_hours are measured, not estimated from
// wall time, so that a run that waited on I/O is not charged for it.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
