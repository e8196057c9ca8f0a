package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/journal"
	"github.com/custos-io/custos/internal/store"
)

// The ingest journal (Options.Journal): the writer's side of it, and the
// start-up recovery that stores what it holds. A frame is one request's
// new records, each a kind byte ('e' event, 't' ticket change), the length
// of its line as a uvarint, and the line as stored (Raw).

const (
	kindEvent  = 'e'
	kindTicket = 't'
)

func appendRecords(buf []byte, recs []store.Record) []byte {
	size := 0
	for i := range recs {
		if e := recs[i].Event; e != nil {
			size += len(e.Raw) + 1 + binary.MaxVarintLen32
		} else {
			size += len(recs[i].Ticket.Raw) + 1 + binary.MaxVarintLen32
		}
	}
	buf = slices.Grow(buf, size)
	for i := range recs {
		kind, raw := byte(kindTicket), []byte(nil)
		if e := recs[i].Event; e != nil {
			kind, raw = kindEvent, e.Raw
		} else {
			raw = recs[i].Ticket.Raw
		}
		buf = append(buf, kind)
		buf = binary.AppendUvarint(buf, uint64(len(raw)))
		buf = append(buf, raw...)
	}
	return buf
}

// decodeRecords decodes a frame; the records do not share its memory.
func decodeRecords(frame []byte, fn func(store.Record) error) error {
	for len(frame) > 0 {
		kind := frame[0]
		n, w := binary.Uvarint(frame[1:])
		if w <= 0 || uint64(len(frame)-1-w) < n {
			return errors.New("journal frame: record length out of range")
		}
		raw := bytes.Clone(frame[1+w : 1+w+int(n)])
		frame = frame[1+w+int(n):]
		var r store.Record
		switch kind {
		case kindEvent:
			e, err := event.DecodeEvent(raw)
			if err != nil {
				return fmt.Errorf("journal frame: event: %w", err)
			}
			r.Event = &e
		case kindTicket:
			t, err := event.DecodeTicketChange(raw)
			if err != nil {
				return fmt.Errorf("journal frame: ticket change: %w", err)
			}
			r.Ticket = &t
		default:
			return fmt.Errorf("journal frame: unknown record kind %q", kind)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// journalGroup drops the duplicates of the group's records, appends the
// rest to the journal in one write and fsync, answers the requests, and
// passes everything on to the indexer in order.
func (s *Server) journalGroup(group []*commit) {
	ctx := context.Background()
	var frames [][]byte
	for _, c := range group {
		if !c.records() {
			continue
		}
		recs := c.w.Recs
		n := 0
		var err error
		for i := range recs {
			var dup bool
			if dup, err = s.seen.check(ctx, &recs[i]); err != nil {
				break
			}
			if !dup {
				recs[n] = recs[i]
				n++
			}
		}
		if err != nil {
			s.seen.done(recs[:n])
			c.done <- err
			c.done = nil // answered
			continue
		}
		c.w.Recs, c.w.Stored = recs[:n], n
		if n > 0 {
			frames = append(frames, appendRecords(nil, c.w.Recs))
		}
	}
	// Segments the indexer is done with go before the journal grows.
	s.indexedMu.Lock()
	released := s.indexedPos
	s.indexedMu.Unlock()
	if err := s.journal.Release(released); err != nil {
		s.log.Warn("deleting indexed segments of the ingest journal; will retry", "err", err)
	}
	var pos journal.Pos
	var err error
	if len(frames) > 0 {
		start := time.Now()
		pos, err = s.journal.Append(frames...)
		s.metrics.observeStore(opJournal, start)
	}
	for _, c := range group {
		if !c.records() {
			// The engine sees it in journal order, once the store has it.
			c.stored = make(chan bool, 1)
			s.index.push(c, false)
			s.feed.push(item{person: c.w.Person, subject: c.w.Subject, barrier: c.barrier, stored: c.stored})
			continue
		}
		if c.done == nil {
			continue // failed above
		}
		if err != nil {
			s.seen.done(c.w.Recs)
			c.done <- err
			continue
		}
		if c.w.Stored == 0 {
			c.done <- nil // all duplicates
			continue
		}
		// The indexer gets its own commit: the request reads c.w.Stored
		// once answered, while the store would set it again.
		ic := &commit{w: store.Write{Recs: c.w.Recs}, acked: true, pos: pos}
		s.journaled.Add(int64(len(ic.w.Recs)))
		c.done <- nil
		s.feed.journaled(ic.w.Recs)
		s.index.push(ic, true)
	}
}

// recoverJournal stores what the journal holds, after a crash or a stop
// while the store refused writes: records acknowledged and maybe not yet in
// the store. Storing is idempotent (by event id, by ticket change content),
// so records already there are left as they are; then the journal is
// emptied.
func (s *Server) recoverJournal(ctx context.Context, j *journal.Journal) error {
	var recs []store.Record
	var total, stored int
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		w := &store.Write{Recs: recs}
		if err := s.store.WriteGroup(ctx, []*store.Write{w}); err != nil {
			return err
		}
		total, stored = total+len(recs), stored+w.Stored
		recs = nil
		return nil
	}
	err := j.Replay(func(frame []byte) error {
		if err := decodeRecords(frame, func(r store.Record) error {
			recs = append(recs, r)
			return nil
		}); err != nil {
			return err
		}
		if len(recs) >= maxGroup {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = j.Reset()
	}
	if err != nil {
		return fmt.Errorf("server: storing the ingest journal %s: %w", s.opts.Journal, err)
	}
	if total > 0 {
		s.log.Info("stored the records of the ingest journal", "records", total, "new", stored)
	}
	return nil
}
