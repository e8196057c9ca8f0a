package respond

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts response actions and lifecycle checks. It registers
// nothing itself: the server that owns the registry collects it.
type Metrics struct {
	actions      *prometheus.CounterVec
	checks       *prometheus.CounterVec
	activeEnded  prometheus.Gauge
	lastCheckSec prometheus.Gauge
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_response_actions_total",
			Help: "Response action attempts by action, type and result (succeeded, failed, retry, skipped, dry_run).",
		}, []string{"action", "type", "result"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_lifecycle_checks_total",
			Help: "Contract lifecycle checks of the whole roster, by result (ok, error).",
		}, []string{"result"}),
		activeEnded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "custos_lifecycle_active_after_contract",
			Help: "Roster identities still active after their contract ended, at the last lifecycle check.",
		}),
		lastCheckSec: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "custos_lifecycle_last_check_timestamp_seconds",
			Help: "When the last successful lifecycle check of the whole roster ran (Unix time).",
		}),
	}
}

// Collectors returns what to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.actions, m.checks, m.activeEnded, m.lastCheckSec}
}

func (m *Metrics) count(action, typ, result string) {
	if m != nil {
		m.actions.WithLabelValues(action, typ, result).Inc()
	}
}
