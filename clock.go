package flywheel

import "time"

// Clock tells the time. The daemon uses the wall clock; the backtester a
// simulated one.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// SystemClock is the wall clock in UTC.
var SystemClock Clock = ClockFunc(func() time.Time { return time.Now().UTC() })
