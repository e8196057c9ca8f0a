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
	// days and dayHours share a word: the history is kept per actor.
	days     int32 // distinct UTC days active (halved when it reaches agingDays)
	dayHours uint32
	hours    [24]uint16 // per hour of day, days active in it (halved with days)
	// The last devices, countries and addresses, as hashes (sources), most
	// recent last: an event's are compared as integers, and the history
	// keeps no copies of the strings.
	devices   []uint64
	countries []uint64
	ips       []uint64
}

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
	f := HistoryEnv{
		Events:     h.events,
		DaysActive: int(h.days),
		FirstSeen:  h.firstSeen,
		NewDevice:  x.device != 0 && len(h.devices) > 0 && !seen(h.devices, x.device),
		NewCountry: x.country != 0 && len(h.countries) > 0 && !seen(h.countries, x.country),
		NewIP:      x.ip != 0 && len(h.ips) > 0 && !seen(h.ips, x.ip),
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
	h.devices = remember(h.devices, x.device)
	h.countries = remember(h.countries, x.country)
	h.ips = remember(h.ips, x.ip)
}

// remember moves v (0: none) to the end of list, dropping the oldest past
// the bound.
func remember(list []uint64, v uint64) []uint64 {
	if v == 0 || (len(list) > 0 && list[len(list)-1] == v) {
		return list
	}
	if i := slices.Index(list, v); i >= 0 {
		copy(list[i:], list[i+1:])
		list[len(list)-1] = v
		return list
	}
	if len(list) >= rememberedValues {
		copy(list, list[1:])
		list[len(list)-1] = v
		return list
	}
	return append(list, v)
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
