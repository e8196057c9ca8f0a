package baseline

import (
	"math"
	"slices"
)

// madScale makes the median absolute deviation estimate the standard
// deviation of normally distributed data, so a robust score reads like a
// z-score.
const madScale = 1.4826

// median returns the median of xs, sorting xs in place; NaN when empty.
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return math.NaN()
	}
	sortFloats(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// sortFloats sorts xs, which holds no NaN. Most lists are a history of at
// most 14 days or a small peer group: an insertion sort of those costs a
// third of slices.Sort's.
func sortFloats(xs []float64) {
	if len(xs) > 32 {
		slices.Sort(xs)
		return
	}
	for i := 1; i < len(xs); i++ {
		x := xs[i]
		j := i
		for ; j > 0 && xs[j-1] > x; j-- {
			xs[j] = xs[j-1]
		}
		xs[j] = x
	}
}

// medianMAD returns the median of xs and the median absolute deviation from
// it. xs is reordered and scratch reused; both NaN when xs is empty.
func medianMAD(xs, scratch []float64) (med, mad float64, _ []float64) {
	med = median(xs)
	n := len(xs)
	if n == 0 {
		return med, math.NaN(), scratch
	}
	// xs is sorted now: the deviations below the median grow leftwards
	// from it and those above rightwards, so merging the two runs outwards
	// lists them in order, and the merge stops at the middle one.
	r := 0
	for r < n && xs[r] < med {
		r++
	}
	l := r - 1
	scratch = scratch[:0]
	for len(scratch) <= n/2 {
		if l >= 0 && (r == n || med-xs[l] <= xs[r]-med) {
			scratch = append(scratch, med-xs[l])
			l--
		} else {
			scratch = append(scratch, xs[r]-med)
			r++
		}
	}
	if n%2 == 1 {
		return med, scratch[n/2], scratch
	}
	return med, (scratch[n/2-1] + scratch[n/2]) / 2, scratch
}

// norm is a robust reference distribution: its centre, its spread and the
// number of values behind them.
type norm struct {
	med, mad float64
	n        int
}

// scale is the spread a score divides by: the MAD in standard-deviation
// units, but never less than minScale, and for counts never less than the
// Poisson spread sqrt(median), so a norm of zeros (every peer saw no one
// without a ticket) does not make one look infinitely unusual.
func (r norm) scale(minScale float64, count bool) float64 {
	s := max(madScale*r.mad, minScale)
	if count {
		s = max(s, math.Sqrt(r.med))
	}
	return s
}

// score is how many spreads x lies above the norm.
func (r norm) score(x, minScale float64, count bool) float64 {
	return (x - r.med) / r.scale(minScale, count)
}

// threshold is the value at which a score reaches sig.
func (r norm) threshold(sig, minScale float64, count bool) float64 {
	return r.med + sig*r.scale(minScale, count)
}
