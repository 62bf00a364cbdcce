package config

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors of ParseAddr, matched with errors.Is.
var (
	// ErrNotAddress is returned for a string that is not an IPv4 or IPv6 address.
	ErrNotAddress = errors.New("not an IPv4 or IPv6 address")
	// ErrAddrZone is returned for an IPv6 address with a zone ("fe80::1%eth0"): a zone names an
	// interface of one host and means nothing to a Service, a pool or a peer elsewhere.
	ErrAddrZone = errors.New("an IPv6 zone is not allowed")
	// ErrAddrMapped is returned for an IPv4-mapped IPv6 address ("::ffff:192.0.2.1"): it is the
	// IPv4 address written as IPv6, so it would dodge every comparison against IPv4 pools.
	ErrAddrMapped = errors.New("an IPv4-mapped IPv6 address is not allowed")
)

// ParseAddr parses one address wherever an address enters IronLB (pools, Services'
// loadBalancerIPs and spec.loadBalancerIP, BGP peers). It rejects, unlike netip.ParseAddr, an
// IPv6 zone and an IPv4-mapped IPv6 address; every error matches ErrNotAddress, ErrAddrZone or
// ErrAddrMapped. It does not trim spaces.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q: %w", s, ErrNotAddress)
	}
	return a, checkAddr(s, a)
}

// checkAddr rejects a zone or a 4-in-6 mapped form of a parsed address.
func checkAddr(s string, a netip.Addr) error {
	if z := a.Zone(); z != "" {
		return fmt.Errorf("%q: %w: write %s without %%%s", s, ErrAddrZone, a.WithZone(""), z)
	}
	if a.Is4In6() {
		return fmt.Errorf("%q: %w: write %s", s, ErrAddrMapped, a.Unmap())
	}
	return nil
}
