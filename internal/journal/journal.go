// Package journal is an append-only, checksummed log of opaque frames in
// segment files: the durability point of `custos serve` ingest. Append
// writes any number of frames with one write and one fsync, so a group of
// requests shares the cost; what Append returned for is on disk. The
// reader of the journal (the store indexing behind it) calls Release once
// what it read is safe elsewhere, and whole segments before that point are
// deleted.
//
// A segment is a sequence of frames: a 4-byte little-endian payload
// length, the CRC-32C of length and payload (4 bytes), the payload. A crash
// can leave the last frame of the last segment torn; Open cuts it off. A bad frame anywhere
// else is corruption and Open refuses the journal.
package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// SegmentSize is the size past which Append starts a new segment, so
// released frames can be deleted while the journal grows.
const SegmentSize = 64 << 20

// maxFrame bounds one payload, so a corrupt length cannot make Open
// allocate gigabytes.
const maxFrame = 1 << 30

const headerSize = 8

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// checksum covers the length too, so a tail of zeros (a file extended but
// not written before a crash) is not a valid empty frame.
func checksum(length, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, crcTable), crcTable, payload)
}

// Pos is a place in the journal: a segment number and a byte offset in it.
type Pos struct {
	Seg int64
	Off int64
}

// Journal is one directory of segments. It is not safe for concurrent use:
// one goroutine appends, and Release is called by the same owner.
type Journal struct {
	dir  string
	segs []int64 // segment numbers on disk, ascending; the last is open
	f    *os.File
	size int64 // bytes in the open segment
	buf  []byte
}

func segName(dir string, n int64) string {
	return filepath.Join(dir, fmt.Sprintf("%016d.seg", n))
}

// Open opens (creating it if needed) the journal in dir. Frames already in
// it are read with Replay before the first Append.
func Open(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("journal: creating %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: reading %s: %w", dir, err)
	}
	j := &Journal{dir: dir}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("journal: segment %s: not a segment name", filepath.Join(dir, e.Name()))
		}
		j.segs = append(j.segs, n)
	}
	slices.Sort(j.segs)
	if len(j.segs) == 0 {
		j.segs = []int64{1}
	}
	// The last segment may end in a torn frame: cut it off.
	last := j.segs[len(j.segs)-1]
	f, err := os.OpenFile(segName(dir, last), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("journal: opening segment %d: %w", last, err)
	}
	good, err := scan(f, nil)
	if err != nil && !errors.Is(err, errTorn) {
		f.Close()
		return nil, fmt.Errorf("journal: segment %s: %w", f.Name(), err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: cutting the torn end of %s at %d: %w", f.Name(), good, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", f.Name(), err)
	}
	j.f, j.size = f, good
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

var errTorn = errors.New("torn frame")

// scan reads frames from r, calling fn (if set) with each payload, and
// returns the offset after the last good frame. A frame cut short or failing
// its checksum ends the scan with errTorn.
func scan(r io.Reader, fn func(payload []byte) error) (int64, error) {
	var off int64
	var hdr [headerSize]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return off, nil
			}
			if err == io.ErrUnexpectedEOF {
				return off, errTorn
			}
			return off, err
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n > maxFrame {
			return off, errTorn
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return off, errTorn
			}
			return off, err
		}
		if checksum(hdr[0:4], payload) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return off, errTorn
		}
		if fn != nil {
			if err := fn(payload); err != nil {
				return off, err
			}
		}
		off += headerSize + int64(n)
	}
}

// Replay calls fn with every frame in the journal, oldest first. The
// payload is only valid during the call.
func (j *Journal) Replay(fn func(payload []byte) error) error {
	for _, n := range j.segs {
		f, err := os.Open(segName(j.dir, n))
		if err != nil {
			return fmt.Errorf("journal: opening segment %d: %w", n, err)
		}
		_, err = scan(bufio.NewReaderSize(f, 1<<20), fn)
		f.Close()
		if err != nil {
			// Open cut the last segment's torn end, so this is corruption
			// (or fn's own error).
			return fmt.Errorf("journal: replaying segment %d: %w", n, err)
		}
	}
	return nil
}

// Append writes the frames with one write and one fsync and returns the
// position after them. If it fails, nothing of them counts: the segment is
// cut back to where it was.
func (j *Journal) Append(payloads ...[]byte) (Pos, error) {
	if j.size >= SegmentSize {
		if err := j.rotate(); err != nil {
			return j.end(), err
		}
	}
	buf := j.buf[:0]
	for _, p := range payloads {
		var hdr [headerSize]byte
		binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(p)))
		binary.LittleEndian.PutUint32(hdr[4:8], checksum(hdr[0:4], p))
		buf = append(append(buf, hdr[:]...), p...)
	}
	j.buf = buf
	if _, err := j.f.Write(buf); err != nil {
		return j.end(), j.undo(err)
	}
	if err := j.f.Sync(); err != nil {
		return j.end(), j.undo(err)
	}
	j.size += int64(len(buf))
	if cap(j.buf) > 4<<20 {
		j.buf = nil // a huge group should not pin its buffer
	}
	return j.end(), nil
}

// undo cuts the open segment back to its size before a failed Append.
func (j *Journal) undo(err error) error {
	if terr := j.f.Truncate(j.size); terr != nil {
		err = errors.Join(err, terr)
	}
	if _, serr := j.f.Seek(j.size, io.SeekStart); serr != nil {
		err = errors.Join(err, serr)
	}
	return fmt.Errorf("journal: appending to %s: %w", j.f.Name(), err)
}

func (j *Journal) end() Pos { return Pos{Seg: j.segs[len(j.segs)-1], Off: j.size} }

// rotate closes the open segment and starts the next one.
func (j *Journal) rotate() error {
	next := j.segs[len(j.segs)-1] + 1
	f, err := os.OpenFile(segName(j.dir, next), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("journal: starting segment %d: %w", next, err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := j.f.Close(); err != nil {
		f.Close()
		return fmt.Errorf("journal: closing segment %d: %w", j.segs[len(j.segs)-1], err)
	}
	j.f, j.size = f, 0
	j.segs = append(j.segs, next)
	return nil
}

// Release tells the journal that every frame before p is safe elsewhere:
// the segments wholly before p are deleted.
func (j *Journal) Release(p Pos) error {
	keep := j.segs[:0]
	removed := false
	for i, n := range j.segs {
		if n < p.Seg && i < len(j.segs)-1 {
			if err := os.Remove(segName(j.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				j.segs = append(keep, j.segs[i:]...)
				return fmt.Errorf("journal: deleting segment %d: %w", n, err)
			}
			removed = true
			continue
		}
		keep = append(keep, n)
	}
	j.segs = keep
	if removed {
		return syncDir(j.dir)
	}
	return nil
}

// Reset empties the journal: everything in it is safe elsewhere.
func (j *Journal) Reset() error {
	if err := j.Release(j.end()); err != nil {
		return err
	}
	if j.size == 0 {
		return nil
	}
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("journal: emptying %s: %w", j.f.Name(), err)
	}
	if _, err := j.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("journal: %s: %w", j.f.Name(), err)
	}
	j.size = 0
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: emptying %s: %w", j.f.Name(), err)
	}
	return nil
}

// End is the position after the last frame appended.
func (j *Journal) End() Pos { return j.end() }

// Close closes the open segment; the frames stay for the next Open.
func (j *Journal) Close() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("journal: closing %s: %w", j.f.Name(), err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: syncing %s: %w", dir, err)
	}
	return nil
}
