//go:build linux

package layer2

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are MetalLB's layer 2 metrics (same names and labels) and a count of dropped packets.
type metrics struct {
	requests, responses, gratuitous *prometheus.CounterVec
	malformed                       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "metallb", Subsystem: "layer2", Name: "requests_received",
			Help: "Number of layer 2 requests (ARP, NDP) received for owned IPs"}, []string{"ip"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "metallb", Subsystem: "layer2", Name: "responses_sent",
			Help: "Number of layer 2 responses sent for owned IPs"}, []string{"ip"}),
		gratuitous: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "metallb", Subsystem: "layer2", Name: "gratuitous_sent",
			Help: "Number of gratuitous layer 2 packets sent for owned IPs"}, []string{"ip"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ironlb", Subsystem: "layer2", Name: "malformed_packets_total",
			Help: "Packets dropped because they did not parse as ARP or NDP"}, []string{"protocol"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.responses, m.gratuitous, m.malformed} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
