package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func frames(t *testing.T, dir string) []string {
	t.Helper()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var got []string
	if err := j.Replay(func(p []byte) error { got = append(got, string(p)); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAppendReplayAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append([]byte("a"), []byte("bb")); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append([]byte("")); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := frames(t, dir); !slices.Equal(got, []string{"a", "bb", ""}) {
		t.Fatalf("replayed %q", got)
	}
}

// A crash in the middle of a write leaves a torn frame at the end: Open cuts
// it off and keeps every frame an Append returned for.
func TestTornEndIsCut(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	end := j.End()
	if _, err := j.Append([]byte("torn-frame")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	name := segName(dir, end.Seg)
	for _, cut := range []int64{end.Off + 3, end.Off + headerSize + 2} {
		if err := os.Truncate(name, cut); err != nil {
			t.Fatal(err)
		}
		if got := frames(t, dir); !slices.Equal(got, []string{"kept"}) {
			t.Fatalf("cut at %d: replayed %q", cut, got)
		}
	}
	// A flipped bit in the last frame fails its checksum: cut too.
	j, _ = Open(dir)
	j.Append([]byte("flipped"))
	j.Close()
	b, _ := os.ReadFile(name)
	b[len(b)-1] ^= 1
	os.WriteFile(name, b, 0o640)
	if got := frames(t, dir); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("flipped: replayed %q", got)
	}
}

func TestCorruptOlderSegmentIsRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%016d.seg", 1)), []byte{9, 0, 0, 0, 1, 2, 3, 4, 'x'}, 0o640)
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%016d.seg", 2)), nil, 0o640)
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Replay(func([]byte) error { return nil }); err == nil {
		t.Fatal("replayed a corrupt segment without an error")
	}
}

func TestReleaseDeletesSegments(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, SegmentSize)
	if _, err := j.Append(big); err != nil {
		t.Fatal(err)
	}
	mid, err := j.Append([]byte("second segment"))
	if err != nil {
		t.Fatal(err)
	}
	if mid.Seg != 2 {
		t.Fatalf("no new segment past SegmentSize: %+v", mid)
	}
	if _, err := j.Append([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := j.Release(mid); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(segName(dir, 1)); !os.IsNotExist(err) {
		t.Fatalf("segment 1 not deleted: %v", err)
	}
	if err := j.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append([]byte("new")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if got := frames(t, dir); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("replayed %q", got)
	}
}
