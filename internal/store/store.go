// Package store is Custos's embedded store: one SQLite file holding the
// access events and ticket changes in the order they were ingested, the
// latest roster and customer records, and the findings. It is what makes an
// acknowledged batch durable, what the engine is rebuilt from on start, and
// what exposure and attribution questions are answered from.
//
// The driver is modernc.org/sqlite, a translation of SQLite to Go, so the
// binary builds with CGO_ENABLED=0 and `go install` needs no C toolchain.
//
// All writes go through one connection (SQLite allows one writer at a time;
// queuing them in Go avoids SQLITE_BUSY), in WAL mode with synchronous=FULL so
// a committed batch survives a power cut. Reads use a separate pool and run
// concurrently with the writer.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// busyTimeout is how long a connection waits for a lock held by another
// process (a second custos, the sqlite3 shell) before failing.
const busyTimeout = "10000"

// Store is an open Custos database. Its methods are safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // the single writer connection
	r    *sql.DB // readers

	mu    sync.Mutex // serialises write transactions
	reach reachSeen  // guarded by mu

	now func() time.Time // the outbox's "added" times
}

// Open opens the database at path, creating it if needed, and brings its
// schema up to date. A database written by a newer custos is an error.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: database path %q: must not contain '?' or '#'", path)
	}
	// BEGIN IMMEDIATE takes the write lock at the start, so a transaction
	// never fails half-way on a lock upgrade. The WAL is checkpointed every
	// 8000 pages (32 MiB) rather than SQLite's 1000: serve's index pages
	// change in every group commit, and a rarer checkpoint copies each
	// into the file once for many commits (a third less checkpoint CPU in
	// the serve bench).
	w, err := sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "cache_size(-65536)", "wal_autocheckpoint(8000)")+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)

	// The first connection turns on WAL, which a read-only connection could
	// not do; open it before any reader.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("store: %s: cannot use WAL journal mode (the file system may not support it; got %q)", path, mode)
	}

	// Readers map the file (up to 16 GiB) rather than read() each page: an
	// exposure or attribution question touches thousands of scattered pages
	// of a multi-gigabyte file, and the system call per page was half its
	// time at 10 M events. The mapping is address space, not memory.
	r, err := sql.Open("sqlite", dsn(path, "query_only(1)", "mmap_size(17179869184)", "cache_size(-32768)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)

	s := &Store{path: path, w: w, r: r, now: time.Now}
	if err := migrate(ctx, w, migrations); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

// dsn is the driver's name for path with the pragmas every connection needs.
func dsn(path string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range append([]string{"busy_timeout(" + busyTimeout + ")", "synchronous(FULL)"}, pragmas...) {
		q.Add("_pragma", p)
	}
	return path + "?" + q.Encode()
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database. Committed data is already on disk.
func (s *Store) Close() error {
	rerr := s.r.Close()
	// Closing the last connection checkpoints the WAL into the main file.
	werr := s.w.Close()
	if werr != nil {
		return fmt.Errorf("store: closing %s: %w", s.path, werr)
	}
	if rerr != nil {
		return fmt.Errorf("store: closing %s: %w", s.path, rerr)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store: %s: %w", s.path, err)
	}
	return nil
}

// lastSeqQuery is the last ingest sequence number used. It is read inside
// each write transaction rather than cached, so a second process writing the
// same file (a replay --db while serve runs) cannot reuse a number.
const lastSeqQuery = `SELECT max(coalesce((SELECT max(seq) FROM events), 0), coalesce((SELECT max(seq) FROM ticket_changes), 0))`

// LastSeq returns the ingest sequence number of the last record stored.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.r.QueryRowContext(ctx, lastSeqQuery).Scan(&seq); err != nil {
		return 0, fmt.Errorf("store: reading ingest sequence: %w", err)
	}
	return seq, nil
}

// write runs fn in one write transaction, committing if it returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
