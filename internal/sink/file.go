package sink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// FileConfig is a local file of one record per line, rotated by size: a log
// shipper (Filebeat, Fluent Bit, the Splunk forwarder, a Security Lake
// uploader) picks it up from there.
type FileConfig struct {
	Path string `yaml:"path"`
	// MaxSizeMB rotates the file before it would grow past this size.
	MaxSizeMB int64 `yaml:"max_size_mb"`
	// Keep is how many rotated files (path.1 the newest ... path.N) are
	// kept besides the current one.
	Keep int `yaml:"keep"`
}

// rotatingFile appends lines to path, rotating path to path.1, path.1 to
// path.2 and so on when the next line would make it exceed maxSize.
type rotatingFile struct {
	path    string
	maxSize int64
	keep    int
	f       *os.File
	size    int64
}

func (r *rotatingFile) open() error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o750); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("file sink: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

func (r *rotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("file sink: closing %s: %w", r.path, err)
	}
	r.f = nil
	if r.keep == 0 {
		if err := os.Remove(r.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("file sink: %w", err)
		}
		return r.open()
	}
	if err := os.Remove(fmt.Sprintf("%s.%d", r.path, r.keep)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("file sink: %w", err)
	}
	for i := r.keep - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("file sink: %w", err)
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	return r.open()
}

// writeLines writes the lines (each ending in \n), rotating between lines
// as needed, and syncs: a batch counts as delivered only once on disk.
func (r *rotatingFile) writeLines(lines [][]byte) error {
	if r.f == nil {
		if err := r.open(); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	flush := func() error {
		if buf.Len() == 0 {
			return nil
		}
		n, err := r.f.Write(buf.Bytes())
		r.size += int64(n)
		buf.Reset()
		if err != nil {
			return fmt.Errorf("file sink: writing %s: %w", r.path, err)
		}
		return nil
	}
	for _, l := range lines {
		if r.size+int64(buf.Len()+len(l)) > r.maxSize && r.size+int64(buf.Len()) > 0 {
			if err := flush(); err != nil {
				return err
			}
			if err := r.f.Sync(); err != nil {
				return fmt.Errorf("file sink: syncing %s: %w", r.path, err)
			}
			if err := r.rotate(); err != nil {
				return err
			}
		}
		buf.Write(l)
	}
	if err := flush(); err != nil {
		return err
	}
	if err := r.f.Sync(); err != nil {
		return fmt.Errorf("file sink: syncing %s: %w", r.path, err)
	}
	return nil
}

func (r *rotatingFile) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// fileSender writes one encoded record per line.
type fileSender struct {
	file   *rotatingFile
	encode func(*Record) ([]byte, error)
}

func (s *fileSender) Send(ctx context.Context, recs []Record) (int, error) {
	lines := make([][]byte, 0, len(recs))
	for i := range recs {
		b, err := s.encode(&recs[i])
		if err != nil {
			if i == 0 {
				return 0, Permanent(err)
			}
			// Write what encoded; the next Send starts at the bad one.
			if werr := s.file.writeLines(lines); werr != nil {
				return 0, werr
			}
			return i, Permanent(err)
		}
		lines = append(lines, append(b, '\n'))
	}
	if err := s.file.writeLines(lines); err != nil {
		// Part of the batch may be on disk: it is written again, and the
		// reader sees it twice (at least once).
		s.file.Close()
		return 0, err
	}
	return len(recs), nil
}

func (s *fileSender) Close() error { return s.file.Close() }

// ocsfHTTPSender posts a batch of OCSF findings as NDJSON.
type ocsfHTTPSender struct {
	post    *httpPoster
	url     string
	product Product
}

func (s *ocsfHTTPSender) Send(ctx context.Context, recs []Record) (int, error) {
	var body bytes.Buffer
	for i := range recs {
		b, err := EncodeOCSF(&recs[i], s.product)
		if err != nil {
			return 0, Permanent(err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	status, hdr, resp, err := s.post.post(ctx, s.url, "application/x-ndjson", body.Bytes(), nil)
	if err != nil {
		return 0, err
	}
	if err := statusError(s.url, status, hdr, resp); err != nil {
		return 0, err
	}
	return len(recs), nil
}

func (s *ocsfHTTPSender) Close() error {
	s.post.client.CloseIdleConnections()
	return nil
}
