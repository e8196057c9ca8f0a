package engine

import (
	"testing"

	"github.com/custos-io/custos/internal/event"
)

// Actors finds each actor's own state when inputs number every actor 0, as
// hand-built inputs do, and when the engine numbers them.
func TestActorsFallsBackWhenIndexIsShared(t *testing.T) {
	var a Actors[int]
	in := func(id string, i int) *Input {
		return &Input{Event: &event.Event{Actor: event.Actor{ID: id}}, ActorIndex: i}
	}
	one, two := 1, 2
	if a.Get(in("a", 0)) != nil {
		t.Fatal("state before any Put")
	}
	a.Put(in("a", 0), &one)
	a.Put(in("b", 0), &two)
	for _, c := range []struct {
		id   string
		i    int
		want *int
	}{{"a", 0, &one}, {"b", 0, &two}, {"a", 0, &one}, {"b", 5, &two}, {"b", 5, &two}, {"c", 5, nil}, {"a", -1, &one}} {
		if got := a.Get(in(c.id, c.i)); got != c.want {
			t.Errorf("Get(%s, %d) = %v, want %v", c.id, c.i, got, c.want)
		}
	}
	if a.Len() != 2 || a.ByID("b") != &two {
		t.Errorf("Len %d, ByID(b) %v", a.Len(), a.ByID("b"))
	}
}

// An engine's input finds its actor's slot without comparing ids, but a
// slot filled from a hand-built input or another engine is still checked.
func TestActorsTrustsOnlyTheEngineThatNumbered(t *testing.T) {
	var a Actors[int]
	e1, e2 := New(Config{}, nil), New(Config{}, nil)
	in := func(from *Engine, id string, i int) *Input {
		return &Input{Event: &event.Event{Actor: event.Actor{ID: id}}, ActorIndex: i, from: from}
	}
	x, y, z := 1, 2, 3
	a.Put(in(nil, "x", 0), &x)
	a.Put(in(e1, "y", 0), &y)
	a.Put(in(e2, "z", 0), &z)
	for _, c := range []struct {
		from *Engine
		id   string
		want *int
	}{{e2, "z", &z}, {e1, "y", &y}, {nil, "x", &x}, {e1, "y", &y}, {nil, "y", &y}, {e2, "z", &z}, {nil, "w", nil}} {
		if got := a.Get(in(c.from, c.id, 0)); got != c.want {
			t.Errorf("Get(%s) = %v, want %v", c.id, got, c.want)
		}
	}
}
