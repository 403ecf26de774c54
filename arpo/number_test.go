package arpo

import (
	"encoding/json"
	"math"
	"testing"
)

// numberCases are numbers on either side of the points where
// encoding/json changes how it writes a float64.
var numberCases = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.0 / 3, -2.5e-3, 1e-6, 9.99999e-7, -1e-7, 1e-9,
	5e-324, 1e20, 1e21, -1.5e21, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.000001234, 1e-10}

// TestNumberEncodesAsFloat64 checks that a defined Number is written with
// the bytes encoding/json writes for the same float64, so stored insights
// read the same as before Number formatted itself.
func TestNumberEncodesAsFloat64(t *testing.T) {
	for _, f := range numberCases {
		checkNumber(t, f)
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got, err := json.Marshal(Number(f)); err != nil || string(got) != "null" {
			t.Errorf("Number(%v) = %s, %v; want null", f, got, err)
		}
	}
}

func FuzzNumberEncodesAsFloat64(f *testing.F) {
	for _, x := range numberCases {
		f.Add(math.Float64bits(x))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		if x := math.Float64frombits(bits); !math.IsNaN(x) && !math.IsInf(x, 0) {
			checkNumber(t, x)
		}
	})
}

func checkNumber(t *testing.T, f float64) {
	t.Helper()
	want, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(Number(f))
	if err != nil || string(got) != string(want) {
		t.Errorf("Number(%v) = %s, %v; want %s", f, got, err, want)
	}
}
