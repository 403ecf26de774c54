package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

// runCmd runs the command newCmd builds, in-process, and returns what it
// printed and its error.
func runCmd(t *testing.T, newCmd func(*env) *cobra.Command, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newCmd(&env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// allocateJSON runs `allocate --json` and decodes its output.
func allocateJSON(t *testing.T, args ...string) allocationJSON {
	t.Helper()
	out, _, err := runCmd(t, newAllocateCmd, "", append(args, "--json")...)
	if err != nil {
		t.Fatalf("allocate %v: %v", args, err)
	}
	var got allocationJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("decode allocate --json: %v\n%s", err, out)
	}
	return got
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Abs(want)
}

// The expected numbers below are PyPortfolioOpt's reference results on
// stock_prices_2018.csv, as listed in ../shared/data/README.md, with its
// tolerances: relative 1e-4, 1e-2 for HRP weights, 7 decimals for the
// cluster variance.

func TestAllocateReferenceMinVolatility(t *testing.T) {
	t.Parallel()
	path := shareddata.Path(t, "pypfopt/stock_prices_2018.csv")
	got := allocateJSON(t, "--prices", path, "--method", "min-volatility", "--cov", "sample", "--rf", "0.02")
	checkPerformance(t, "min volatility", got, 0.15056821399482578, 0.15915084514118694, 0.8204054077060996)
	sum := 0.0
	for a, w := range got.Weights {
		if w < 0 || w > 1 {
			t.Errorf("weight of %s = %v, outside [0, 1]", a, w)
		}
		sum += w
	}
	if len(got.Weights) != 20 || math.Abs(sum-1) > 1e-9 {
		t.Errorf("%d weights summing to %v, want 20 summing to 1", len(got.Weights), sum)
	}
}

func TestAllocateReferenceHRP(t *testing.T) {
	t.Parallel()
	path := shareddata.Path(t, "pypfopt/stock_prices_2018.csv")
	want := readWeights(t, shareddata.Path(t, "pypfopt/weights_hrp.csv"))
	got := allocateJSON(t, "--prices", path, "--method", "hrp", "--rf", "0.02")
	if len(got.Weights) != len(want) {
		t.Fatalf("%d weights, reference has %d", len(got.Weights), len(want))
	}
	worst := 0.0
	for a, w := range want {
		g, ok := got.Weights[a]
		if !ok {
			t.Errorf("no weight for %s", a)
			continue
		}
		worst = math.Max(worst, math.Abs(g/w-1))
		if !relClose(g, w, 1e-2) {
			t.Errorf("HRP weight of %s = %.6g, want %.6g (rel tol 1e-2)", a, g, w)
		}
	}
	t.Logf("largest relative error of an HRP weight: %.1e", worst)
	checkPerformance(t, "HRP", got, 0.21353402380950973, 0.17844159743748936, 1.084579081272277)

	if got.HRP == nil {
		t.Fatal("no hrp section in the JSON")
	}
	if first := got.HRP.OrderIndex[:5]; !slices.Equal(first, []int{12, 6, 15, 14, 2}) {
		t.Errorf("quasi-diagonal order starts %v (%v), want [12 6 15 14 2]", first, got.HRP.Order[:5])
	}
	cluster := []string{"SHLD", "AMD", "BBY", "RRC", "FB", "WMT", "T", "BABA", "PFE", "UAA"}
	found := false
	for _, b := range got.HRP.Bisections {
		for _, side := range []struct {
			names []string
			v     float64
		}{{b.Left, b.LeftVariance}, {b.Right, b.RightVariance}} {
			if sameSet(side.names, cluster) {
				found = true
				t.Logf("cluster variance of %v = %.17g", side.names, side.v)
				if want := 0.00012842967106653283; math.Abs(side.v-want) > 0.5e-7 {
					t.Errorf("cluster variance %.17g, want %.17g (7 decimals)", side.v, want)
				}
			}
		}
	}
	if !found {
		t.Errorf("no bisection produced the cluster %v", cluster)
	}
}

func checkPerformance(t *testing.T, name string, got allocationJSON, ret, vol, sharpe float64) {
	t.Helper()
	p := got.Performance
	for _, c := range []struct {
		what      string
		got, want float64
	}{{"expected return", p.ExpectedReturn, ret}, {"volatility", p.Volatility, vol}, {"sharpe", p.Sharpe, sharpe}} {
		t.Logf("%s %s = %.17g, reference %.17g, relative error %.1e", name, c.what, c.got, c.want, math.Abs(c.got/c.want-1))
		if !relClose(c.got, c.want, 1e-4) {
			t.Errorf("%s %s = %.17g, want %.17g (rel tol 1e-4)", name, c.what, c.got, c.want)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// readWeights reads a two-column ticker,weight file with a header row.
func readWeights(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for i, rec := range recs[1:] {
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			t.Fatalf("%s line %d: %v", path, i+2, err)
		}
		out[rec[0]] = v
	}
	return out
}

// smallPrices is a price table of three assets over 60 days, the last
// listed on day 10, for the tests that must run without ../shared/data.
func smallPrices() string {
	var b strings.Builder
	b.WriteString("date,AAA,BBB,CCC\n")
	p := [3]float64{100, 50, 20}
	for d := range 60 {
		fmt.Fprintf(&b, "2024-%02d-%02d", 1+d/28, 1+d%28)
		for a := range p {
			// Deterministic, distinct paths: a drift and a wobble per asset.
			p[a] *= 1 + 0.001*float64(a+1) + 0.01*math.Sin(float64(d*(a+2)))
			if a == 2 && d < 10 {
				b.WriteString(",")
				continue
			}
			fmt.Fprintf(&b, ",%.4f", p[a])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestAllocateMethods runs every method with both estimators on the small
// table from standard input: weights long-only and summing to 1, risk
// parity with equal risk shares, and a readable table by default.
func TestAllocateMethods(t *testing.T) {
	t.Parallel()
	for _, m := range []string{"min-volatility", "max-sharpe", "risk-parity", "hrp"} {
		for _, c := range []string{"sample", "ledoit-wolf"} {
			out, _, err := runCmd(t, newAllocateCmd, smallPrices(), "--prices", "-", "--method", m, "--cov", c, "--rf", "0", "--json")
			if err != nil {
				t.Errorf("%s/%s: %v", m, c, err)
				continue
			}
			var got allocationJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%s/%s: %v", m, c, err)
			}
			sum := 0.0
			for a, w := range got.Weights {
				if w < -1e-12 {
					t.Errorf("%s/%s: weight of %s = %v", m, c, a, w)
				}
				sum += w
			}
			if len(got.Weights) != 3 || math.Abs(sum-1) > 1e-9 || !(got.Performance.Volatility > 0) {
				t.Errorf("%s/%s: weights %v, performance %+v", m, c, got.Weights, got.Performance)
			}
			if m == "risk-parity" {
				for a, rc := range got.RiskContributions {
					if math.Abs(rc-1.0/3) > 1e-6 {
						t.Errorf("%s/%s: risk share of %s = %v, want 1/3", m, c, a, rc)
					}
				}
			}
			if (c == "ledoit-wolf") != (got.Shrinkage != nil) {
				t.Errorf("%s/%s: shrinkage %v", m, c, got.Shrinkage)
			}
		}
	}
	out, _, err := runCmd(t, newAllocateCmd, smallPrices(), "--prices", "-", "--method", "hrp")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hrp allocation of 3 assets", "ASSET", "AAA", "Expected annual return:", "Sharpe ratio:", "Quasi-diagonal order:"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestAllocateBadInput checks that mistakes give a clear error, not a
// panic, and that mistakes in the command line are usage errors.
func TestAllocateBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("date,A,B\n2024-01-01,1,2\n2024-01-02,1.1,x\n2024-01-03,1.2,2.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short.csv")
	if err := os.WriteFile(short, []byte("date,A,B\n2024-01-01,1,2\n2024-01-02,1.1,2.1\n2024-01-03,1.2,\n2024-01-04,1.3,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no prices", []string{"--method", "hrp"}, true, "--prices FILE is required"},
		{"no method", []string{"--prices", bad}, true, "--method is required"},
		{"unknown method", []string{"--prices", bad, "--method", "equal"}, true, `unknown allocation method "equal"`},
		{"unknown cov", []string{"--prices", bad, "--method", "hrp", "--cov", "oas"}, true, `unknown covariance estimator "oas"`},
		{"bad rf", []string{"--prices", bad, "--method", "hrp", "--rf", "NaN"}, true, "--rf"},
		{"missing file", []string{"--prices", filepath.Join(dir, "none.csv"), "--method", "hrp"}, false, "no such file"},
		{"non-numeric cell", []string{"--prices", bad, "--method", "hrp"}, false, "line 3, column 3 (B)"},
		{"too few returns", []string{"--prices", short, "--method", "min-volatility"}, false, "asset B has too few returns (1)"},
		{"extra argument", []string{"--prices", bad, "--method", "hrp", "extra"}, true, "accepts 0 arg"},
	}
	for _, tt := range tests {
		_, _, err := runCmd(t, newAllocateCmd, "", tt.args...)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		var ue usageError
		if isUsage := errors.As(err, &ue); isUsage != tt.usage {
			t.Errorf("%s: usage error %v, want %v (%v)", tt.name, isUsage, tt.usage, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q lacks %q", tt.name, err, tt.want)
		}
	}
}
