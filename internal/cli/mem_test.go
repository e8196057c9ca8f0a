package cli

import (
	"runtime/debug"
	"testing"
)

// TestGCForReplay checks replay's collector policy: GOGC 400 and a soft
// memory limit of a quarter of the machine unless the environment sets
// them, and the previous policy restored afterwards.
func TestGCForReplay(t *testing.T) {
	gcPercent := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	limit0, pct0 := debug.SetMemoryLimit(-1), gcPercent()
	restore := gcForReplay()
	if got := gcPercent(); got != replayGCPercent {
		t.Errorf("GOGC during replay %d, want %d", got, replayGCPercent)
	}
	if total := physicalMemory(); total > 0 {
		if got := debug.SetMemoryLimit(-1); got != int64(total/replayMemoryShare) {
			t.Errorf("memory limit during replay %d, want %d (a quarter of %d)", got, total/replayMemoryShare, total)
		}
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != limit0 {
		t.Errorf("memory limit after replay %d, want %d restored", got, limit0)
	}
	if got := gcPercent(); got != pct0 {
		t.Errorf("GOGC after replay %d, want %d restored", got, pct0)
	}

	t.Setenv("GOMEMLIMIT", "1GiB") // the user's choice wins
	restore = gcForReplay()
	if got := debug.SetMemoryLimit(-1); got != limit0 {
		t.Errorf("memory limit with GOMEMLIMIT set changed to %d", got)
	}
	restore()
}
