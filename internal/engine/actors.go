package engine

import "strings"

// Actors keeps a detector's state per actor. It finds an actor's state by
// Input.ActorIndex, a slice index, and falls back to a map keyed by the
// actor's id only when the slot is empty or holds another actor: inputs
// built by hand (tests, benchmarks) may number every actor 0. The zero
// value is ready to use; it is not safe for concurrent use.
type Actors[T any] struct {
	slots []actorSlot[T]
	byID  map[string]*T
}

type actorSlot[T any] struct {
	id string
	v  *T
	// from is the engine whose input put v here, nil for a hand-built
	// input: an engine numbers each actor once and for good, so its next
	// input with this index is the same actor without comparing ids.
	from *Engine
}

// maxSlots bounds the slice: an index past it (never seen from an engine,
// whose indices are dense) is served by the map alone.
const maxSlots = 1 << 22

// Get returns the state of in's actor, nil if none yet.
func (a *Actors[T]) Get(in *Input) *T {
	id := in.Event.Actor.ID
	if i := in.ActorIndex; i >= 0 && i < len(a.slots) {
		if s := &a.slots[i]; s.v != nil && ((s.from == in.from && s.from != nil) || s.id == id) {
			return s.v
		}
	}
	v := a.byID[id]
	if v != nil {
		a.point(in, id, v)
	}
	return v
}

// Put records v as the state of in's actor, which has none yet, and returns
// the owned copy of the actor's id it is kept under: a slice of the event
// would keep its whole decoded line alive for the actor's life.
func (a *Actors[T]) Put(in *Input, v *T) string {
	id := strings.Clone(in.Event.Actor.ID)
	if a.byID == nil {
		a.byID = map[string]*T{}
	}
	a.byID[id] = v
	a.point(in, id, v)
	return id
}

// ByID returns the state of the actor id, nil if none.
func (a *Actors[T]) ByID(id string) *T { return a.byID[id] }

// Len returns how many actors have state.
func (a *Actors[T]) Len() int { return len(a.byID) }

func (a *Actors[T]) point(in *Input, id string, v *T) {
	i := in.ActorIndex
	if i < 0 || i >= maxSlots {
		return
	}
	if i >= len(a.slots) {
		a.slots = append(a.slots, make([]actorSlot[T], i+1-len(a.slots))...)
	}
	a.slots[i] = actorSlot[T]{id: id, v: v, from: in.from}
}
