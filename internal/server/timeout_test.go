package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A client that sends its headers and part of a body, then stalls, has its
// connection closed after ReadTimeout instead of holding it open; nothing
// of the partial batch is stored, and the server goes on serving others.
func TestStalledUploadIsCut(t *testing.T) {
	h := start(t, filepath.Join(t.TempDir(), "custos.db"), func(s *setup) {
		s.options = func(o *Options) { o.ReadTimeout = 200 * time.Millisecond }
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: custos\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n%s\n",
		testToken, evLine("stalled", "2026-03-03T01:00:00Z", "a", "view", "c-1"))
	// The deadline only stops a hung test; the server should close long before.
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	_, err = io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the stalled upload's connection was still open after a minute")
	}
	if r := h.post("/v1/events", "application/x-ndjson", evLine("ok", "2026-03-03T01:00:00Z", "a", "view", "c-1")); r.status != 200 {
		t.Fatalf("after the stalled upload: %d %s", r.status, r.body)
	}
	h.sync()
	if got := storedEvents(t, h.st); len(got) != 1 || got[0] != "ok" {
		t.Errorf("stored %v, want only the complete request's event", got)
	}
}
