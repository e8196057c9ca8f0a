package engine

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/hashtable"
)

// customerChunk is how many entries one block of customers holds. Blocks
// are never moved or grown, so a *customer stays valid for the engine's
// life (accesses pending settlement hold one).
const customerChunk = 1024

// customer is one customer's entry: its record, as far as detectors read
// it, and its open tickets. A million customers live as long as the
// engine, so the entry holds no pointer (the collector never scans the
// blocks): its id is an offset in one byte arena, its tier and country
// numbers in the index's name table, its open tickets a list threaded
// through Tickets.open.
type customer struct {
	balance float64
	id      uint32 // offset of the id, length-prefixed, in customers.ids
	tier    uint32 // name numbers (0: ""); tier's top bits are flags
	country uint32
	index   int32 // in customers.at
	// head and tail are the first and last of its open tickets, in the
	// order first listed under it, as refs + 1 (0: none).
	head, tail int32
}

// Flags of customer.tier.
const (
	known      = 1 << 31 // a record was set (until then the entry only lists tickets)
	honeytoken = 1 << 30
)

// customers is every customer the engine heard of, by a dense index and by
// id: a refTable over the fixed id hash, a tag that agrees confirmed
// against the id in the arena.
type customers struct {
	blocks [][]customer
	n      int
	byID   refTable
	// ids holds every customer's id, a uvarint length before its bytes.
	// Bytes once written never change, so an id read as a string may
	// point into it (an older array, after growth, stays as long as such
	// a string does).
	ids []byte
}

// Len returns the number of customers.
func (cs *customers) Len() int { return cs.n }

func (cs *customers) at(i int32) *customer {
	return &cs.blocks[i/customerChunk][i%customerChunk]
}

// idOf returns c's id.
func (cs *customers) idOf(c *customer) string {
	b := cs.ids[c.id:]
	n, k := uint64(b[0]), 1
	if n >= 0x80 {
		n, k = binary.Uvarint(b)
	}
	if n == 0 {
		return ""
	}
	return unsafe.String(&b[k], int(n))
}

// find returns id's entry, nil if none.
func (cs *customers) find(id string) *customer {
	if _, i := cs.byID.find(hashtable.String(id), func(i int32) bool { return cs.idOf(cs.at(i)) == id }); i >= 0 {
		return cs.at(i)
	}
	return nil
}

// add returns id's entry, creating it.
func (cs *customers) add(id string) *customer {
	if c := cs.find(id); c != nil {
		return c
	}
	i := int32(cs.n)
	if int(i)%customerChunk == 0 {
		cs.blocks = append(cs.blocks, make([]customer, customerChunk))
	}
	c := cs.at(i)
	*c = customer{id: uint32(len(cs.ids)), index: i}
	cs.ids = binary.AppendUvarint(cs.ids, uint64(len(id)))
	cs.ids = append(cs.ids, id...)
	cs.n++
	cs.byID.insert(hashtable.String(id), i)
	return c
}

// set stores s as c's record.
func (x *Tickets) set(c *customer, s *event.Subject) {
	c.balance, c.tier, c.country = s.BalanceUSD, x.names.id(s.Tier)|known, x.names.id(s.Country)
	if s.Honeytoken {
		c.tier |= honeytoken
	}
}

// record fills s with c's record, its id the caller's copy of c's id, and
// reports whether c has one.
func (x *Tickets) record(c *customer, id string, s *event.Subject) bool {
	if c == nil || c.tier&known == 0 {
		return false
	}
	*s = event.Subject{ID: id, Tier: x.names.list[c.tier&^(known|honeytoken)], BalanceUSD: c.balance,
		Country: x.names.list[c.country], Honeytoken: c.tier&honeytoken != 0}
	return true
}

// names numbers strings (assignees, customers' tiers and countries): a few
// thousand distinct ones shared by millions of changes and records. 0 is "".
type names struct {
	ids  map[string]uint32
	list []string
}

func newNames() names { return names{ids: map[string]uint32{}, list: []string{""}} }

// id returns s's number, adding an owned copy of s if new.
func (n *names) id(s string) uint32 {
	if s == "" {
		return 0
	}
	if i, ok := n.ids[s]; ok {
		return i
	}
	i := uint32(len(n.list))
	s = strings.Clone(s)
	n.list = append(n.list, s)
	n.ids[s] = i
	return i
}
