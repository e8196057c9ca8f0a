package sim

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/custos-io/custos/internal/event"
)

const daySec = 24 * 60 * 60

// sorter writes one file's records in time order while they are generated
// out of order (agent by agent, day by day). Records go to a bucket per UTC
// day; the generator promises that once local day d has been generated for
// every agent, no later record falls before UTC day d, so earlier buckets can
// be sorted and written. Ties keep generation order, which per agent is time
// order.
type sorter struct {
	w       io.Writer
	origin  int64 // unix seconds at which bucket 0 starts
	buckets []*bucket
	next    int // first bucket not yet written
	free    []*bucket
	seq     uint64
	lines   int64
	err     error
}

type bucket struct {
	arena []byte
	recs  []rec
}

type rec struct {
	t        int64
	seq      uint64
	off, end uint32
}

// maxAhead bounds how many days ahead of the oldest unwritten day a record
// may be (tickets close days after they are solved).
const maxAhead = 64

func newSorter(w io.Writer, origin int64) *sorter { return &sorter{w: w, origin: origin} }

// bucket returns the bucket for unix time t, or nil (and records an error)
// if its day has been written already: a generator bug, not an input error.
func (s *sorter) bucket(t int64) *bucket {
	i := int((t - s.origin) / daySec)
	if t < s.origin || i < s.next || i > s.next+maxAhead {
		if s.err == nil {
			s.err = fmt.Errorf("internal: record at %s out of the writable window", time.Unix(t, 0).UTC().Format(time.RFC3339))
		}
		return nil
	}
	for len(s.buckets) <= i {
		var b *bucket
		if n := len(s.free); n > 0 {
			b, s.free = s.free[n-1], s.free[:n-1]
		} else {
			b = &bucket{}
		}
		s.buckets = append(s.buckets, b)
	}
	return s.buckets[i]
}

func (s *sorter) commit(b *bucket, t int64, off int) {
	s.seq++
	b.recs = append(b.recs, rec{t: t, seq: s.seq, off: uint32(off), end: uint32(len(b.arena))})
}

func (s *sorter) event(e *event.Event) {
	t := e.Time.Unix()
	if b := s.bucket(t); b != nil {
		off := len(b.arena)
		b.arena = appendEvent(b.arena, e)
		s.commit(b, t, off)
	}
}

func (s *sorter) ticket(tc *event.TicketChange, channel string) {
	t := tc.Time.Unix()
	if b := s.bucket(t); b != nil {
		off := len(b.arena)
		b.arena = appendTicket(b.arena, tc, channel)
		s.commit(b, t, off)
	}
}

// flush writes every bucket before unix time limit.
func (s *sorter) flush(limit int64) error {
	upto := min(int((limit-s.origin)/daySec), len(s.buckets))
	for ; s.next < upto; s.next++ {
		b := s.buckets[s.next]
		slices.SortFunc(b.recs, func(x, y rec) int {
			if x.t != y.t {
				if x.t < y.t {
					return -1
				}
				return 1
			}
			if x.seq < y.seq {
				return -1
			}
			return 1
		})
		for _, r := range b.recs {
			if s.err != nil {
				break
			}
			_, s.err = s.w.Write(b.arena[r.off:r.end])
		}
		s.lines += int64(len(b.recs))
		b.arena, b.recs = b.arena[:0], b.recs[:0]
		s.buckets[s.next] = nil
		s.free = append(s.free, b)
	}
	return s.err
}

// Writers are where Generate writes each file.
type Writers struct {
	Roster, Subjects, Tickets, Events, Labels io.Writer
}

// Options are how WriteDir writes files.
type Options struct {
	// Gzip compresses roster, customers, tickets and events (NAME.ndjson.gz).
	Gzip bool
}

// Names of the files a simulation writes.
var fileNames = []string{"roster", "subjects", "tickets", "events"}

// WriteDir generates the organisation into dir (created if missing):
// roster, subjects, tickets and events as NDJSON (FORMATS.md) and
// labels.json. Existing files of those names are replaced, and the other
// compression's variant is removed so a replay cannot read a stale file.
func WriteDir(ctx context.Context, cfg Config, dir string, opts Options) (Summary, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	type out struct {
		f  *os.File
		bw *bufio.Writer
		gz *gzip.Writer
		w  io.Writer
	}
	var outs []*out
	closeAll := func() error {
		var errs []error
		for _, o := range outs {
			if o.gz != nil {
				errs = append(errs, o.gz.Close())
			}
			if o.bw != nil {
				errs = append(errs, o.bw.Flush())
			}
			errs = append(errs, o.f.Close())
		}
		return errors.Join(errs...)
	}
	create := func(name string, compress bool) (io.Writer, error) {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("creating %s: %w", path, err)
		}
		o := &out{f: f, bw: bufio.NewWriterSize(f, 1<<20)}
		o.w = o.bw
		if compress {
			o.gz, _ = gzip.NewWriterLevel(o.bw, gzip.BestSpeed)
			o.w = o.gz
		}
		outs = append(outs, o)
		return o.w, nil
	}
	var ws [4]io.Writer
	for i, name := range fileNames {
		ext, stale := ".ndjson", ".ndjson.gz"
		if opts.Gzip {
			ext, stale = stale, ext
		}
		if err := os.Remove(filepath.Join(dir, name+stale)); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = closeAll()
			return Summary{}, fmt.Errorf("removing stale %s: %w", name+stale, err)
		}
		w, err := create(name+ext, opts.Gzip)
		if err != nil {
			_ = closeAll()
			return Summary{}, err
		}
		ws[i] = w
	}
	lw, err := create("labels.json", false)
	if err != nil {
		_ = closeAll()
		return Summary{}, err
	}
	sum, err := Generate(ctx, cfg, Writers{Roster: ws[0], Subjects: ws[1], Tickets: ws[2], Events: ws[3], Labels: lw})
	if cerr := closeAll(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", dir, cerr)
	}
	return sum, err
}
