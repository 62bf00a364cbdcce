package bfd

import (
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the BFD metrics, under MetalLB's names where MetalLB has them (its FRR mode exports
// metallb_bfd_*), so that dashboards carry over. A nil *Metrics records nothing.
type Metrics struct {
	up                 *prometheus.GaugeVec
	in, out            *prometheus.CounterVec
	upEvents, downEvts *prometheus.CounterVec
	bad                *prometheus.CounterVec
}

// NewMetrics registers the BFD metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "metallb_bfd_session_up",
			Help: "BFD session state (1 is up, 0 is down) per peer"}, []string{"peer"}),
		in: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "metallb_bfd_control_packet_input",
			Help: "BFD control packets received from a peer"}, []string{"peer"}),
		out: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "metallb_bfd_control_packet_output",
			Help: "BFD control packets sent to a peer"}, []string{"peer"}),
		upEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "metallb_bfd_session_up_events",
			Help: "BFD sessions that went up, per peer"}, []string{"peer"}),
		downEvts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "metallb_bfd_session_down_events",
			Help: "BFD sessions that went down, per peer"}, []string{"peer"}),
		bad: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ironlb_bfd_dropped_packets_total",
			Help: "BFD packets dropped: malformed, not from one hop away, or for no session"}, []string{"peer", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.up, m.in, m.out, m.upEvents, m.downEvts, m.bad)
	}
	return m
}

func (m *Metrics) sessionUp(peer netip.Addr, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(peer.String()).Set(v)
}

func (m *Metrics) change(peer netip.Addr, s State) {
	if m == nil {
		return
	}
	switch s {
	case Up:
		m.upEvents.WithLabelValues(peer.String()).Inc()
	case Down:
		m.downEvts.WithLabelValues(peer.String()).Inc()
	}
}

func (m *Metrics) sent(peer netip.Addr) {
	if m != nil {
		m.out.WithLabelValues(peer.String()).Inc()
	}
}

func (m *Metrics) received(peer netip.Addr) {
	if m != nil {
		m.in.WithLabelValues(peer.String()).Inc()
	}
}

// UnknownPeer is the peer label of packets dropped from an address no session is configured
// with: one series for all of them, so that forged source addresses cannot grow the metrics.
const UnknownPeer = "unknown"

// dropped counts a dropped packet, under its sender when a session with it is configured.
func (m *Metrics) dropped(peer netip.Addr, configured bool, reason string) {
	if m == nil {
		return
	}
	label := UnknownPeer
	if configured {
		label = peer.String()
	}
	m.bad.WithLabelValues(label, reason).Inc()
}

func (m *Metrics) forget(peer netip.Addr) {
	if m == nil {
		return
	}
	for _, v := range []*prometheus.CounterVec{m.in, m.out, m.upEvents, m.downEvts} {
		v.DeleteLabelValues(peer.String())
	}
	m.up.DeleteLabelValues(peer.String())
	m.bad.DeletePartialMatch(prometheus.Labels{"peer": peer.String()})
}
