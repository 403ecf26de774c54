package orchestrator

import "slices"

// capacityEps absorbs float rounding when sums of GPU memory or cost are
// compared with a limit (8+8+16 must fit 32 whatever order it is added in).
const capacityEps = 1e-9

// item is a candidate that fits on its own, as the knapsack sees it.
type item struct {
	cand  int // index into the plan's candidates
	value float64
	gpu   float64
	cpu   float64
	cost  float64
}

// room is what is free: slots, GPU memory, CPU cores, budget.
type room struct {
	slots int
	gpu   float64
	cpu   float64
	cost  float64
}

func (r room) fits(it *item) bool {
	return r.slots >= 1 && it.gpu <= r.gpu+capacityEps && it.cpu <= r.cpu+capacityEps && it.cost <= r.cost+capacityEps
}

func (r room) minus(it *item) room {
	return room{slots: r.slots - 1, gpu: r.gpu - it.gpu, cpu: r.cpu - it.cpu, cost: r.cost - it.cost}
}

// SearchView reports how the admitted set was chosen.
type SearchView struct {
	// Items is the number of candidates the search chose among (those
	// that fit on their own); Nodes the branches it explored.
	Items int `json:"items"`
	Nodes int `json:"nodes"`
	// Complete is false when max_search_nodes stopped the search: the set
	// is then the best found, never worse than the greedy one.
	Complete bool `json:"complete"`
	// Greedy is the total score the seed's greedy pass (take each
	// candidate in ranking order if it fits) would admit; Chosen the total
	// of the admitted set.
	Greedy float64 `json:"greedy"`
	Chosen float64 `json:"chosen"`
}

// knapsack chooses the subset of items with the largest total value that
// fits the room: a multi-constraint 0/1 knapsack with a cardinality limit
// (the free slots), solved exactly by depth-first branch and bound.
//
// Items come sorted by value, descending, so the most a set can still
// gain from items[i:] is the sum of the next m values, where m is the
// most items that can still be added: the free slots, and for each of
// GPU memory, CPU cores and budget the count of the smallest requirements
// (over all items) that fit in what is left. The bound is cheap (two
// binary searches per resource) and tight when a resource rather than
// the slots binds. Branches that include an item are tried first, so the
// first optimum found keeps the best-ranked items, and the greedy set is
// kept on ties. Values must be positive.
func knapsack(items []item, free room, maxNodes int) ([]int, SearchView) {
	s := &search{items: items, maxNodes: maxNodes}
	// prefix[i] is the sum of the values of items[:i], for the bound.
	s.prefix = make([]float64, len(items)+1)
	for i := range items {
		s.prefix[i+1] = s.prefix[i] + items[i].value
	}
	s.gpu = smallest(items, func(it *item) float64 { return it.gpu })
	s.cpu = smallest(items, func(it *item) float64 { return it.cpu })
	s.cost = smallest(items, func(it *item) float64 { return it.cost })
	s.best, s.bestVal = greedy(items, free)
	greedyVal := s.bestVal
	s.chosen = make([]int, 0, max(0, min(free.slots, len(items))))
	s.dfs(0, free, 0)
	return s.best, SearchView{Items: len(items), Nodes: s.nodes, Complete: !s.stopped, Greedy: greedyVal, Chosen: s.bestVal}
}

type search struct {
	items  []item
	prefix []float64
	// gpu, cpu and cost are the prefix sums of each requirement over all
	// items, smallest first: the least any m items need.
	gpu, cpu, cost []float64
	maxNodes       int
	nodes          int
	stopped        bool
	chosen         []int
	best           []int
	bestVal        float64
}

// bound is the most any completion of the current set can add from
// items[i:]: the values of the next m items, m the most items that can
// still fit.
func (s *search) bound(i int, free room) float64 {
	m := min(free.slots, fitCount(s.gpu, free.gpu), fitCount(s.cpu, free.cpu), fitCount(s.cost, free.cost))
	j := min(len(s.items), i+m)
	return s.prefix[j] - s.prefix[i]
}

// smallest returns the prefix sums of one requirement sorted ascending.
func smallest(items []item, req func(*item) float64) []float64 {
	v := make([]float64, len(items))
	for i := range items {
		v[i] = req(&items[i])
	}
	slices.Sort(v)
	prefix := make([]float64, len(v)+1)
	for i, x := range v {
		prefix[i+1] = prefix[i] + x
	}
	return prefix
}

// fitCount is the largest m with prefix[m] <= capacity: how many items at
// most fit in it.
func fitCount(prefix []float64, capacity float64) int {
	m, _ := slices.BinarySearchFunc(prefix, capacity+capacityEps, func(p, c float64) int {
		if p <= c {
			return -1
		}
		return 1
	})
	return m - 1
}

func (s *search) dfs(i int, free room, val float64) {
	for ; i < len(s.items) && free.slots > 0; i++ {
		// Later items cannot lift the set above the best found.
		if val+s.bound(i, free) <= s.bestVal+capacityEps {
			return
		}
		s.nodes++
		if s.nodes > s.maxNodes {
			s.stopped = true
			return
		}
		it := &s.items[i]
		if !free.fits(it) {
			continue
		}
		s.chosen = append(s.chosen, i)
		v := val + it.value
		if v > s.bestVal+capacityEps {
			s.bestVal = v
			s.best = append(s.best[:0:0], s.chosen...)
		}
		s.dfs(i+1, free.minus(it), v)
		s.chosen = s.chosen[:len(s.chosen)-1]
		if s.stopped {
			return
		}
		// The loop goes on to the branch without item i.
	}
}

// greedy is the seed's pass (section 3.1): in ranking order, take each
// item that still fits.
func greedy(items []item, free room) ([]int, float64) {
	var out []int
	var val float64
	for i := range items {
		if free.slots == 0 {
			break
		}
		if free.fits(&items[i]) {
			out = append(out, i)
			val += items[i].value
			free = free.minus(&items[i])
		}
	}
	return out, val
}
