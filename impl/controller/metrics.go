package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/impl/allocator"
)

// Metrics are the controller's Prometheus metrics, under MetalLB's names so that existing
// dashboards and alerts keep working.
type Metrics struct {
	inUse, total *prometheus.GaugeVec
	loaded       prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		inUse: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "metallb", Subsystem: "allocator",
			Name: "addresses_in_use_total", Help: "Number of IP addresses in use, per pool"}, []string{"pool"}),
		total: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "metallb", Subsystem: "allocator",
			Name: "addresses_total", Help: "Number of usable IP addresses, per pool"}, []string{"pool"}),
		loaded: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "metallb", Subsystem: "k8s_client",
			Name: "config_loaded_bool", Help: "1 if the last configuration was loaded, 0 if it was rejected"}),
	}
	if reg != nil {
		reg.MustRegister(m.inUse, m.total, m.loaded)
	}
	return m
}

func (m *Metrics) poolStats(pool string, st allocator.PoolStats) {
	if m == nil {
		return
	}
	used := st.AssignedIPv4 + st.AssignedIPv6
	m.inUse.WithLabelValues(pool).Set(float64(used))
	m.total.WithLabelValues(pool).Set(float64(used) + float64(st.AvailableIPv4) + float64(st.AvailableIPv6))
}

func (m *Metrics) configLoaded(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.loaded.Set(1)
	} else {
		m.loaded.Set(0)
	}
}
