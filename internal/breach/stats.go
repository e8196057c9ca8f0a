package breach

import "math"

// hypergeomTail returns log10 of P(X >= k) for X ~ Hypergeometric(pop,
// succ, draws): the chance that an actor who saw draws distinct customers,
// picked at random from a population of pop, would have seen at least k of
// the succ leaked ones. Arguments are clamped into the distribution's
// support, so approximate inputs cannot produce NaN.
func hypergeomTail(pop, succ, draws, k int) float64 {
	pop = max(pop, 1)
	succ = min(max(succ, 0), pop)
	draws = min(max(draws, 0), pop)
	lo := max(0, draws+succ-pop)
	hi := min(draws, succ)
	if k <= lo {
		return 0
	}
	if k > hi {
		return math.Inf(-1)
	}
	norm := lchoose(pop, draws)
	term := func(x int) float64 { // natural log of P(X = x)
		return lchoose(succ, x) + lchoose(pop-succ, draws-x) - norm
	}
	mode := int(float64(draws+1) * float64(succ+1) / float64(pop+2))
	if k > mode {
		// Terms fall from k on: sum until they stop mattering.
		return logSumDown(term, k, hi) / math.Ln10
	}
	// k is at or below the mode, so P(X >= k) is at least about a half:
	// compute it as 1 - P(X < k) to keep precision.
	lower := math.Exp(logSumDown(term, k-1, lo))
	if lower >= 1 {
		return math.Log10(math.SmallestNonzeroFloat64)
	}
	return math.Log1p(-lower) / math.Ln10
}

// logSumDown sums exp(term(x)) for x from start towards stop (in either
// direction) in log space, stopping once terms no longer change the sum.
func logSumDown(term func(int) float64, start, stop int) float64 {
	step := 1
	if stop < start {
		step = -1
	}
	sum := math.Inf(-1)
	for x := start; ; x += step {
		t := term(x)
		sum = logAdd(sum, t)
		if t < sum-40 || x == stop { // e^-40: far below float64 precision
			break
		}
	}
	return sum
}

func logAdd(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if b > a {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

func lchoose(n, k int) float64 {
	if k < 0 || k > n {
		return math.Inf(-1)
	}
	return lgamma(n+1) - lgamma(k+1) - lgamma(n-k+1)
}

func lgamma(n int) float64 {
	v, _ := math.Lgamma(float64(n))
	return v
}

// surprise turns a log10 probability into the score reported: -log10 p,
// never negative, capped so JSON stays finite.
func surprise(log10p float64) float64 {
	if math.IsInf(log10p, -1) || -log10p > maxScore {
		return maxScore
	}
	return max(0, -log10p)
}

const maxScore = 1000

// binomTail returns log10 of P(X >= k) for X ~ Binomial(n, q).
func binomTail(n int, q float64, k int) float64 {
	switch {
	case k <= 0:
		return 0
	case k > n:
		return math.Inf(-1)
	case q <= 0:
		return math.Inf(-1)
	case q >= 1:
		return 0
	}
	lq, lr := math.Log(q), math.Log1p(-q)
	term := func(x int) float64 { return lchoose(n, x) + float64(x)*lq + float64(n-x)*lr }
	mode := int(float64(n+1) * q)
	if k > mode {
		return logSumDown(term, k, n) / math.Ln10
	}
	lower := math.Exp(logSumDown(term, k-1, 0))
	if lower >= 1 {
		return math.Log10(math.SmallestNonzeroFloat64)
	}
	return math.Log1p(-lower) / math.Ln10
}
