//go:build !unix

package train

import "time"

// processStart anchors the fallback CPU clock.
var processStart = time.Now()

// processCPUTime falls back to wall time where getrusage(2) does not
// exist: an overestimate, which the compute budget prefers to a run that
// looks free.
func processCPUTime() time.Duration { return time.Since(processStart) }
