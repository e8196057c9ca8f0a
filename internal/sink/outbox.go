package sink

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/custos-io/custos/internal/finding"
)

// Record is one finding as the outbox holds it.
type Record struct {
	// Seq orders the outbox; it only grows, so a cursor is the last Seq a
	// consumer is done with.
	Seq int64
	// Added is when the outbox took the finding (wall clock, for lag).
	Added time.Time
	// Revision counts the earlier records with the same finding id: 0 for an
	// alert or a newly opened case, 1, 2, ... as the case is rewritten.
	Revision int
	Finding  *finding.Finding
}

// Outbox is the durable queue between the engine and the consumers of its
// findings. Each consumer keeps its own cursor in it, so a slow or dead
// receiver holds back nobody else. The store implements it on SQLite; Mem is
// the in-memory version for tests.
//
// Implementations are safe for concurrent use: the engine appends while
// every sink reads.
type Outbox interface {
	// Append adds f at time at, durably, and returns its record. It is
	// idempotent: a finding identical to one already in the outbox (same
	// id, same content, as when the engine is rebuilt from stored events
	// after a restart) returns that record and adds nothing; a case
	// rewritten with new content is a new record with the next Revision.
	Append(ctx context.Context, f *finding.Finding, at time.Time) (Record, error)
	// After returns up to limit records with Seq > seq, in Seq order.
	After(ctx context.Context, seq int64, limit int) ([]Record, error)
	// Last returns the highest Seq appended, 0 if none.
	Last(ctx context.Context) (int64, error)
	// Cursor returns the consumer's cursor; ok is false if it has none yet.
	Cursor(ctx context.Context, consumer string) (seq int64, ok bool, err error)
	// SetCursor durably records that consumer is done with every record up
	// to seq.
	SetCursor(ctx context.Context, consumer string, seq int64) error
}

// Mem is an Outbox in memory: for tests, and for runs where losing
// undelivered findings on exit is acceptable (replay). The zero value is
// ready to use.
type Mem struct {
	mu       sync.Mutex
	recs     []Record
	versions map[string][]memVersion // by finding id
	cursors  map[string]int64
	last     int64
}

type memVersion struct {
	sum [sha256.Size]byte
	seq int64
}

// Append implements Outbox.
func (m *Mem) Append(ctx context.Context, f *finding.Finding, at time.Time) (Record, error) {
	if f == nil || f.ID == "" {
		return Record{}, fmt.Errorf("outbox: appending a finding without an id")
	}
	line, err := finding.MarshalLine(f)
	if err != nil {
		return Record{}, fmt.Errorf("outbox: %w", err)
	}
	sum := sha256.Sum256(line)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.versions == nil {
		m.versions = map[string][]memVersion{}
	}
	vs := m.versions[f.ID]
	for _, v := range vs {
		if v.sum == sum {
			i := sort.Search(len(m.recs), func(i int) bool { return m.recs[i].Seq >= v.seq })
			return m.recs[i], nil
		}
	}
	m.last++
	r := Record{Seq: m.last, Added: at, Revision: len(vs), Finding: f}
	m.versions[f.ID] = append(vs, memVersion{sum: sum, seq: r.Seq})
	m.recs = append(m.recs, r)
	return r, nil
}

// After implements Outbox.
func (m *Mem) After(ctx context.Context, seq int64, limit int) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.recs), func(i int) bool { return m.recs[i].Seq > seq })
	j := min(len(m.recs), i+max(limit, 0))
	return append([]Record(nil), m.recs[i:j]...), nil
}

// Last implements Outbox.
func (m *Mem) Last(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last, nil
}

// Cursor implements Outbox.
func (m *Mem) Cursor(ctx context.Context, consumer string) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seq, ok := m.cursors[consumer]
	return seq, ok, nil
}

// SetCursor implements Outbox.
func (m *Mem) SetCursor(ctx context.Context, consumer string, seq int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cursors == nil {
		m.cursors = map[string]int64{}
	}
	m.cursors[consumer] = seq
	return nil
}
