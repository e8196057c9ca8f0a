package breach

import (
	"slices"

	"github.com/custos-io/custos/internal/event"
)

// minPeers is how many peers with any access a peer comparison needs; with
// fewer, their median says little and only the population comparison
// counts.
const minPeers = 4

// peerGroups indexes the roster by peer group (team and role, as the
// engine's baselines group people, and by team alone): a VIP desk sees VIP customers, so a
// leak of VIP customers is no surprise from a VIP-desk agent, however rare
// VIPs are in the whole population.
type peerGroups map[string][]string

func peerKey(p *event.Person) string {
	if p == nil || p.Team == "" {
		return ""
	}
	return p.Team + "\x00" + p.Role
}

func newPeerGroups(people map[string]*event.Person) peerGroups {
	g := peerGroups{}
	for id, p := range people {
		if k := peerKey(p); k != "" {
			g[k] = append(g[k], id)
			g[teamKey(p)] = append(g[teamKey(p)], id)
		}
	}
	for _, ids := range g {
		slices.Sort(ids)
	}
	return g
}

// teamKey names a whole team, every role included.
func teamKey(p *event.Person) string { return p.Team + "\x00*" }

// peersOf returns actor's peers, actor excluded: the others with their team
// and role, or, if those are too few to compare with, their whole team.
func (g peerGroups) peersOf(actor string, p *event.Person) []string {
	key := peerKey(p)
	if key == "" {
		return nil
	}
	if len(g[key]) <= minPeers {
		key = teamKey(p)
	}
	var out []string
	for _, id := range g[key] {
		if id != actor {
			out = append(out, id)
		}
	}
	return out
}

// peerRate is the median, over actor's peers who accessed anyone, of the
// share of their customers who are in the leak. The median, not the pooled
// share, so that a few peers who leak too (a floor of colluders) do not
// raise the bar for each other. ok is false with fewer than minPeers such
// peers.
func peerRate(peers []string, reach map[string]int, covered func(string) int) (rate float64, n int, ok bool) {
	var rates []float64
	for _, p := range peers {
		if r := reach[p]; r > 0 {
			rates = append(rates, float64(min(covered(p), r))/float64(r))
		}
	}
	if len(rates) < minPeers {
		return 0, len(rates), false
	}
	slices.Sort(rates)
	m := len(rates) / 2
	if len(rates)%2 == 1 {
		return rates[m], len(rates), true
	}
	return (rates[m-1] + rates[m]) / 2, len(rates), true
}
