package breach

import (
	"math"
	"math/big"
	"testing"
)

// exactTail computes P(X >= k) exactly with big rationals.
func exactTail(pop, succ, draws, k int) float64 {
	num := new(big.Int)
	for x := k; x <= min(draws, succ); x++ {
		t := new(big.Int).Binomial(int64(succ), int64(x))
		t.Mul(t, new(big.Int).Binomial(int64(pop-succ), int64(draws-x)))
		num.Add(num, t)
	}
	r := new(big.Rat).SetFrac(num, new(big.Int).Binomial(int64(pop), int64(draws)))
	f, _ := r.Float64()
	return f
}

func TestHypergeomTail(t *testing.T) {
	for _, c := range [][4]int{
		{100, 10, 20, 0}, {100, 10, 20, 1}, {100, 10, 20, 2}, {100, 10, 20, 5}, {100, 10, 20, 10},
		{1000, 50, 300, 15}, {1000, 50, 300, 40}, {1000, 50, 950, 49}, {1000, 50, 950, 50},
		{500, 80, 80, 80}, {3000, 80, 2400, 64}, {3000, 80, 350, 62}, {60, 60, 60, 60}, {10, 3, 9, 2},
	} {
		got := hypergeomTail(c[0], c[1], c[2], c[3])
		want := math.Log10(exactTail(c[0], c[1], c[2], c[3]))
		if math.Abs(got-want) > 1e-6*max(1, math.Abs(want)) {
			t.Errorf("tail%v: log10 p = %.9g, want %.9g", c, got, want)
		}
	}
	if got := hypergeomTail(100, 10, 20, 11); !math.IsInf(got, -1) {
		t.Errorf("impossible coverage: %v", got)
	}
	// Inputs from approximate counts are clamped, not NaN.
	for _, c := range [][4]int{{10, 20, 30, 5}, {0, 0, 0, 0}, {5, 3, -1, 1}} {
		if v := hypergeomTail(c[0], c[1], c[2], c[3]); math.IsNaN(v) || v > 0 {
			t.Errorf("tail%v = %v", c, v)
		}
	}
	if s := surprise(math.Inf(-1)); s != maxScore {
		t.Errorf("surprise(-inf) = %v", s)
	}
}
