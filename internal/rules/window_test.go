package rules

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/custos-io/custos/internal/engine"
	"github.com/custos-io/custos/internal/event"
)

const sec = int64(time.Second)

func TestCounterExact(t *testing.T) {
	var c counter
	w := 10 * 60 * sec
	for i, at := range []int64{0, 60, 120, 599, 600} {
		c.add(at*sec, int64(i+1), w)
	}
	// (0, 600]: drops the event at 0 only.
	if got := c.value(600*sec, w); got != 2+3+4+5 {
		t.Errorf("sum = %d, want 14", got)
	}
	// An event slightly out of order still counts, in its place.
	c.add(590*sec, 10, w)
	if got := c.value(600*sec, w); got != 24 {
		t.Errorf("sum after a late event = %d, want 24", got)
	}
	if got := c.value(1300*sec, w); got != 0 {
		t.Errorf("sum once all expired = %d, want 0", got)
	}
	c.add(0, 1, w) // older than the window: ignored
	if got := c.value(1300*sec, w); got != 0 {
		t.Errorf("an expired event counted: %d", got)
	}
}

// Past exactEntries the counter switches to buckets: the count stays
// right within one bucket at the old edge, and memory stops growing.
func TestCounterBuckets(t *testing.T) {
	var c counter
	w := 3600 * sec
	for i := range int64(5000) {
		c.add(i*sec/2, 1, w) // two a second for 2500 s
	}
	if c.ring == nil || c.exact != nil {
		t.Fatal("did not switch to buckets")
	}
	if got := c.value(2500*sec, w); got != 5000 {
		t.Errorf("count = %d, want 5000", got)
	}
	// At 5000 s the window (1400, 5000] holds the events of 1400..2500 s:
	// 2200, give or take one bucket (56 s, 112 events).
	got := c.value(5000*sec, w)
	if got < 2200-1 || got > 2200+2*int64(w/countBuckets/sec)+2 {
		t.Errorf("count = %d, want 2200 within a bucket", got)
	}
}

func TestDistinctExact(t *testing.T) {
	var d distinct
	w := 24 * 3600 * sec
	d.add(0, hashString("c-1"), w)
	d.add(10*sec, hashString("c-2"), w)
	d.add(20*sec, hashString("c-1"), w) // seen again: still one
	if got := d.value(30*sec, w); got != 2 {
		t.Errorf("distinct = %d, want 2", got)
	}
	// c-2 expires at 10s+24h, c-1 (last seen at 20 s) 10 s later.
	if got := d.value(w+15*sec, w); got != 1 {
		t.Errorf("distinct = %d, want 1", got)
	}
	if got := d.value(w+25*sec, w); got != 0 {
		t.Errorf("distinct = %d, want 0", got)
	}
	// Many repeats of one value do not grow the state without bound.
	for i := range int64(10000) {
		d.add(w+30*sec+i, hashString("c-3"), w)
	}
	if n := d.lastLen(); d.large != nil && len(d.large.order) > 2*n+64 {
		t.Errorf("order holds %d entries for %d values", len(d.large.order), n)
	}
}

// Past exactDistinct live values the count is a HyperLogLog estimate:
// within a few percent, in a fixed amount of memory.
func TestDistinctSketch(t *testing.T) {
	var d distinct
	w := 24 * 3600 * sec
	const n = 20000
	for i := range int64(n) {
		d.add(i*sec, hashString(fmt.Sprintf("c-%d", i)), w)
	}
	if d.large == nil || d.large.sk == nil {
		t.Fatal("did not switch to a sketch")
	}
	got := d.value(n*sec, w)
	if rel := math.Abs(float64(got)-n) / n; rel > 0.05 {
		t.Errorf("estimate %d of %d distinct values: %.1f%% off", got, n, 100*rel)
	}
	// Two days later the values have left the window.
	if got := d.value(3*w, w); got != 0 {
		t.Errorf("estimate after expiry = %d, want 0", got)
	}
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"10m": 10 * time.Minute, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second} {
		if got, err := parseDuration(s); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "d", "7 days", "1x"} {
		if _, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) accepted", s)
		}
	}
}

func TestHistory(t *testing.T) {
	var h history
	day := 24 * time.Hour
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 14 {
		at := t0.Add(time.Duration(i) * day)
		h.observe(at, sourcesOf("d-1", "PH", "10.0.0.1"))
	}
	f := h.features(t0.Add(14*day+18*time.Hour), sourcesOf("d-2", "PH", "10.0.0.1")) // 03:00, a new device
	if f.DaysActive != 14 || f.Events != 14 || !f.NewDevice || f.NewCountry || f.NewIP || f.HourShare != 0 {
		t.Errorf("features at 03:00 = %+v", f)
	}
	if f := h.features(t0.Add(14*day+time.Hour), sourcesOf("d-1", "PH", "")); f.HourShare != 1 {
		t.Errorf("share at 10:00 = %v, want 1", f.HourShare)
	}
	if f := h.features(t0.Add(60*day), sourcesOf("", "", "")); f.IdleDays < 46 || f.IdleDays > 47 {
		t.Errorf("idle days = %v", f.IdleDays)
	}
	// The day count ages so it never grows without bound.
	for i := range 200 {
		h.observe(t0.Add(time.Duration(14+i)*day), sourcesOf("d-1", "PH", ""))
	}
	if h.days >= agingDays {
		t.Errorf("days = %d, want below %d", h.days, agingDays)
	}
}

// TestHistoryLists checks the devices, countries and addresses, kept in
// one slice, against three lists kept apart.
func TestHistoryLists(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var h history
	var want [3][]uint64
	add := func(list int, v uint64) {
		if v == 0 {
			return
		}
		l := slices.DeleteFunc(want[list], func(x uint64) bool { return x == v })
		if len(l) >= rememberedValues {
			l = l[1:]
		}
		want[list] = append(l, v)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 5000 {
		pick := func(n int) string {
			if r.IntN(10) == 0 {
				return ""
			}
			return fmt.Sprint(r.IntN(n))
		}
		x := sourcesOf("d-"+pick(3+i/200), "c-"+pick(2+i/300), "ip-"+pick(30))
		f := h.features(t0, x)
		for list, v := range []uint64{x.device, x.country, x.ip} {
			isNew := v != 0 && len(want[list]) > 0 && !slices.Contains(want[list], v)
			if got := []bool{f.NewDevice, f.NewCountry, f.NewIP}[list]; got != isNew {
				t.Fatalf("event %d, list %d: new = %v, want %v", i, list, got, isNew)
			}
			add(list, v)
		}
		h.observe(t0, x)
		dev, country, ip := h.lists()
		for list, got := range [][]uint64{dev, country, ip} {
			if !slices.Equal(got, want[list]) {
				t.Fatalf("event %d, list %d: %v, want %v", i, list, got, want[list])
			}
		}
	}
}

func TestUTCDayHour(t *testing.T) {
	for _, s := range []int64{0, 1, 3599, 3600, 86399, 86400, -1, -86401, 1772500000, 1772586399} {
		at := time.Unix(s, 0).UTC()
		day, hour := utcDayHour(at)
		if hour != at.Hour() || time.Unix(day*86400, 0).UTC().Format(time.DateOnly) != at.Format(time.DateOnly) {
			t.Errorf("%v: day %d hour %d", at, day, hour)
		}
		var e Env
		e.fill(&engine.Input{Event: &event.Event{Time: at}}, true)
		if e.Weekday != int(at.Weekday()) || e.Hour != at.Hour() {
			t.Errorf("%v: weekday %d hour %d", at, e.Weekday, e.Hour)
		}
	}
}

func (d *distinct) lastLen() int {
	if d.large == nil {
		return len(d.small)
	}
	return d.large.last.Len()
}

// TestDistinctAgainstMap checks the exact distinct count, through the
// slice, the map and back, against a plain map of each value's last time,
// with events a little out of order as a stream delivers them.
func TestDistinctAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// 100 hours is past smallSpan: its values go to the map at once.
	for _, c := range []struct {
		w      int64
		values int
	}{{3600 * sec, 10}, {3600 * sec, smallDistinct + 8}, {3600 * sec, 300}, {100 * 3600 * sec, 10}} {
		w, values := c.w, c.values
		var d distinct
		last := map[uint64]int64{}
		var latest int64
		at := int64(0)
		for i := range 20000 {
			// busy and quiet spells, so the set grows past the slice and
			// shrinks back below it
			if (i/2000)%2 == 0 {
				at += r.Int64N(20 * sec)
			} else {
				at += r.Int64N(200 * sec)
			}
			if i%997 == 0 {
				// a gap of smallSpan, which the low 48 bits of a
				// time do not see
				at += smallSpan + r.Int64N(sec)
			}
			t0 := max(at-r.Int64N(30*sec), 0)
			k := hashString(fmt.Sprint(r.IntN(values)))
			d.add(t0, k, w)
			latest = max(latest, t0)
			if lt, ok := last[k]; t0 > latest-w && (!ok || t0 > lt) {
				last[k] = t0
			}
			if i%3 != 0 {
				continue // not read after every event, as a rule's window is not
			}
			want := int64(0)
			for _, lt := range last {
				if lt > latest-w {
					want++
				}
			}
			if got := d.value(latest, w); got != want {
				t.Fatalf("%d values, event %d: distinct = %d, want %d", values, i, got, want)
			}
		}
	}
}

func TestDaysSince(t *testing.T) {
	base := time.Date(2026, 3, 2, 8, 0, 0, 123456789, time.UTC)
	for _, u := range []time.Time{
		base, base.Add(-time.Nanosecond), base.Add(90 * time.Minute), base.AddDate(0, -7, -3).Add(17 * time.Second),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600)), time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC),
		{}, time.Date(2400, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		if got, want := daysSince(base, u), base.Sub(u).Hours()/24; got != want {
			t.Errorf("daysSince(%v, %v) = %v, want %v", base, u, got, want)
		}
	}
}
