package event

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
)

// MaxLine is the longest NDJSON line accepted; a longer line is rejected on
// its own and reading goes on with the next one.
const MaxLine = 1 << 20

// RecordError locates a rejected record: a file and line, or a request and
// the record's index in it.
type RecordError struct {
	Source string // file name or request description
	Line   int    // 1-based line, or 0-based index when Index is set
	Index  bool
	Err    error
}

func (e *RecordError) Error() string {
	if e.Index {
		return fmt.Sprintf("%s[%d]: %v", e.Source, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// LineBuffer is the buffer Lines reads through. A *bufio.Reader at least
// this large is used as it is, so a caller reading many bodies can pool
// its readers.
const LineBuffer = 256 << 10

// Lines calls fn with every non-blank line of r and its 1-based number. The
// slice is only valid during the call. A line over MaxLine is reported to fn
// as tooLong so the caller can count it as rejected.
func Lines(r io.Reader, fn func(n int, line []byte, tooLong bool) error) error {
	br := bufio.NewReaderSize(r, LineBuffer)
	var long []byte
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long) <= MaxLine {
				long = append(long, chunk...)
			}
			continue
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		if len(line) > 0 {
			n++
			trimmed := bytes.TrimRight(line, "\r\n")
			if len(bytes.TrimSpace(trimmed)) > 0 {
				if ferr := fn(n, trimmed, len(trimmed) > MaxLine); ferr != nil {
					return ferr
				}
			}
		}
		long = long[:0]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading line %d: %w", n+1, err)
		}
	}
}

// Decode reads NDJSON records from r, calling ok for each valid record and
// bad for each rejected one. Reading stops only on an I/O error or when a
// callback returns one.
func Decode[T any](r io.Reader, source string, decode func([]byte) (T, error), ok func(T) error, bad func(*RecordError)) error {
	var v T
	return DecodeTo(r, source, func(line []byte, p *T) (err error) {
		*p, err = decode(line)
		return err
	}, func() *T { return &v }, func(p *T) error { return ok(*p) }, bad)
}

// DecodeTo is Decode decoding each record in place, into the value next
// returns (next is called again for the following record whether or not
// ok took the value), for records too large to copy around.
func DecodeTo[T any](r io.Reader, source string, decode func([]byte, *T) error, next func() *T, ok func(*T) error, bad func(*RecordError)) error {
	return Lines(r, func(n int, line []byte, tooLong bool) error {
		if tooLong {
			bad(&RecordError{Source: source, Line: n, Err: &FieldError{Reason: fmt.Sprintf("line longer than %d bytes", MaxLine)}})
			return nil
		}
		v := next()
		if err := decode(line, v); err != nil {
			bad(&RecordError{Source: source, Line: n, Err: err})
			return nil
		}
		return ok(v)
	})
}

// File is an opened input file, transparently decompressed.
type File struct {
	io.Reader
	Name string // base name as found, e.g. events.ndjson.gz
	Size int64  // bytes on disk
	f    *os.File
	gz   *gzip.Reader
	cr   *countingReader
}

// Consumed returns how many bytes of the file on disk have been read, for
// progress reporting.
func (f *File) Consumed() int64 { return f.cr.n.Load() }

// Close closes the file.
func (f *File) Close() error {
	if f.gz != nil {
		_ = f.gz.Close()
	}
	return f.f.Close()
}

// countingReader counts bytes read; the count is read from the goroutine
// that draws the progress bar.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Open opens DIR/NAME.ndjson, or DIR/NAME.ndjson.gz if only that exists. It
// returns an error satisfying errors.Is(err, os.ErrNotExist) if neither does.
func Open(dir, name string) (*File, error) {
	for _, base := range []string{name + ".ndjson", name + ".ndjson.gz"} {
		path := filepath.Join(dir, base)
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		cr := &countingReader{r: f}
		out := &File{Reader: cr, Name: base, Size: st.Size(), f: f, cr: cr}
		if filepath.Ext(base) == ".gz" {
			gz, err := gzip.NewReader(cr)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("opening %s: %w", path, err)
			}
			out.gz, out.Reader = gz, gz
		}
		return out, nil
	}
	return nil, fmt.Errorf("no %s.ndjson or %s.ndjson.gz in %s: %w", name, name, dir, os.ErrNotExist)
}
