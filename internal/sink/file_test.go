package sink

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// readRotated returns the lines of path and its rotated files, oldest rotated file first.
func readRotated(t *testing.T, path string, keep int) (lines []string, files int) {
	t.Helper()
	names := []string{}
	for i := keep + 3; i >= 1; i-- {
		names = append(names, fmt.Sprintf("%s.%d", path, i))
	}
	names = append(names, path)
	for _, n := range names {
		f, err := os.Open(n)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files++
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
	}
	return lines, files
}

func ocsfIDs(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		doc := validateOCSF(t, []byte(l))
		uid, _ := lookup(doc, "finding_info.uid")
		out = append(out, uid.(string))
	}
	return out
}

func TestOCSFFileRotatesBySizeAndKeepsN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "findings.ocsf.ndjson")
	c := Config{Name: "lake", Type: TypeOCSF, Start: "earliest", BatchSize: 3, File: &FileConfig{Path: path, Keep: 2}}
	s, err := c.Build(BuildOptions{Product: testProduct})
	if err != nil {
		t.Fatal(err)
	}
	fsnd := s.Sender.(*fileSender)
	one, _ := EncodeOCSF(&Record{Finding: numbered(1)[0]}, testProduct)
	fsnd.file.maxSize = int64(len(one)+1) * 4 // about four findings a file

	fs := numbered(10)
	deliverAll(t, s, fs, newFakeClock())

	lines, files := readRotated(t, path, 2)
	if files != 3 {
		t.Errorf("%d files, want the current one and keep=2 rotated", files)
	}
	got := ocsfIDs(t, lines)
	// Only the oldest findings may have rotated away, and the rest are in
	// order.
	if len(got) == 0 || len(got) >= len(fs) || !slices.Equal(got, ids(fs)[len(fs)-len(got):]) {
		t.Errorf("files hold %v, want a suffix of %v with the oldest rotated out", got, ids(fs))
	}
	for _, n := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(n)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > fsnd.file.maxSize {
			t.Errorf("%s is %d bytes, over the %d limit", n, st.Size(), fsnd.file.maxSize)
		}
	}

	// Nothing is lost while keep covers the volume.
	path2 := filepath.Join(t.TempDir(), "all.ndjson")
	c2 := Config{Name: "lake2", Type: TypeOCSF, Start: "earliest", File: &FileConfig{Path: path2, Keep: 10}}
	s2, err := c2.Build(BuildOptions{Product: testProduct})
	if err != nil {
		t.Fatal(err)
	}
	s2.Sender.(*fileSender).file.maxSize = fsnd.file.maxSize
	deliverAll(t, s2, fs, newFakeClock())
	lines2, _ := readRotated(t, path2, 10)
	if got := ocsfIDs(t, lines2); !slices.Equal(got, ids(fs)) {
		t.Errorf("with keep=10 the files hold %v, want all of %v in order", got, ids(fs))
	}
}

func TestCEFFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cef.log")
	c := Config{Name: "cef-file", Type: TypeCEF, Start: "earliest", File: &FileConfig{Path: path}}
	s, err := c.Build(BuildOptions{Product: testProduct})
	if err != nil {
		t.Fatal(err)
	}
	f := trickyAlert()
	deliverAll(t, s, append(numbered(2), f), newFakeClock())
	lines, _ := readRotated(t, path, 5)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (a summary's line breaks must stay escaped)", len(lines))
	}
	_, ext := parseCEF(t, lines[2])
	if ext["msg"] != f.Summary {
		t.Errorf("msg %q, want %q", ext["msg"], f.Summary)
	}
}

func TestOCSFOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	var ctype, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		ctype, auth = r.Header.Get("Content-Type"), r.Header.Get("Authorization")
		got = append(got, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c := Config{Name: "collector", Type: TypeOCSF, Start: "earliest", BatchSize: 4,
		HTTP: &HTTPConfig{URL: srv.URL + "/ingest", Headers: map[string]string{"Authorization": "Bearer abc"}}}
	s, err := c.Build(BuildOptions{Product: testProduct})
	if err != nil {
		t.Fatal(err)
	}
	fs := numbered(9)
	deliverAll(t, s, fs, newFakeClock())
	if uids := ocsfIDs(t, got); !slices.Equal(uids, ids(fs)) {
		t.Errorf("collector got %v, want %v", uids, ids(fs))
	}
	if ctype != "application/x-ndjson" || auth != "Bearer abc" {
		t.Errorf("content type %q, authorization %q", ctype, auth)
	}
	var doc map[string]any
	_ = json.Unmarshal([]byte(got[0]), &doc)
	if doc["class_uid"] != 2004.0 {
		t.Errorf("class_uid %v", doc["class_uid"])
	}
}
