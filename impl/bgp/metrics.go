package bgp

import "github.com/prometheus/client_golang/prometheus"

// Metrics are MetalLB's BGP metrics, under its names. A nil *Metrics records nothing.
type Metrics struct {
	up       *prometheus.GaugeVec
	updates  *prometheus.CounterVec
	prefixes *prometheus.GaugeVec
}

// NewMetrics registers the BGP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "metallb_bgp_session_up",
			Help: "BGP session state (1 is up, 0 is down), per peer address"}, []string{"peer"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "metallb_bgp_updates_total",
			Help: "Number of BGP UPDATE messages sent"}, []string{"peer"}),
		prefixes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "metallb_bgp_announced_prefixes_total",
			Help: "Number of prefixes currently being advertised on the BGP session"}, []string{"peer"}),
	}
	if reg != nil {
		reg.MustRegister(m.up, m.updates, m.prefixes)
	}
	return m
}

func (m *Metrics) sessionUp(peer string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(peer).Set(v)
}

func (m *Metrics) update(peer string) {
	if m != nil {
		m.updates.WithLabelValues(peer).Inc()
	}
}

func (m *Metrics) announced(peer string, n int) {
	if m != nil {
		m.prefixes.WithLabelValues(peer).Set(float64(n))
	}
}

func (m *Metrics) forget(peer string) {
	if m == nil {
		return
	}
	m.up.DeleteLabelValues(peer)
	m.updates.DeleteLabelValues(peer)
	m.prefixes.DeleteLabelValues(peer)
}
