package portfolio

import (
	"errors"
	"math"
	"testing"
)

// lineDistances is the condensed distance vector of points on a line.
func lineDistances(pos []float64) []float64 {
	n := len(pos)
	d := make([]float64, 0, n*(n-1)/2)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			d = append(d, math.Abs(pos[i]-pos[j]))
		}
	}
	return d
}

func TestSingleLinkage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		pos   []float64
		link  []Merge
		order []int
	}{
		// Points 0, 1, 3, 7: {0,1} at 1 becomes cluster 4, point 2 joins it
		// at 2 (cluster 5), point 3 joins at 4. scipy lists the smaller id
		// first, so the leaves read 3, 2, 0, 1.
		{"line", []float64{0, 1, 3, 7}, []Merge{{0, 1, 1, 2}, {2, 4, 2, 3}, {3, 5, 4, 4}}, []int{3, 2, 0, 1}},
		// Two pairs far apart: {2,3} merges first (distance 0.5) as cluster
		// 4, {0,1} second as 5, and the root lists 4 before 5.
		{"two pairs", []float64{0, 1, 10, 10.5}, []Merge{{2, 3, 0.5, 2}, {0, 1, 1, 2}, {4, 5, 9, 4}}, []int{2, 3, 0, 1}},
		{"one point", []float64{0}, nil, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			link := SingleLinkage(lineDistances(tt.pos), len(tt.pos))
			if len(link) != len(tt.link) {
				t.Fatalf("linkage %v, want %v", link, tt.link)
			}
			for i := range link {
				if link[i] != tt.link[i] {
					t.Errorf("merge %d = %+v, want %+v", i, link[i], tt.link[i])
				}
			}
			order := QuasiDiagonal(link, len(tt.pos))
			for i := range tt.order {
				if order[i] != tt.order[i] {
					t.Errorf("order = %v, want %v", order, tt.order)
					break
				}
			}
		})
	}
}

func TestHRPUncorrelated(t *testing.T) {
	t.Parallel()
	// Uncorrelated assets with variances 1, 2, 4: every distance is
	// sqrt(1/2), so ties decide the tree as in scipy: (0, 1) merge first,
	// then 2 joins, giving leaves 2, 0, 1. Bisection: {2} (variance 4)
	// against {0, 1} (inverse-variance weights 2/3, 1/3, variance
	// 4/9 + 2/9 = 2/3) gives {2} 1 - 4/(4 + 2/3) = 1/7; then {0} against
	// {1} splits the remaining 6/7 as 2/3 and 1/3. HRP reduces to the
	// inverse-variance portfolio (4, 2, 1)/7, as it should without
	// correlation.
	cov := sym(3, 1, 0, 0, 0, 2, 0, 0, 0, 4)
	corr := sym(3, 1, 0, 0, 0, 1, 0, 0, 0, 1)
	res, err := HRP(cov, corr)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, "weights", res.Weights, []float64{4.0 / 7, 2.0 / 7, 1.0 / 7}, 1e-15)
	if got, want := res.Order, []int{2, 0, 1}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestHRPOrderedBisection(t *testing.T) {
	t.Parallel()
	// Two correlated pairs, {0, 2} (rho 0.9) and {1, 3} (rho 0.8), nearly
	// uncorrelated across. Bisecting the file order [0 1 2 3] would mix
	// the pairs in each half; bisecting the quasi-diagonal order keeps
	// them together.
	vol := []float64{0.1, 0.2, 0.1, 0.2}
	rho := [][]float64{
		{1, 0.1, 0.9, 0.1},
		{0.1, 1, 0.1, 0.8},
		{0.9, 0.1, 1, 0.1},
		{0.1, 0.8, 0.1, 1},
	}
	cov, corr := sym(4, make([]float64, 16)...), sym(4, make([]float64, 16)...)
	for i := 0; i < 4; i++ {
		for j := i; j < 4; j++ {
			corr.SetSym(i, j, rho[i][j])
			cov.SetSym(i, j, rho[i][j]*vol[i]*vol[j])
		}
	}
	res, err := HRP(cov, corr)
	if err != nil {
		t.Fatal(err)
	}
	// Distances sqrt((1 - rho)/2): {0,2} -> cluster 4 at sqrt(0.05),
	// {1,3} -> 5 at sqrt(0.1), root (4, 5) at sqrt(0.45). Leaves in
	// pre-order: 0, 2, 1, 3.
	want := []int{0, 2, 1, 3}
	for i := range want {
		if res.Order[i] != want[i] {
			t.Fatalf("order = %v, want %v", res.Order, want)
		}
	}
	// Halves {0,2} and {1,3}: within each the two assets are identical, so
	// each gets half of its half; across, inverse cluster variance:
	// var{0,2} = 0.01 (1 + 0.9)/2 = 0.0095, var{1,3} = 0.04 (1 + 0.8)/2 =
	// 0.036, alpha = 1 - 0.0095/0.0455 = 0.036/0.0455.
	alpha := 0.036 / 0.0455
	closeAll(t, "weights", res.Weights, []float64{alpha / 2, (1 - alpha) / 2, alpha / 2, (1 - alpha) / 2}, 1e-14)
}

func TestHRPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cov, corr []float64
		n         int
	}{
		{"NaN correlation", []float64{1, 0, 0, 1}, []float64{1, nan, nan, 1}, 2},
		{"zero variance", []float64{0, 0, 0, 1}, []float64{1, 0, 0, 1}, 2},
	}
	for _, tt := range tests {
		if _, err := HRP(sym(tt.n, tt.cov...), sym(tt.n, tt.corr...)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tt.name, err)
		}
	}
	if _, err := HRP(sym(2, 1, 0, 0, 1), sym(1, 1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("mismatched sizes: error %v, want ErrInvalid", err)
	}
}
