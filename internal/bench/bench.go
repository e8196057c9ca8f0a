// Package bench is `custos bench`: it generates a simulated organisation and
// measures, in one process and one run, how fast Custos reads it at every
// layer: splitting lines, decoding (encoding/json and the fast path), a full
// replay through the engine with the rule pack and baselines, ingest into
// `custos serve` over loopback HTTP, event-to-finding latency at a fixed
// offered load, and memory. Every figure is printed next to the others so
// ratios come from the same machine state.
package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/custos-io/custos/internal/config"
	"github.com/custos-io/custos/internal/event"
	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/replay"
	"github.com/custos-io/custos/internal/rules"
	"github.com/custos-io/custos/internal/sim"
)

// Options configures one run.
type Options struct {
	// Sim is the organisation to generate; ignored if Dir already holds one.
	Sim sim.Config
	// Dir is where the organisation is (or is written). Empty: a temporary
	// directory, removed afterwards.
	Dir string
	// Config is the Custos configuration (rule pack, baselines, risk).
	Config config.Config
	// ServeEvents is how many events are posted to serve (0: skip).
	ServeEvents int
	// ServeClients is how many concurrent HTTP clients post batches.
	ServeClients int
	// ServeBatch is the events per request.
	ServeBatch int
	// LatencyRate is the offered load of the latency test, events/s, and
	// LatencyEvents how many events it offers (0: skip).
	LatencyRate   int
	LatencyEvents int
	// Runs is how many times every stage is measured (default 1). The stages
	// run in turn, once each per round, so a change in the machine's load
	// touches every stage alike; the report gives each figure's median.
	Runs int
	// Progress, if set, is told what is being measured.
	Progress io.Writer
	// ReplayGC, if set, is the collector policy the replay stage runs
	// under: `custos bench` passes the one `custos replay` sets, so the stage
	// measures what a user's replay costs rather than Go's default policy.
	ReplayGC *GCPolicy
}

// GCPolicy is a garbage collector setting for one stage.
type GCPolicy struct {
	Note string // what it is, for the report
	Set  func() (restore func())
}

// Row is one measurement.
type Row struct {
	Name    string
	Records int64         // records processed
	Bytes   int64         // input bytes
	Wall    time.Duration // elapsed
	CPU     time.Duration // user+system CPU of the whole process
	Note    string
	// Runs is how many runs Wall and CPU are the medians of; WallMin and
	// WallMax their spread.
	Runs             int
	WallMin, WallMax time.Duration
}

// PerSec is records per wall second.
func (r Row) PerSec() float64 { return float64(r.Records) / max(r.Wall.Seconds(), 1e-9) }

// PerCPUSec is records per CPU second.
func (r Row) PerCPUSec() float64 { return float64(r.Records) / max(r.CPU.Seconds(), 1e-9) }

// Report is the outcome of a run.
type Report struct {
	Date     time.Time
	Machine  string
	Org      string
	Load     string // load average before and after
	Rows     []Row
	Findings int64
	// Latency of serve ingest acknowledgements (events alone; events with
	// their ticket changes) and event-to-finding.
	AckP50, AckP99, AckMax  time.Duration
	MixP50, MixP99, MixMax  time.Duration
	FindP50, FindP99, FindN time.Duration
	FindCount               int
	FindRate                float64 // offered events/s achieved
	// Memory.
	PeakRSS       int64 // VmHWM of the process (bytes), all phases
	ReplayPeakRSS int64 // VmHWM during the replay phase, if it could be reset
	ReplayHeap    uint64
	Actors        int
	// Runs is how many times each stage ran; figures are medians.
	Runs int
	// ReplayGC says which collector policy the replay stage ran under.
	ReplayGC string
}

// Run measures. It never asserts a time: the report is the result.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.ServeClients <= 0 {
		o.ServeClients = 4
	}
	if o.ServeBatch <= 0 {
		o.ServeBatch = 1000
	}
	rep := &Report{Date: time.Now().UTC(), Machine: machine(), Load: loadavg(), ReplayGC: "Go's default (GOGC 100 unless the environment sets it)"}
	if o.ReplayGC != nil {
		rep.ReplayGC = o.ReplayGC.Note
	}
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "custos-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	o.Dir = dir
	if _, err := os.Stat(filepath.Join(dir, "events.ndjson")); err != nil {
		logf("generating %d agents x %d days in %s", o.Sim.Agents, o.Sim.Days, dir)
		if _, err := sim.WriteDir(ctx, o.Sim, dir, sim.Options{}); err != nil {
			return nil, err
		}
	}
	evPath, tkPath := filepath.Join(dir, "events.ndjson"), filepath.Join(dir, "tickets.ndjson")
	evLines, evBytes, err := countLines(evPath)
	if err != nil {
		return nil, err
	}
	tkLines, tkBytes, _ := countLines(tkPath)
	rep.Org = fmt.Sprintf("%s: %d events (%.0f MB), %d ticket changes (%.0f MB)", dir, evLines, float64(evBytes)/1e6, tkLines, float64(tkBytes)/1e6)

	pack, err := o.Config.Pack()
	if err != nil {
		return nil, err
	}
	var trials []*Report
	for i := range max(o.Runs, 1) {
		if o.Runs > 1 {
			logf("round %d of %d", i+1, o.Runs)
		}
		t, err := trial(ctx, o, pack, logf, evPath, evBytes+tkBytes)
		if err != nil {
			return nil, err
		}
		trials = append(trials, t)
	}
	rep.combine(trials)
	rep.PeakRSS = peakRSS()
	rep.Load += " -> " + loadavg()
	return rep, nil
}

// trial measures every stage once.
func trial(ctx context.Context, o Options, pack *rules.Pack, logf func(string, ...any), evPath string, inBytes int64) (*Report, error) {
	rep := &Report{}
	dir := o.Dir

	// 1. Lines: the floor, reading and splitting.
	logf("scanning lines")
	row, err := measure("scan lines (events)", func() (int64, int64, error) {
		n, b, err := countLines(evPath)
		return n, b, err
	})
	if err != nil {
		return nil, err
	}
	rep.Rows = append(rep.Rows, row)

	// 2. Decode only, one core.
	for _, d := range []struct {
		name string
		fn   func([]byte) (event.Event, error)
	}{
		{"decode events, encoding/json (1 core)", event.DecodeEventJSON},
		{"decode events, fast path (1 core)", event.DecodeEvent},
	} {
		logf("%s", d.name)
		row, err := measure(d.name, func() (int64, int64, error) { return decodeFile(evPath, d.fn) })
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, row)
	}

	// 3. Full replay, as `custos replay` does it (findings marshalled).
	logf("replay")
	resetPeak := clearRefs()
	var findings int64
	var counts replay.Counts
	var heap uint64
	var actors int
	row, err = measure("replay: full pack + baselines", func() (int64, int64, error) {
		if o.ReplayGC != nil {
			defer o.ReplayGC.Set()()
		}
		eng := o.Config.BatchEngineWith(pack, func(f *finding.Finding) {
			findings++
			if _, err := finding.MarshalLine(f); err != nil {
				panic(err) // a finding that cannot be marshalled is a bug
			}
		}, nil)
		eng.Start(ctx)
		var err error
		counts, err = replay.Run(ctx, replay.Options{Dir: dir, Lateness: o.Config.Replay.Lateness}, eng)
		if cerr := eng.Close(); err == nil {
			err = cerr
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap, actors = ms.HeapAlloc, eng.Actors()
		runtime.KeepAlive(eng)
		return counts.Events, inBytes, err
	})
	if err != nil {
		return nil, err
	}
	row.Note = fmt.Sprintf("%d events + %d ticket changes, %d findings", counts.Events, counts.Tickets, findings)
	rep.Rows = append(rep.Rows, row)
	rep.Findings, rep.ReplayHeap, rep.Actors = findings, heap, actors
	if resetPeak {
		rep.ReplayPeakRSS = peakRSS()
	}
	debug.FreeOSMemory()

	// 4. Serve ingest over loopback HTTP.
	if o.ServeEvents > 0 {
		logf("serve ingest: %d events, %d clients, %d per request", o.ServeEvents, o.ServeClients, o.ServeBatch)
		reqs, err := batches(evPath, o.ServeEvents, o.ServeBatch)
		if err != nil {
			return nil, fmt.Errorf("serve ingest: %w", err)
		}
		r, err := serveIngest(ctx, o, pack, fmt.Sprintf("serve ingest, loopback HTTP (%d clients x %d events/request, durable)", o.ServeClients, o.ServeBatch), reqs)
		if err != nil {
			return nil, fmt.Errorf("serve ingest: %w", err)
		}
		rep.Rows = append(rep.Rows, r.row)
		rep.AckP50, rep.AckP99, rep.AckMax = r.p50, r.p99, r.max

		// Events alone make nearly every access an access without a ticket,
		// so the engine alerts on a fifth of them and the store spends its
		// time on findings; a live feed sends the ticket changes alongside.
		logf("serve ingest: %d events with their ticket changes, in time order", o.ServeEvents)
		if reqs, err = mixedBatches(filepath.Dir(evPath), o.ServeEvents, o.ServeBatch); err != nil {
			return nil, fmt.Errorf("serve ingest with tickets: %w", err)
		}
		r, err = serveIngest(ctx, o, pack, fmt.Sprintf("serve ingest, events and their ticket changes in time order (%d clients x up to %d records/request, durable)", o.ServeClients, o.ServeBatch), reqs)
		if err != nil {
			return nil, fmt.Errorf("serve ingest with tickets: %w", err)
		}
		rep.Rows = append(rep.Rows, r.row)
		rep.MixP50, rep.MixP99, rep.MixMax = r.p50, r.p99, r.max
	}
	// 5. Event to finding at a fixed offered load.
	if o.LatencyEvents > 0 && o.LatencyRate > 0 {
		logf("event-to-finding: %d events offered at %d/s", o.LatencyEvents, o.LatencyRate)
		r, err := findingLatency(ctx, o, pack)
		if err != nil {
			return nil, fmt.Errorf("event-to-finding: %w", err)
		}
		rep.FindP50, rep.FindP99, rep.FindN = r.p50, r.p99, r.max
		rep.FindCount, rep.FindRate = r.n, r.rate
	}
	return rep, nil
}

// combine sets r's figures to the medians of the trials' (peak memory: the
// highest), each row's wall and CPU time taken apart.
func (r *Report) combine(trials []*Report) {
	first := trials[0]
	r.Rows = slices.Clone(first.Rows)
	for i := range r.Rows {
		row := &r.Rows[i]
		row.Runs = len(trials)
		row.Wall = median(trials, func(t *Report) time.Duration { return t.Rows[i].Wall })
		row.CPU = median(trials, func(t *Report) time.Duration { return t.Rows[i].CPU })
		row.WallMin, row.WallMax = row.Wall, row.Wall
		for _, t := range trials {
			row.WallMin, row.WallMax = min(row.WallMin, t.Rows[i].Wall), max(row.WallMax, t.Rows[i].Wall)
		}
	}
	r.Findings, r.Actors, r.FindCount = first.Findings, first.Actors, first.FindCount
	r.AckP50 = median(trials, func(t *Report) time.Duration { return t.AckP50 })
	r.AckP99 = median(trials, func(t *Report) time.Duration { return t.AckP99 })
	r.AckMax = median(trials, func(t *Report) time.Duration { return t.AckMax })
	r.MixP50 = median(trials, func(t *Report) time.Duration { return t.MixP50 })
	r.MixP99 = median(trials, func(t *Report) time.Duration { return t.MixP99 })
	r.MixMax = median(trials, func(t *Report) time.Duration { return t.MixMax })
	r.FindP50 = median(trials, func(t *Report) time.Duration { return t.FindP50 })
	r.FindP99 = median(trials, func(t *Report) time.Duration { return t.FindP99 })
	r.FindN = median(trials, func(t *Report) time.Duration { return t.FindN })
	r.FindRate = median(trials, func(t *Report) float64 { return t.FindRate })
	r.ReplayHeap = median(trials, func(t *Report) uint64 { return t.ReplayHeap })
	for _, t := range trials {
		r.ReplayPeakRSS = max(r.ReplayPeakRSS, t.ReplayPeakRSS)
	}
	r.Runs = len(trials)
}

// median is the median of f over the trials (the lower one of an even
// count, as percentile takes it).
func median[T cmp.Ordered](trials []*Report, f func(*Report) T) T {
	v := make([]T, len(trials))
	for i, t := range trials {
		v[i] = f(t)
	}
	slices.Sort(v)
	return v[(len(v)-1)/2]
}

// measure times fn in wall and process CPU time.
func measure(name string, fn func() (records, bytes int64, err error)) (Row, error) {
	runtime.GC()
	c0, t0 := cpuTime(), time.Now()
	n, b, err := fn()
	return Row{Name: name, Records: n, Bytes: b, Wall: time.Since(t0), CPU: cpuTime() - c0}, err
}

func countLines(path string) (n, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	err = event.Lines(f, func(_ int, line []byte, _ bool) error {
		n++
		size += int64(len(line)) + 1
		return nil
	})
	return n, size, err
}

func decodeFile(path string, decode func([]byte) (event.Event, error)) (n, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	err = event.Lines(f, func(_ int, line []byte, _ bool) error {
		size += int64(len(line)) + 1
		if _, err := decode(line); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, size, err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's high-water resident set (VmHWM), 0 if unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// clearRefs resets VmHWM so the next phase's peak is its own (Linux).
func clearRefs() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d CPU %s%s, %s %s/%s, GOMAXPROCS %d", runtime.NumCPU(), model, mem,
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// percentile of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(p * float64(len(d)-1))
	return d[i]
}

func sortDurations(d []time.Duration) { slices.Sort(d) }

// Write prints the report as Markdown.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "date: %s\nmachine: %s\norg: %s\nload average (1, 5, 15 min): %s\n", r.Date.Format(time.RFC3339), r.Machine, r.Org, r.Load)
	if r.Runs > 1 {
		fmt.Fprintf(&b, "every stage ran %d times in rounds; figures are medians (wall and CPU each), the wall range in the note\n", r.Runs)
	}
	b.WriteString("\n")
	var jsonRate float64
	for _, row := range r.Rows {
		if strings.Contains(row.Name, "encoding/json") {
			jsonRate = row.PerCPUSec()
		}
	}
	b.WriteString("| stage | records | wall | records/s (wall) | CPU | records/CPU-s | MB/s (wall) | x encoding/json decode (CPU) | note |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, row := range r.Rows {
		ratio := ""
		if jsonRate > 0 {
			ratio = fmt.Sprintf("%.2f", row.PerCPUSec()/jsonRate)
		}
		mbs := ""
		if row.Bytes > 0 {
			mbs = fmt.Sprintf("%.0f", float64(row.Bytes)/1e6/max(row.Wall.Seconds(), 1e-9))
		}
		note := row.Note
		if row.Runs > 1 {
			note = strings.TrimPrefix(fmt.Sprintf("%s; wall %s-%s", note, row.WallMin.Round(time.Millisecond), row.WallMax.Round(time.Millisecond)), "; ")
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %s | %.0f | %s | %s | %s |\n", row.Name, row.Records,
			row.Wall.Round(time.Millisecond), row.PerSec(), row.CPU.Round(time.Millisecond), row.PerCPUSec(), mbs, ratio, note)
	}
	b.WriteString("\n")
	if r.AckP50 > 0 {
		fmt.Fprintf(&b, "serve ingest acknowledgement latency: p50 %s, p99 %s, max %s\n", r.AckP50.Round(time.Microsecond), r.AckP99.Round(time.Microsecond), r.AckMax.Round(time.Microsecond))
	}
	if r.MixP50 > 0 {
		fmt.Fprintf(&b, "serve ingest with ticket changes, acknowledgement latency: p50 %s, p99 %s, max %s\n", r.MixP50.Round(time.Microsecond), r.MixP99.Round(time.Microsecond), r.MixMax.Round(time.Microsecond))
	}
	if r.FindCount > 0 {
		fmt.Fprintf(&b, "event-to-finding latency at %.0f records/s offered (events and ticket changes in time order ; %d findings): p50 %s, p99 %s, max %s\n", r.FindRate, r.FindCount,
			r.FindP50.Round(time.Microsecond), r.FindP99.Round(time.Microsecond), r.FindN.Round(time.Microsecond))
	}
	fmt.Fprintf(&b, "replay: heap after GC with the engine alive %.1f MiB for %d actors (%.0f KiB per actor, ticket index and windows included)\n",
		float64(r.ReplayHeap)/(1<<20), r.Actors, float64(r.ReplayHeap)/1024/float64(max(r.Actors, 1)))
	fmt.Fprintf(&b, "replay ran under the collector policy %s\n", r.ReplayGC)
	if r.ReplayPeakRSS > 0 {
		fmt.Fprintf(&b, "peak RSS during replay: %.0f MiB\n", float64(r.ReplayPeakRSS)/(1<<20))
	}
	fmt.Fprintf(&b, "peak RSS of the whole run: %.0f MiB\n", float64(r.PeakRSS)/(1<<20))
	_, err := io.WriteString(w, b.String())
	return err
}
