package rules

import (
	"slices"
	"time"

	"github.com/custos-io/custos/internal/hashtable"
)

// history is what an evaluator remembers about one actor's past, in a
// fixed amount of memory: when it was active (by day and hour of day) and
// the last few devices, countries and addresses it used.
type history struct {
	events    int
	firstSeen time.Time
	lastSeen  time.Time
	lastDay   int64 // the last active day, days since the epoch
	// days, the counts and dayHours share a word: the history is kept
	// per actor.
	days       int16 // distinct UTC days active (halved when it reaches agingDays)
	nDevices   uint8 // how many of recent are devices
	nCountries uint8 // how many of recent, after the devices, are countries
	dayHours   uint32
	hours      [24]uint16 // per hour of day, days active in it (halved with days)
	// The last devices, then countries, then addresses, as hashes
	// (sources), each most recent last: an event's are compared as
	// integers, and the history keeps no copies of the strings. One slice
	// holds the three lists, as an actor mostly has one of each.
	recent []uint64
}

// The lists of history.recent, for history.remember.
const (
	listDevices = iota
	listCountries
	listIPs
)

// list is the part of recent that holds the list (listDevices,
// listCountries or listIPs), from lo to hi.
func (h *history) list(which int) (lo, hi int) {
	d := int(h.nDevices)
	c := d + int(h.nCountries)
	switch which {
	case listDevices:
		return 0, d
	case listCountries:
		return d, c
	}
	return c, len(h.recent)
}

// remember moves v (0: none) to the end of the list, dropping the oldest
// past the bound.
func (h *history) remember(which int, v uint64) {
	lo, hi := h.list(which)
	list := h.recent[lo:hi]
	if isLast(list, v) {
		return
	}
	if i := slices.Index(list, v); i >= 0 {
		copy(list[i:], list[i+1:])
		list[len(list)-1] = v
		return
	}
	if len(list) >= rememberedValues {
		copy(list, list[1:])
		list[len(list)-1] = v
		return
	}
	h.recent = slices.Insert(h.recent, hi, v)
	switch which {
	case listDevices:
		h.nDevices++
	case listCountries:
		h.nCountries++
	}
}

// lists are the devices, countries and addresses in recent.
func (h *history) lists() (dev, country, ip []uint64) {
	d := int(h.nDevices)
	c := d + int(h.nCountries)
	return h.recent[:d:d], h.recent[d:c:c], h.recent[c:]
}

// isNew reports whether v (not 0) is not in the list, which is not empty.
func isNew(list []uint64, v uint64) bool { return v != 0 && len(list) > 0 && !seen(list, v) }

// isLast reports whether v is 0 or the list's last value: most events'
// device, country and address, which remember would leave in place.
func isLast(list []uint64, v uint64) bool { return v == 0 || (len(list) > 0 && list[len(list)-1] == v) }

// sources are an event's device, country and address as the history keeps
// them: hashtable.String of each, 0 for none. Two values whose hashes
// agree are one to the history (about n²/2⁶⁵ among n values; the
// baselines accept the same of theirs).
type sources struct{ device, country, ip uint64 }

func sourcesOf(device, country, ip string) sources {
	return sources{sourceHash(device), sourceHash(country), sourceHash(ip)}
}

func sourceHash(v string) uint64 {
	if v == "" {
		return 0
	}
	return max(hashtable.String(v), 1)
}

const (
	// agingDays halves the day and hour counts, so a shift change stops
	// looking unusual within weeks rather than never.
	agingDays = 60
	// rememberedValues bounds the devices, countries and addresses kept.
	rememberedValues = 16
)

// seen reports whether v is in list, trying the most recent value first:
// an actor mostly keeps its device, country and address.
func seen(list []uint64, v uint64) bool {
	if n := len(list); n > 0 && list[n-1] == v {
		return true
	}
	return slices.Contains(list, v)
}

// utcDayHour is the day since the epoch and the hour of day of t, UTC,
// without time.Time's calendar arithmetic.
func utcDayHour(t time.Time) (int64, int) {
	s := t.Unix()
	day := s / 86400
	if s%86400 < 0 {
		day--
	}
	return day, int((s - day*86400) / 3600)
}

// features describes the past before the event at t from x.
func (h *history) features(t time.Time, x sources) HistoryEnv {
	if h.events == 0 {
		return HistoryEnv{}
	}
	dev, country, ip := h.lists()
	f := HistoryEnv{
		Events:     h.events,
		DaysActive: int(h.days),
		FirstSeen:  h.firstSeen,
		NewDevice:  isNew(dev, x.device),
		NewCountry: isNew(country, x.country),
		NewIP:      isNew(ip, x.ip),
	}
	if t.After(h.lastSeen) {
		f.IdleDays = daysSince(t, h.lastSeen)
	}
	if h.days > 0 {
		_, hr := utcDayHour(t)
		// The five hours around hr, wrapping at midnight, without a
		// division per hour.
		n := 0
		for i := hr + 22; i <= hr+26; i++ {
			j := i
			if j >= 24 {
				j -= 24
			}
			if j >= 24 {
				j -= 24
			}
			n += int(h.hours[j])
		}
		f.HourShare = min(float64(n)/float64(h.days), 1)
	}
	return f
}

// observe adds the event at t from x to the history.
func (h *history) observe(t time.Time, x sources) {
	if h.events == 0 || t.Before(h.firstSeen) {
		h.firstSeen = t
	}
	if t.After(h.lastSeen) {
		h.lastSeen = t
	}
	h.events++
	day, hour := utcDayHour(t)
	if h.days == 0 || day > h.lastDay {
		h.lastDay, h.dayHours = day, 0
		h.days++
		if h.days >= agingDays {
			h.days /= 2
			for i := range h.hours {
				h.hours[i] /= 2
			}
		}
	}
	if day == h.lastDay {
		if bit := uint32(1) << hour; h.dayHours&bit == 0 {
			h.dayHours |= bit
			h.hours[hour]++
		}
	}
	// The lists are taken again after each remember, which moves the
	// later lists along.
	if dev, _, _ := h.lists(); !isLast(dev, x.device) {
		h.remember(listDevices, x.device)
	}
	if _, country, _ := h.lists(); !isLast(country, x.country) {
		h.remember(listCountries, x.country)
	}
	if _, _, ip := h.lists(); !isLast(ip, x.ip) {
		h.remember(listIPs, x.ip)
	}
}

// daysSince is t.Sub(u).Hours() / 24, the same number, without Sub's
// overflow check (it adds the difference back to u and compares), which
// cost ~370 instructions a call on every event (callgrind). Event times
// carry no monotonic reading, so Sub would subtract the wall clocks too.
func daysSince(t, u time.Time) float64 {
	s := t.Unix() - u.Unix()
	if s <= -9e9 || s >= 9e9 { // near a Duration's ±292 years: let Sub saturate
		return t.Sub(u).Hours() / 24
	}
	return time.Duration(s*1e9+int64(t.Nanosecond()-u.Nanosecond())).Hours() / 24
}
