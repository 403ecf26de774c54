package orchestrator

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteForce tries every subset.
func bruteForce(items []item, free room) float64 {
	best := 0.0
	for mask := 0; mask < 1<<len(items); mask++ {
		r, val, ok := free, 0.0, true
		for i := range items {
			if mask&(1<<i) == 0 {
				continue
			}
			if !r.fits(&items[i]) {
				ok = false
				break
			}
			r = r.minus(&items[i])
			val += items[i].value
		}
		if ok && val > best {
			best = val
		}
	}
	return best
}

func randomItems(r *rand.Rand, n int) []item {
	items := make([]item, n)
	for i := range items {
		items[i] = item{cand: i, value: 0.05 + r.Float64(), gpu: float64(r.IntN(5) * 8),
			cpu: float64(1 + r.IntN(8)), cost: 0.5 + r.Float64()*10}
	}
	slices.SortFunc(items, func(a, b item) int { return -cmp.Compare(a.value, b.value) })
	return items
}

// TestKnapsackIsExact compares the branch and bound with every subset on
// random instances where all four limits bind, and checks it never does
// worse than the seed's greedy pass.
func TestKnapsackIsExact(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	beatGreedy := 0
	for trial := range 2000 {
		items := randomItems(r, 1+r.IntN(12))
		free := room{slots: 1 + r.IntN(5), gpu: float64(r.IntN(6) * 8), cpu: float64(2 + r.IntN(16)), cost: 1 + r.Float64()*25}
		chosen, view := knapsack(items, free, 1_000_000)
		var got float64
		left := free
		for _, i := range chosen {
			if !left.fits(&items[i]) {
				t.Fatalf("trial %d: chosen set does not fit", trial)
			}
			left = left.minus(&items[i])
			got += items[i].value
		}
		want := bruteForce(items, free)
		if !near(got, want) || !near(view.Chosen, want) || !view.Complete {
			t.Fatalf("trial %d: knapsack %.6f (view %.6f, complete %v), best subset %.6f", trial, got, view.Chosen, view.Complete, want)
		}
		if view.Greedy > got+1e-12 {
			t.Fatalf("trial %d: greedy %.6f beats knapsack %.6f", trial, view.Greedy, got)
		}
		if got > view.Greedy+1e-9 {
			beatGreedy++
		}
	}
	if beatGreedy == 0 {
		t.Error("the knapsack never beat greedy: the instances test nothing")
	}
	t.Logf("knapsack beat greedy in %d of 2000 instances", beatGreedy)
}

// TestKnapsackNodeLimit checks that a search cut short keeps at least the
// greedy set and says it is incomplete.
func TestKnapsackNodeLimit(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	items := randomItems(r, 60)
	free := room{slots: 6, gpu: 48, cpu: 20, cost: 30}
	chosen, view := knapsack(items, free, 5)
	if view.Complete || view.Nodes > 6 {
		t.Errorf("view = %+v, want an incomplete search of at most 6 nodes", view)
	}
	if view.Chosen < view.Greedy || len(chosen) == 0 {
		t.Errorf("cut-short search chose %.4f below greedy %.4f", view.Chosen, view.Greedy)
	}
}
