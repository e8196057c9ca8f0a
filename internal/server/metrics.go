package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

// metrics are the server's Prometheus metrics, on a registry the server
// owns (never the global one), served at /metrics.
type metrics struct {
	reg      *prometheus.Registry
	records  *prometheus.CounterVec
	findings *prometheus.CounterVec
	engine   prometheus.Histogram
	store    *prometheus.HistogramVec
}

// Store operations timed by custos_store_write_seconds.
const (
	opAppend   = "append"
	opPerson   = "put_person"
	opSubject  = "put_subject"
	opFindings = "write_findings"
	opJournal  = "journal"
)

func newMetrics(s *Server) (*metrics, error) {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_ingested_records_total",
			Help: "Records received by the API, by type (events, tickets, roster, subjects) and result (accepted, duplicate, rejected).",
		}, []string{"type", "result"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_findings_total",
			Help: "Findings stored since start (new alerts, new and grown cases, lifecycle alerts), by kind and severity; the start-up rebuild is not counted.",
		}, []string{"kind", "severity"}),
		engine: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "custos_engine_record_seconds",
			Help:    "Time the engine takes to process one record (event, ticket change, roster entry or customer), detectors included.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 11), // 1µs .. ~1s
		}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "custos_store_write_seconds",
			Help:    "Duration of store write transactions (commit and fsync included), by operation; journal is the ingest journal's write and fsync.",
			Buckets: prometheus.ExponentialBuckets(250e-6, 2, 15), // 0.25ms .. ~4s
		}, []string{"op"}),
	}
	for _, r := range []string{"accepted", "duplicate", "rejected"} {
		for _, t := range []string{"events", "tickets"} {
			m.records.WithLabelValues(t, r)
		}
	}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.records, m.findings, m.engine, m.store,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "custos_engine_queue_records",
			Help: "Records accepted and not yet processed by the engine (the /healthz lag).",
		}, func() float64 { return float64(s.queued.Load() - s.processed.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "custos_index_lag_records",
			Help: "Records acknowledged from the ingest journal and not yet in the store, so not yet in store queries (0 without a journal).",
		}, func() float64 { return float64(s.journaled.Load() - s.indexedRecs.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "custos_engine_processed_records_total",
			Help: "Records the engine has processed since start, the start-up rebuild excluded.",
		}, func() float64 { return float64(s.processed.Load()) }),
	}
	if l, ok := s.opts.Sinks.(lagger); ok {
		cs = append(cs, newSinkCollector(l))
	}
	cs = append(cs, s.opts.Collectors...)
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) handler(s *Server) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{s},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// promLogger passes promhttp's errors to the server's log.
type promLogger struct{ s *Server }

func (p promLogger) Println(v ...any) { p.s.log.Error("metrics: " + fmt.Sprint(v...)) }

// observeStore times one store write.
func (m *metrics) observeStore(op string, start time.Time) {
	m.store.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (m *metrics) countFindings(fs []*finding.Finding) {
	for _, f := range fs {
		m.findings.WithLabelValues(string(f.Kind), string(f.Severity)).Inc()
	}
}

// lagger is a dispatcher that reports its sinks' lag; *sink.Dispatcher is
// one.
type lagger interface {
	Lag(ctx context.Context) ([]sink.Lag, error)
}

// sinkCollector reads every consumer's lag at scrape time. Response
// actions are consumers too and appear as sink="respond:<name>".
type sinkCollector struct {
	d                                            lagger
	behind, oldest, delivered, failures, dropped *prometheus.Desc
}

func newSinkCollector(d lagger) *sinkCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"sink"}, nil)
	}
	return &sinkCollector{
		d:         d,
		behind:    desc("custos_sink_behind_findings", "Outbox records after the sink's cursor, not yet delivered (including records its filter will skip)."),
		oldest:    desc("custos_sink_oldest_undelivered_seconds", "Age of the oldest outbox record after the sink's cursor; 0 when caught up."),
		delivered: desc("custos_sink_delivered_total", "Findings the sink delivered since start."),
		failures:  desc("custos_sink_failures_total", "Failed sends (each retried) since start."),
		dropped:   desc("custos_sink_dropped_total", "Findings the receiver refused for good (dropped and logged) since start."),
	}
}

func (c *sinkCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.behind, c.oldest, c.delivered, c.failures, c.dropped} {
		ch <- d
	}
}

// lagTimeout bounds the outbox reads of one scrape.
const lagTimeout = 5 * time.Second

func (c *sinkCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), lagTimeout)
	defer cancel()
	lags, err := c.d.Lag(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.behind, err)
		return
	}
	for _, l := range lags {
		ch <- prometheus.MustNewConstMetric(c.behind, prometheus.GaugeValue, float64(l.Behind), l.Sink)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, l.Oldest.Seconds(), l.Sink)
		ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(l.Delivered), l.Sink)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(l.Failures), l.Sink)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(l.Dropped), l.Sink)
	}
}
