package cils

import (
	"cmp"
	"math"
	"slices"
)

// cell is one model's runs under one strategy.
type cell struct {
	strat int
	n     int
	sum   float64
}

// kindData is the scored runs of one kind that name a strategy.
type kindData struct {
	models []*modelSeries
	strats []Strategy
	keys   []string
	idx    map[string]int // key -> index in strats, before finish
	// cells[m] are model m's strategies; current[m] the strategy of its
	// latest run with one, or -1.
	cells   [][]cell
	current []int
	// ys[m] and ss[m] are model m's scores and their strategies, in order.
	ys [][]float64
	ss [][]int
}

// strategyRuns gathers, model by model, the scored runs that name a
// strategy, per kind.
type strategyRuns struct {
	reader  strategyReader
	byKind  map[string]*kindData
	skipped int // scored runs without a readable strategy
}

func (c *strategyRuns) add(ms *modelSeries) {
	kd := c.byKind[ms.kind]
	if kd == nil {
		kd = &kindData{idx: make(map[string]int)}
		c.byKind[ms.kind] = kd
	}
	ys := make([]float64, 0, len(ms.trained))
	ss := make([]int, 0, len(ms.trained))
	for _, sr := range ms.trained {
		if !c.reader.read(sr.run.Config) {
			c.skipped++
			continue
		}
		i, seen := kd.idx[string(c.reader.key)]
		if !seen {
			i = len(kd.strats)
			k := string(c.reader.key)
			kd.idx[k] = i
			kd.strats = append(kd.strats, c.reader.strategy())
			kd.keys = append(kd.keys, k)
		}
		ys = append(ys, sr.score)
		ss = append(ss, i)
	}
	kd.models = append(kd.models, ms)
	kd.ys = append(kd.ys, ys)
	kd.ss = append(kd.ss, ss)
}

// fit estimates every kind with at least two comparable strategies, in
// kind order.
func (c *strategyRuns) fit(cfg *Config) []KindStrategy {
	kinds := make([]string, 0, len(c.byKind))
	for k := range c.byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	out := []KindStrategy{}
	for _, kind := range kinds {
		kd := c.byKind[kind]
		kd.finish()
		if ks, ok := fitKind(cfg, kind, kd); ok {
			out = append(out, ks)
		}
	}
	return out
}

// finish renumbers the strategies in key order, so that the fit does not
// depend on the order they were met in, and sums the cells.
func (kd *kindData) finish() {
	order := make([]int, len(kd.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(kd.keys[a], kd.keys[b]) })
	renum := make([]int, len(order))
	strats, keys := make([]Strategy, len(order)), make([]string, len(order))
	for newI, oldI := range order {
		renum[oldI] = newI
		strats[newI], keys[newI] = kd.strats[oldI], kd.keys[oldI]
	}
	kd.strats, kd.keys = strats, keys
	kd.cells = make([][]cell, len(kd.models))
	kd.current = make([]int, len(kd.models))
	for m := range kd.models {
		kd.current[m] = -1
		for j, s := range kd.ss[m] {
			s = renum[s]
			kd.ss[m][j] = s
			kd.cells[m] = addToCell(kd.cells[m], s, kd.ys[m][j])
			kd.current[m] = s
		}
	}
}

func addToCell(cells []cell, s int, y float64) []cell {
	for i := range cells {
		if cells[i].strat == s {
			cells[i].n++
			cells[i].sum += y
			return cells
		}
	}
	return append(cells, cell{strat: s, n: 1, sum: y})
}

// mainGroup returns, for each strategy, its position among the strategies
// the fit uses (-1 for the others), how many it uses, and how many it left
// out for being rare. It uses at most max strategies, those with the most
// runs (a pipeline that reports learned model weights could make every
// run a strategy of its own, and the fit is cubic in their number), and of
// those only the ones connected to the group with the most runs. Two
// strategies are connected when some model tried both (or through a chain
// of such models); only connected strategies have a within-model
// comparison, the rest are confounded with model effects.
func mainGroup(kd *kindData, limit int) (pos []int, n, rare int, unconnected []int) {
	S := len(kd.strats)
	runs := make([]int, S)
	for _, cells := range kd.cells {
		for _, c := range cells {
			runs[c.strat] += c.n
		}
	}
	kept := make([]bool, S)
	byRuns := make([]int, S)
	for i := range byRuns {
		byRuns[i] = i
	}
	slices.SortFunc(byRuns, func(a, b int) int { return cmp.Or(-cmp.Compare(runs[a], runs[b]), cmp.Compare(a, b)) })
	for i, s := range byRuns {
		if i < limit {
			kept[s] = true
		} else if runs[s] > 0 {
			rare++
		}
	}
	parent := make([]int, S)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, cells := range kd.cells {
		anchor := -1
		for _, c := range cells {
			if !kept[c.strat] {
				continue
			}
			if anchor < 0 {
				anchor = c.strat
			}
			a, b := find(anchor), find(c.strat)
			parent[max(a, b)] = min(a, b)
		}
	}
	groupRuns := make([]int, S)
	for s := range runs {
		if kept[s] {
			groupRuns[find(s)] += runs[s]
		}
	}
	best := 0
	for g := range groupRuns {
		if groupRuns[g] > groupRuns[best] {
			best = g
		}
	}
	pos = make([]int, S)
	for s := range pos {
		pos[s] = -1
		switch {
		case !kept[s] || runs[s] == 0:
		case find(s) == best:
			pos[s] = n
			n++
		default:
			unconnected = append(unconnected, s)
		}
	}
	return pos, n, rare, unconnected
}

// fitKind estimates the strategy effects of one kind by least squares with
// a fixed effect per model (two-way additive model score = model + strategy
// + noise), solved in the strategies' space after absorbing the model
// effects: C beta = r, C_st = n_s [s=t] - sum_m n_ms n_mt / n_m, r_s = sum_m
// (Y_ms - n_ms ybar_m). This is exact for any mix of strategies per model,
// where subtracting model means one run at a time would be biased.
func fitKind(cfg *Config, kind string, kd *kindData) (KindStrategy, bool) {
	pos, S, rare, unconnected := mainGroup(kd, cfg.MaxStrategies)
	if S < 2 {
		return KindStrategy{}, false
	}
	C := make([]float64, S*S)
	r := make([]float64, S)
	ns := make([]float64, S)
	nModels := make([]int, S)
	var N float64
	M := 0
	for m := range kd.cells {
		cells := usedCells(kd, pos, m)
		if len(cells) == 0 {
			continue
		}
		M++
		var nm, sum float64
		for _, c := range cells {
			nm += float64(c.n)
			sum += c.sum
		}
		ybar := sum / nm
		for _, c := range cells {
			s := pos[c.strat]
			ns[s] += float64(c.n)
			nModels[s]++
			r[s] += c.sum - float64(c.n)*ybar
			for _, d := range cells {
				C[s*S+pos[d.strat]] -= float64(c.n) * float64(d.n) / nm
			}
			C[s*S+s] += float64(c.n)
		}
		N += nm
	}
	// C is singular (its rows sum to zero: effects are defined up to a
	// constant). Adding n n^T / N pins the run-weighted mean effect to
	// zero, the kind's mean, without changing C beta = r.
	A := slices.Clone(C)
	for s := range S {
		for t := range S {
			A[s*S+t] += ns[s] * ns[t] / N
		}
	}
	G, ok := invert(A, S)
	if !ok {
		return KindStrategy{}, false
	}
	beta := make([]float64, S)
	for s := range S {
		for t := range S {
			beta[s] += G[s*S+t] * r[t]
		}
	}
	df := N - float64(M) - float64(S-1)
	if df < 1 {
		return KindStrategy{}, false
	}
	sigma2 := residualSS(kd, pos, beta) / df
	ks := KindStrategy{Kind: kind, Runs: int(N), Models: M, NoiseSD: math.Sqrt(sigma2), Rare: rare}
	ks.Candidates = shrink(cfg, kd, pos, beta, effectVariances(G, C, S, sigma2), ns, nModels, &ks)
	rankCandidates(&ks)
	ks.Targets = strategyGains(cfg, kd, pos, &ks)
	for _, s := range unconnected {
		ks.Unconnected = append(ks.Unconnected, kd.keys[s])
	}
	return ks, true
}

// usedCells returns model m's cells of the strategies in the fit, sharing
// kd's storage when all of them are.
func usedCells(kd *kindData, pos []int, m int) []cell {
	cells := kd.cells[m]
	for i, c := range cells {
		if pos[c.strat] < 0 {
			out := slices.Clone(cells[:i])
			for _, d := range cells[i+1:] {
				if pos[d.strat] >= 0 {
					out = append(out, d)
				}
			}
			return out
		}
	}
	return cells
}

// residualSS returns the residual sum of squares of the fitted model.
func residualSS(kd *kindData, pos []int, beta []float64) float64 {
	var ssr float64
	for m := range kd.cells {
		cells := usedCells(kd, pos, m)
		if len(cells) == 0 {
			continue
		}
		var nm, rest float64
		for _, c := range cells {
			nm += float64(c.n)
			rest += c.sum - float64(c.n)*beta[pos[c.strat]]
		}
		alpha := rest / nm
		for j, y := range kd.ys[m] {
			if p := pos[kd.ss[m][j]]; p >= 0 {
				e := y - alpha - beta[p]
				ssr += e * e
			}
		}
	}
	return ssr
}

// effectVariances returns the diagonal of sigma2 * G C G, the covariance
// of beta = G r when Cov(r) = sigma2 C.
func effectVariances(G, C []float64, S int, sigma2 float64) []float64 {
	v := make([]float64, S)
	for s := range S {
		var acc float64
		for i := range S {
			for j := range S {
				acc += G[s*S+i] * C[i*S+j] * G[j*S+s]
			}
		}
		v[s] = sigma2 * math.Max(acc, 0)
	}
	return v
}

// shrink turns the least-squares effects into candidates: each effect is
// shrunk toward the kind's mean (0) by empirical Bayes, with the spread of
// true effects tau^2 estimated by moments, (sum beta^2 - sum v) / (S-1),
// the James-Stein estimate. A strategy tried a few times keeps a posterior
// sd near tau, which its UCB turns into a reason to explore it.
func shrink(cfg *Config, kd *kindData, pos []int, beta, v, ns []float64, nModels []int, ks *KindStrategy) []StrategyEstimate {
	S := len(beta)
	var sumB2, sumV float64
	for s := range S {
		sumB2 += beta[s] * beta[s]
		sumV += v[s]
	}
	tau2 := math.Max(0, (sumB2-sumV)/float64(S-1))
	ks.PriorSD = math.Sqrt(tau2)
	out := make([]StrategyEstimate, 0, S)
	for s, p := range pos {
		if p < 0 {
			continue
		}
		shrunk, post := beta[p], 0.0
		if d := v[p] + tau2; d > 0 {
			shrunk = beta[p] * tau2 / d
			post = v[p] * tau2 / d
		}
		out = append(out, StrategyEstimate{
			Strategy:    kd.strats[s],
			Key:         kd.keys[s],
			Runs:        int(ns[p]),
			Models:      nModels[p],
			Effect:      beta[p],
			StdErr:      math.Sqrt(v[p]),
			Shrunk:      shrunk,
			PosteriorSD: math.Sqrt(post),
			UCB:         shrunk + cfg.StrategyUCBZ*math.Sqrt(post),
		})
	}
	return out
}

// rankCandidates orders the candidates by UCB (ties: shrunk effect, more
// runs, key) and names the first the recommendation.
func rankCandidates(ks *KindStrategy) {
	byUCB := func(a, b StrategyEstimate) int {
		return cmp.Or(-cmp.Compare(a.UCB, b.UCB), -cmp.Compare(a.Shrunk, b.Shrunk),
			-cmp.Compare(a.Runs, b.Runs), cmp.Compare(a.Key, b.Key))
	}
	slices.SortFunc(ks.Candidates, byUCB)
	best := ks.Candidates[0]
	ks.Strategy, ks.Key = best.Strategy, best.Key
	bestMean := slices.MinFunc(ks.Candidates, func(a, b StrategyEstimate) int {
		return cmp.Or(-cmp.Compare(a.Shrunk, b.Shrunk), -cmp.Compare(a.Runs, b.Runs), cmp.Compare(a.Key, b.Key))
	})
	ks.Exploring = bestMean.Key != best.Key
}

// strategyGains is the expected improvement of every model of the kind
// whose current strategy is comparable, if it switched to the
// recommendation.
func strategyGains(cfg *Config, kd *kindData, pos []int, ks *KindStrategy) []StrategyGain {
	shrunk := make(map[string]float64, len(ks.Candidates))
	for _, c := range ks.Candidates {
		shrunk[c.Key] = c.Shrunk
	}
	out := []StrategyGain{}
	buf := make([]float64, 0, cfg.BaselineRuns)
	for m, ms := range kd.models {
		cur := kd.current[m]
		if cur < 0 || pos[cur] < 0 {
			continue
		}
		level := math.Max(math.Abs(median(ms.scores[max(0, len(ms.scores)-cfg.BaselineRuns):], buf)), cfg.ScaleFloor)
		gain := shrunk[ks.Key] - shrunk[kd.keys[cur]]
		out = append(out, StrategyGain{
			ModelKey:            ms.key,
			Current:             kd.keys[cur],
			ExpectedImprovement: gain,
			RelativeImprovement: gain / level,
			Level:               level,
		})
	}
	return out
}
