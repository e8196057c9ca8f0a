package console

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
)

// maxPeers bounds the peer group a chart compares with.
const maxPeers = 300

// chartData is what app.js hands to uPlot: one x axis (Unix seconds) and,
// per metric, the actor's values, its peers' median and 90th percentile,
// and markers where alerts fired. Missing values are null.
type chartData struct {
	X       []int64       `json:"x"`
	Step    int64         `json:"step"` // bucket width in seconds
	Metrics []chartMetric `json:"metrics"`
	Peers   string        `json:"peers,omitempty"`
	PeerN   int           `json:"peer_n"`
}

type chartMetric struct {
	Key    string     `json:"key"`
	Label  string     `json:"label"`
	Actor  []*float64 `json:"actor"`
	Median []*float64 `json:"median,omitempty"`
	P90    []*float64 `json:"p90,omitempty"`
	Marks  []*float64 `json:"marks,omitempty"`
}

var metricDefs = []struct {
	key, label string
	get        func(*Bucket) int
}{
	{"customers", "Customers touched", func(b *Bucket) int { return b.Customers }},
	{"accesses", "Accesses to customer data", func(b *Bucket) int { return b.Accesses }},
	{"noticket", "Accesses citing no ticket", func(b *Bucket) int { return b.NoTicket }},
	{"bulk", "Exports and reveals", func(b *Bucket) int { return b.Bulk }},
	{"events", "All events", func(b *Bucket) int { return b.Events }},
}

// minPeers is the smallest peer group worth comparing with.
const minPeers = 4

// peersOf returns the actor's peer group and a label for it, as the
// baseline forms them: the same vendor, team and role if there are enough
// such peers, else the same team and role across vendors, else the role.
func peersOf(people []event.Person, p *event.Person) ([]string, string) {
	if p == nil || (p.Team == "" && p.Role == "") {
		return nil, ""
	}
	levels := []struct {
		same  func(q *event.Person) bool
		label string
	}{
		{func(q *event.Person) bool { return q.Vendor == p.Vendor && q.Team == p.Team && q.Role == p.Role }, strings.TrimSpace(vendorName(p.Vendor) + " " + p.Team + " " + p.Role)},
		{func(q *event.Person) bool { return q.Team == p.Team && q.Role == p.Role }, p.Team + " " + p.Role},
		{func(q *event.Person) bool { return q.Role == p.Role }, p.Role},
	}
	var ids []string
	var label string
	for _, l := range levels {
		ids = ids[:0]
		for i := range people {
			if q := &people[i]; q.ID != p.ID && l.same(q) {
				ids = append(ids, q.ID)
			}
		}
		label = l.label
		if len(ids) >= minPeers {
			break
		}
	}
	sort.Strings(ids)
	if len(ids) > maxPeers {
		ids = ids[:maxPeers]
	}
	return ids, label
}

// activityChart compares actor with peers in [from, until), bucket wide.
// Peers count only in buckets where they were active, so the norm is what a
// working peer does, not diluted by days off.
func (c *Console) activityChart(ctx context.Context, actor string, peers []string, peerLabel string, from, until time.Time, bucket time.Duration, marks []time.Time) (*chartData, error) {
	from = from.Truncate(bucket)
	n := int(until.Sub(from) / bucket)
	if until.Sub(from)%bucket != 0 {
		n++
	}
	if n <= 0 {
		n = 1
	}
	buckets, err := c.src.Activity(ctx, append([]string{actor}, peers...), from, from.Add(time.Duration(n)*bucket), bucket)
	if err != nil {
		return nil, err
	}
	cd := &chartData{X: make([]int64, n), Step: int64(bucket / time.Second), Peers: peerLabel, PeerN: len(peers)}
	for i := range cd.X {
		cd.X[i] = from.Add(time.Duration(i) * bucket).Unix()
	}
	idx := func(t time.Time) int { return int(t.Sub(from) / bucket) }
	own := make([]*Bucket, n)
	peer := make([][]*Bucket, n)
	for i := range buckets {
		b := &buckets[i]
		k := idx(b.Start)
		if k < 0 || k >= n {
			continue
		}
		if b.Actor == actor {
			own[k] = b
		} else {
			peer[k] = append(peer[k], b)
		}
	}
	marked := make([]bool, n)
	for _, t := range marks {
		if k := idx(t); k >= 0 && k < n {
			marked[k] = true
		}
	}
	for _, m := range metricDefs {
		cm := chartMetric{Key: m.key, Label: m.label, Actor: make([]*float64, n)}
		if len(peers) > 0 {
			cm.Median, cm.P90 = make([]*float64, n), make([]*float64, n)
		}
		if len(marks) > 0 {
			cm.Marks = make([]*float64, n)
		}
		vals := make([]float64, 0, len(peers))
		for k := 0; k < n; k++ {
			v := 0.0
			if own[k] != nil {
				v = float64(m.get(own[k]))
			}
			cm.Actor[k] = ptr(v)
			if cm.Marks != nil && marked[k] {
				cm.Marks[k] = ptr(v)
			}
			if len(peer[k]) > 0 {
				vals = vals[:0]
				for _, b := range peer[k] {
					vals = append(vals, float64(m.get(b)))
				}
				sort.Float64s(vals)
				cm.Median[k] = ptr(quantile(vals, 0.5))
				cm.P90[k] = ptr(quantile(vals, 0.9))
			}
		}
		cd.Metrics = append(cd.Metrics, cm)
	}
	return cd, nil
}

// riskChart replays the actor's alert points with the scorer's half-life
// into a daily series (the value at the end of each day).
func (c *Console) riskChart(alerts []finding.Finding, from, until time.Time) *chartData {
	day := 24 * time.Hour
	from = from.Truncate(day)
	n := int(until.Sub(from)/day) + 1
	cd := &chartData{X: make([]int64, n), Step: int64(day / time.Second)}
	vals := make([]*float64, n)
	marks := make([]*float64, n)
	for k := 0; k < n; k++ {
		end := from.Add(time.Duration(k+1) * day)
		cd.X[k] = from.Add(time.Duration(k) * day).Unix()
		sum := 0.0
		hit := false
		for _, a := range alerts {
			if a.Kind != finding.KindAlert || !a.Time.Before(end) {
				continue
			}
			sum += a.Risk * math.Exp2(-float64(end.Sub(a.Time))/float64(c.halfLife))
			if !a.Time.Before(end.Add(-day)) {
				hit = true
			}
		}
		vals[k] = ptr(math.Round(sum*10) / 10)
		if hit {
			marks[k] = vals[k]
		}
	}
	cd.Metrics = []chartMetric{{Key: "risk", Label: "Risk (alert points, decaying)", Actor: vals, Marks: marks}}
	return cd
}

func ptr(v float64) *float64 { return &v }

// quantile of sorted xs, linear between ranks.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return xs[lo] + (xs[hi]-xs[lo])*(pos-float64(lo))
}
