package portfolio

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// Merge is one row of a hierarchical-clustering linkage in scipy's format:
// merge i joins clusters Left and Right (Left < Right) at Distance into a
// new cluster numbered n + i holding Size leaves; ids below n are leaves.
type Merge struct {
	Left, Right int
	Distance    float64
	Size        int
}

// HRPResult is a Hierarchical Risk Parity allocation with the intermediate
// results that explain it.
type HRPResult struct {
	// Weights are in the input's asset order and sum to 1.
	Weights []float64
	// Order is the quasi-diagonal order: asset indices as the leaves of the
	// linkage tree read left to right.
	Order []int
	// Linkage is the single-linkage clustering, in scipy's format.
	Linkage []Merge
}

// HRP allocates by Lopez de Prado's Hierarchical Risk Parity ("Building
// diversified portfolios that outperform out of sample", 2016) exactly as
// PyPortfolioOpt's HRPOpt does, so that its reference weights are
// reproduced: distances sqrt(clip((1 - corr)/2, 0, 1)), scipy's single
// linkage, leaves in pre-order, then recursive bisection of the ordered list
// (not of the tree) where each half gets weight in inverse proportion to its
// cluster variance. cov and corr are of per-period returns (SampleCov with
// periodsPerYear 1 and SampleCorr); the scale of cov does not change the
// weights.
func HRP(cov, corr mat.Symmetric) (*HRPResult, error) {
	if err := checkCov(cov); err != nil {
		return nil, err
	}
	n := cov.SymmetricDim()
	if corr.SymmetricDim() != n {
		return nil, invalidf("%dx%d correlation for a %dx%d covariance", corr.SymmetricDim(), corr.SymmetricDim(), n, n)
	}
	dist := make([]float64, n*(n-1)/2)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			c := corr.At(i, j)
			if math.IsNaN(c) {
				return nil, invalidf("correlation of assets %d and %d is NaN", i, j)
			}
			dist[condensed(n, i, j)] = math.Sqrt(math.Min(math.Max((1-c)/2, 0), 1))
		}
	}
	link := SingleLinkage(dist, n)
	order := QuasiDiagonal(link, n)
	return &HRPResult{Weights: bisect(cov, order), Order: order, Linkage: link}, nil
}

// condensed is the index of pair (i, j), i < j, in a condensed distance
// vector (scipy's squareform layout: rows of the upper triangle).
func condensed(n, i, j int) int {
	return n*i - i*(i+1)/2 + j - i - 1
}

// SingleLinkage clusters n points given their condensed distance vector
// (scipy's layout, length n(n-1)/2) and returns scipy's linkage. It follows
// scipy.cluster.hierarchy.linkage(method="single") step for step: Prim's
// minimum spanning tree from point 0, a stable sort of the edges by
// distance, then union-find relabelling that numbers merge i as n + i and
// lists the smaller id first. The tie-breaking therefore matches scipy's,
// which matters for the leaf order HRP bisects.
func SingleLinkage(dist []float64, n int) []Merge {
	if n < 2 {
		return nil
	}
	edges := make([]Merge, n-1)
	merged := make([]bool, n)
	d := make([]float64, n)
	for i := range d {
		d[i] = math.Inf(1)
	}
	x := 0
	for k := 0; k < n-1; k++ {
		merged[x] = true
		y, best := -1, math.Inf(1)
		for i := 0; i < n; i++ {
			if merged[i] {
				continue
			}
			lo, hi := min(x, i), max(x, i)
			if v := dist[condensed(n, lo, hi)]; d[i] > v {
				d[i] = v
			}
			if y < 0 || d[i] < best {
				y, best = i, d[i]
			}
		}
		edges[k] = Merge{Left: x, Right: y, Distance: best}
		x = y
	}
	sort.SliceStable(edges, func(i, j int) bool { return edges[i].Distance < edges[j].Distance })
	relabel(edges, n)
	return edges
}

// relabel replaces the points of each MST edge by the clusters that hold
// them when the edge is merged, as scipy's label() does.
func relabel(edges []Merge, n int) {
	parent := make([]int, 2*n-1)
	size := make([]int, 2*n-1)
	for i := range parent {
		parent[i] = i
		size[i] = 1
	}
	find := func(x int) int {
		root := x
		for parent[root] != root {
			root = parent[root]
		}
		for parent[x] != root {
			parent[x], x = root, parent[x]
		}
		return root
	}
	for i := range edges {
		a, b := find(edges[i].Left), find(edges[i].Right)
		next := n + i
		parent[a], parent[b] = next, next
		size[next] = size[a] + size[b]
		edges[i].Left, edges[i].Right = min(a, b), max(a, b)
		edges[i].Size = size[next]
	}
}

// QuasiDiagonal returns the leaves of a linkage in pre-order, left child
// first (scipy's to_tree(link).pre_order()). Reordering the covariance this
// way puts similar assets next to each other, so its large entries gather
// along the diagonal.
func QuasiDiagonal(link []Merge, n int) []int {
	if n == 1 {
		return []int{0}
	}
	order := make([]int, 0, n)
	stack := []int{n + len(link) - 1}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id < n {
			order = append(order, id)
			continue
		}
		m := link[id-n]
		stack = append(stack, m.Right, m.Left)
	}
	return order
}

// bisect splits the ordered list in halves (the first half gets the
// shorter half when the length is odd, as Python's len // 2), level by
// level, scaling each half by its share of the inverse cluster variance.
func bisect(cov mat.Symmetric, order []int) []float64 {
	w := make([]float64, cov.SymmetricDim())
	for _, i := range order {
		w[i] = 1
	}
	clusters := [][]int{order}
	for len(clusters) > 0 {
		var next [][]int
		for _, c := range clusters {
			if len(c) < 2 {
				continue
			}
			left, right := c[:len(c)/2], c[len(c)/2:]
			vl, vr := ClusterVariance(cov, left), ClusterVariance(cov, right)
			alpha := 1 - vl/(vl+vr)
			for _, i := range left {
				w[i] *= alpha
			}
			for _, i := range right {
				w[i] *= 1 - alpha
			}
			next = append(next, left, right)
		}
		clusters = next
	}
	return w
}

// ClusterVariance returns the variance of the inverse-variance portfolio
// of the given assets: weights proportional to 1/S_ii, which is optimal
// when the assets are uncorrelated, the assumption HRP makes within a
// cluster.
func ClusterVariance(cov mat.Symmetric, items []int) float64 {
	w := make([]float64, len(items))
	sum := 0.0
	for k, i := range items {
		w[k] = 1 / cov.At(i, i)
		sum += w[k]
	}
	v := 0.0
	for k, i := range items {
		for l, j := range items {
			v += w[k] * w[l] * cov.At(i, j)
		}
	}
	return v / (sum * sum)
}
