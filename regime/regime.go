// Package regime tells market regimes (calm, volatile, crisis) apart from a
// series of market returns, for ARPO's regime strategies and regime-mismatch
// checks. The model is a Gaussian hidden Markov model with 2 or 3 states
// fitted by Baum-Welch (L. R. Rabiner, "A tutorial on hidden Markov models
// and selected applications in speech recognition", Proc. IEEE 77(2),
// 1989): returns are drawn from a normal distribution whose mean and
// variance depend on an unobserved state that follows a Markov chain, which
// captures both volatility clustering and the persistence of regimes. When
// the fit is poor, Detect falls back to comparing rolling volatility with
// its quantiles and says so.
//
// Everything is deterministic: the fit starts from fixed, data-derived
// initialisations, never from random ones.
package regime

import (
	"errors"
	"fmt"
)

// Regime names a state after ordering the states by volatility.
type Regime int

// The regimes, from the lowest volatility to the highest. A 2-state model
// uses Calm and Volatile.
const (
	Calm Regime = iota
	Volatile
	Crisis
)

var regimeNames = [...]string{"calm", "volatile", "crisis"}

// String returns the regime's name: "calm", "volatile" or "crisis".
func (r Regime) String() string {
	if r < 0 || int(r) >= len(regimeNames) {
		return fmt.Sprintf("regime(%d)", int(r))
	}
	return regimeNames[r]
}

// Names returns the regime names of a model with the given number of
// states (2 or 3), in state order.
func Names(states int) []string {
	if states < 1 || states > len(regimeNames) {
		return nil
	}
	return append([]string(nil), regimeNames[:states]...)
}

// ErrInvalid is wrapped by every error caused by bad input: an unsupported
// number of states, too few returns, non-finite values, mismatched lengths.
var ErrInvalid = errors.New("invalid input")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("regime: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Options tunes the fit and the fallback. The zero value means the
// defaults.
type Options struct {
	// MaxIter caps the Baum-Welch iterations of each start (default 1000).
	MaxIter int
	// Tol is the change in total log-likelihood below which Baum-Welch has
	// converged (default 1e-4: on 6,000 daily returns a tighter tolerance
	// moves no posterior probability by more than about 1e-3 and can
	// triple the iterations).
	Tol float64
	// VarianceFloor is the smallest state variance, as a fraction of the
	// variance of the returns (default 1e-3). Without a floor a state can
	// collapse onto a few identical returns and the likelihood diverge.
	VarianceFloor float64
	// MinOccupancy is the smallest share of the periods a state must hold,
	// by posterior probability, for the fit to count as good (default
	// 0.02): a state that explains almost nothing is an artefact.
	MinOccupancy float64
	// Window is the rolling-volatility window of the fallback, in periods
	// (default 21, a trading month).
	Window int
	// FallbackQuantiles are the quantiles of rolling volatility that
	// separate the fallback's regimes, one fewer than the states (default
	// 0.75 for 2 states, 0.5 and 0.9 for 3). Calm markets are the
	// majority of days and crises a tail, as fitted models find.
	FallbackQuantiles []float64
}

func (o Options) maxIter() int {
	if o.MaxIter > 0 {
		return o.MaxIter
	}
	return 1000
}

func (o Options) tol() float64 {
	if o.Tol > 0 {
		return o.Tol
	}
	return 1e-4
}

func (o Options) varianceFloor() float64 {
	if o.VarianceFloor > 0 {
		return o.VarianceFloor
	}
	return 1e-3
}

func (o Options) minOccupancy() float64 {
	if o.MinOccupancy > 0 {
		return o.MinOccupancy
	}
	return 0.02
}

func (o Options) window() int {
	if o.Window > 0 {
		return o.Window
	}
	return 21
}

func (o Options) fallbackQuantiles(states int) []float64 {
	if len(o.FallbackQuantiles) > 0 {
		return o.FallbackQuantiles
	}
	if states == 2 {
		return []float64{0.75}
	}
	return []float64{0.5, 0.9}
}
