// Package bindaddr reads the listen addresses of IronLB's metrics and health endpoints.
package bindaddr

import (
	"net"
	"net/netip"
	"strings"
)

// Normalize returns a listen address (metrics, health probes) in the form net.Listen takes.
// Besides HOST:PORT, [IPv6]:PORT, :PORT and "0" (disabled) it accepts an IPv6 address written
// without brackets before its port, as the manifests produce from the downward API
// (--metrics-bind-address=$(POD_IP):7472 with an IPv6 pod address): a listen address always has a
// port, so the last colon separates it. Anything else is returned as it is, for the listener to
// refuse with its own message.
func Normalize(s string) string {
	if s == "" || s == "0" {
		return s
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s
	}
	host, port := s[:i], s[i+1:]
	if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" || port == "" {
		return s
	}
	return net.JoinHostPort(host, port)
}
