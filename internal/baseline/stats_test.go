package baseline

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/custos-io/custos/internal/event"
)

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9 && !(math.IsNaN(got) && math.IsNaN(want)) {
		t.Errorf("%s = %.10g, want %.10g", what, got, want)
	}
}

func TestMedian(t *testing.T) {
	approx(t, "odd", median([]float64{3, 1, 2}), 2)
	approx(t, "even", median([]float64{4, 1, 3, 2}), 2.5)
	approx(t, "one", median([]float64{7}), 7)
	approx(t, "empty", median(nil), math.NaN())
}

func TestMedianMAD(t *testing.T) {
	// Deviations from 3 are 2,1,0,1,97: the outlier moves neither.
	med, mad, _ := medianMAD([]float64{1, 2, 3, 4, 100}, nil)
	approx(t, "median", med, 3)
	approx(t, "mad", mad, 1)
	// 2,4,4,4,5,5,7,9: median 4.5; deviations 2.5,.5,.5,.5,.5,.5,2.5,4.5 -> 0.5.
	med, mad, _ = medianMAD([]float64{2, 4, 4, 4, 5, 5, 7, 9}, nil)
	approx(t, "median", med, 4.5)
	approx(t, "mad", mad, 0.5)
	med, mad, _ = medianMAD(nil, nil)
	if !math.IsNaN(med) || !math.IsNaN(mad) {
		t.Errorf("empty: %v %v, want NaN NaN", med, mad)
	}
}

// TestMedianMADAgainstSort checks the merge of deviations against sorting
// them, bit for bit, on lists with ties, fractions and outliers.
func TestMedianMADAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var scratch []float64
	for k := range 20000 {
		n := 1 + k%70
		xs := make([]float64, n)
		for i := range xs {
			switch rng.IntN(4) {
			case 0:
				xs[i] = float64(rng.IntN(5))
			case 1:
				xs[i] = float64(float32(rng.Float64() * 10))
			case 2:
				xs[i] = rng.Float64() * 1000
			default:
				xs[i] = float64(rng.IntN(40))
			}
		}
		ref := slices.Clone(xs)
		slices.Sort(ref)
		wmed := ref[n/2]
		if n%2 == 0 {
			wmed = (ref[n/2-1] + ref[n/2]) / 2
		}
		dev := make([]float64, n)
		for i, x := range ref {
			dev[i] = math.Abs(x - wmed)
		}
		slices.Sort(dev)
		wmad := dev[n/2]
		if n%2 == 0 {
			wmad = (dev[n/2-1] + dev[n/2]) / 2
		}
		var med, mad float64
		med, mad, scratch = medianMAD(xs, scratch)
		if math.Float64bits(med) != math.Float64bits(wmed) || math.Float64bits(mad) != math.Float64bits(wmad) {
			t.Fatalf("medianMAD(%v) = %v, %v; want %v, %v", ref, med, mad, wmed, wmad)
		}
		if !slices.Equal(xs, ref) {
			t.Fatalf("xs left unsorted: %v", xs)
		}
	}
}

func TestNormScore(t *testing.T) {
	n := norm{med: 3, mad: 1}
	approx(t, "scale", n.scale(0.5, false), 1.4826)
	approx(t, "score", n.score(9, 0.5, false), 6/1.4826)
	approx(t, "threshold", n.threshold(4, 0.5, false), 3+4*1.4826)
	// A norm of all-equal values has no spread: the floor decides.
	z := norm{med: 2, mad: 0}
	approx(t, "min scale", z.scale(1.5, true), 1.5)
	approx(t, "score with floor", z.score(20, 1.5, true), 12)
	// For counts the spread is at least Poisson's: sqrt(16) = 4.
	p := norm{med: 16, mad: 0}
	approx(t, "poisson", p.score(30, 1, true), 3.5)
	approx(t, "not a count", p.score(30, 1, false), 14)
}

func TestDayRing(t *testing.T) {
	var r dayRing
	for i := range 20 { // wraps: keeps 6..19
		r.push(float64(i), false)
	}
	got, seasonal := r.values(nil, false, 5)
	slices.Sort(got)
	if seasonal || len(got) != historyDays || got[0] != 6 || got[13] != 19 {
		t.Errorf("after wrap: %v seasonal %v, want 6..19 and not seasonal", got, seasonal)
	}

	r = dayRing{}
	for _, v := range []float64{10, 11, 12, 13, 14} {
		r.push(v, false)
	}
	for _, v := range []float64{2, 3, 4} {
		r.push(v, true)
	}
	got, seasonal = r.values(nil, true, 3)
	if !seasonal || !slices.Equal(got, []float64{2, 3, 4}) {
		t.Errorf("weekend with 3 weekends kept: %v %v, want [2 3 4] seasonal", got, seasonal)
	}
	got, seasonal = r.values(nil, true, 4)
	if seasonal || len(got) != 8 {
		t.Errorf("weekend with too few weekends: %v %v, want all 8 values", got, seasonal)
	}
	got, seasonal = r.values(nil, false, 4)
	if !seasonal || !slices.Equal(got, []float64{10, 11, 12, 13, 14}) {
		t.Errorf("weekday: %v %v, want the 5 weekdays", got, seasonal)
	}
}

// The encoded history must give back every ring exactly: counts, shares,
// thresholds, values too large for the short form, and wrapped rings.
func TestDayHistoryRoundTrip(t *testing.T) {
	rs := make([]dayRing, 5)
	for i, v := range []float64{0, 1, 63, 64, 8191, 8192, 1 << 24, 1<<24 + 2, 0.25, 1.0 / 3, 8.4852, 1e9, -2} {
		rs[1].push(v, i%3 == 0)
		rs[2].push(v*7, i%2 == 0)
	}
	for i := range 30 { // wraps
		rs[3].push(float64(i), i%7 >= 5)
	}
	rs[4].push(math.Inf(1), true)
	enc := encodeDays(nil, rs)
	got := dayHistory(enc).decode(nil, len(rs))
	if !slices.Equal(got, rs) {
		t.Errorf("round trip:\n got %v\nwant %v", got, rs)
	}
	if zero := dayHistory(nil).decode(nil, 3); !slices.Equal(zero, make([]dayRing, 3)) {
		t.Errorf("empty history = %v, want zero rings", zero)
	}
}

func TestHourRing(t *testing.T) {
	var r hourRing
	for _, v := range []float64{1, 2, 3, 4, 5, -3, 1e6} {
		r.push(v)
	}
	got := r.values(nil)
	slices.Sort(got)
	if !slices.Equal(got, []float64{0, 4, 5, 65535}) {
		t.Errorf("hour ring = %v, want the last 4, clamped to [0, 65535]", got)
	}
}

func TestRecentSet(t *testing.T) {
	s := recentSet{size: 2}
	if s.seen(1) || s.seen(2) || !s.seen(1) {
		t.Fatal("a set of two forgot or invented a value")
	}
	s.seen(3) // evicts the oldest slot (1)
	if s.seen(1) {
		t.Error("an evicted value was still known")
	}
}

func TestEvidenceList(t *testing.T) {
	long := strings.Repeat("x", 300) // a two-byte length
	cases := [][2]string{{"e-1", "c-1"}, {"e-2", ""}, {"", "c-3"}, {"", ""}, {long, "c-4"}}
	var l evidenceList
	for round := range 2 { // the second round reuses the buffer
		for k, c := range cases {
			if at := l.add(&event.Event{ID: c[0], Subject: c[1]}); at != k {
				t.Fatalf("round %d: event %d listed at %d", round, k, at)
			}
		}
		for k, c := range cases {
			if id, subject := l.event(k); id != c[0] || subject != c[1] {
				t.Errorf("round %d: event %d = %q %q, want %q %q", round, k, id, subject, c[0], c[1])
			}
		}
		l.reset()
	}
}

// The ticket set must agree with a map through growth, with keys that
// share their low or high bits.
func TestKeySet(t *testing.T) {
	var s keySet
	want := map[uint64]bool{}
	r := uint64(1)
	for i := range 5000 {
		r = r*6364136223846793005 + 1442695040888963407
		k := r >> 52
		if i%3 == 0 {
			k <<= 40
		}
		if got := s.add(k); got != !want[max(k, 1)] {
			t.Fatalf("step %d: add(%d) = %v, want %v", i, k, got, !want[max(k, 1)])
		}
		want[max(k, 1)] = true
		if s.n != len(want) {
			t.Fatalf("step %d: %d keys, want %d", i, s.n, len(want))
		}
	}
}

// The pool hands out a table of the class asked for, else the nearest
// pooled one, so it never keeps more tables than were put in.
func TestTablePool(t *testing.T) {
	var pool [][]int
	for _, c := range []uint8{3, 5, 5, 9} {
		pool = put(pool, c, int(c))
	}
	for _, c := range [][3]int{{5, 5, 5}, {4, 5, 5}, {12, 9, 9}, {1, 3, 3}, {2, 0, 0}} {
		if got, gc := take(pool, uint8(c[0])); got != c[1] || int(gc) != c[2] {
			t.Errorf("take(%d) = %d of class %d, want %d of class %d", c[0], got, gc, c[1], c[2])
		}
	}
	for k, p := range pool {
		if len(p) != 0 {
			t.Errorf("class %d still holds %v after as many takes as puts", k, p)
		}
	}
	if sizeClass(0, 16) != 0 || sizeClass(12, 16) != 4 || sizeClass(13, 16) != 5 || sizeClass(6, 8) != 3 || sizeClass(7, 8) != 4 {
		t.Error("sizeClass disagrees with growth at three quarters full")
	}
}
