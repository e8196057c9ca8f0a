package engine

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/custos-io/custos/internal/event"
)

// TestCustomers: every id added is found as the same entry across the id
// table's growth, ids not added are not, and records read back as set.
func TestCustomers(t *testing.T) {
	x := NewTickets()
	const n = 5000
	ids := []string{"", "c", string(make([]byte, 300))} // empty, short, a two-byte length prefix
	for i := range n {
		ids = append(ids, fmt.Sprintf("c-%d", i))
	}
	entries := make([]*customer, len(ids))
	for i, id := range ids {
		entries[i] = x.customer(id)
		x.set(entries[i], &event.Subject{ID: id, Tier: fmt.Sprint("tier", i%3), Country: "PL", BalanceUSD: float64(i), Honeytoken: i%7 == 0})
	}
	if got := x.cs.Len(); got != len(ids) {
		t.Fatalf("Len = %d, want %d", got, len(ids))
	}
	for i, id := range ids {
		c := x.cs.find(id)
		if c != entries[i] || x.customer(id) != c || x.cs.idOf(c) != id {
			t.Fatalf("%q: found %p (id %q), want %p", id, c, x.cs.idOf(c), entries[i])
		}
		var s event.Subject
		want := event.Subject{ID: id, Tier: fmt.Sprint("tier", i%3), Country: "PL", BalanceUSD: float64(i), Honeytoken: i%7 == 0}
		if !x.record(c, id, &s) || !reflect.DeepEqual(s, want) {
			t.Fatalf("%q: record %+v, want %+v", id, s, want)
		}
		if x.cs.find(id+"x") != nil {
			t.Fatalf("%q: found an id never added", id+"x")
		}
	}
	if c := x.customer("new"); x.record(c, "new", new(event.Subject)) {
		t.Fatal("a customer without a record has one")
	}
}
