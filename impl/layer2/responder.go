//go:build linux

package layer2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

// responder answers on one interface: ARP when it has an IPv4 address, NDP when it has an IPv6
// link-local one.
type responder struct {
	a      *Announcer
	ifi    net.Interface
	arp    *arp.Client
	ndp    *ndp.Conn
	closed chan struct{}
	once   sync.Once

	mu     sync.Mutex
	groups map[netip.Addr]int // solicited-node groups joined, with the owned addresses using each
}

func newResponder(ctx context.Context, a *Announcer, ifi net.Interface) (*responder, error) {
	r := &responder{a: a, ifi: ifi, closed: make(chan struct{}), groups: map[netip.Addr]int{}}
	var errs []error
	if c, err := arp.Dial(&ifi); err == nil {
		r.arp = c
	} else {
		errs = append(errs, fmt.Errorf("arp: %w", err))
	}
	if c, _, err := ndp.Listen(&ifi, ndp.LinkLocal); err == nil {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeNeighborSolicitation)
		if err := c.SetICMPFilter(&f); err != nil {
			c.Close()
			errs = append(errs, fmt.Errorf("ndp filter: %w", err))
		} else {
			r.ndp = c
		}
	} else {
		errs = append(errs, fmt.Errorf("ndp: %w", err))
	}
	if r.arp == nil && r.ndp == nil {
		return nil, errors.Join(errs...)
	}
	if r.arp != nil {
		go r.serveARP()
	}
	if r.ndp != nil {
		go r.serveNDP()
	}
	go func() {
		select {
		case <-ctx.Done():
			r.close()
		case <-r.closed:
		}
	}()
	return r, nil
}

func (r *responder) close() {
	r.once.Do(func() {
		close(r.closed)
		if r.arp != nil {
			r.arp.Close()
		}
		if r.ndp != nil {
			r.ndp.Close()
		}
	})
}

func (r *responder) isClosed() bool {
	select {
	case <-r.closed:
		return true
	default:
		return false
	}
}

// serveARP answers ARP requests for owned IPv4 addresses with this interface's MAC.
func (r *responder) serveARP() {
	m := r.a.metrics
	for {
		pkt, eth, err := r.arp.Read()
		if err != nil {
			if r.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Anything that is not a well-formed ARP packet: counted and dropped.
			m.malformed.WithLabelValues("arp").Inc()
			continue
		}
		if pkt.Operation != arp.OperationRequest || !pkt.TargetIP.Is4() {
			continue
		}
		ip := pkt.TargetIP
		if !r.a.owns(ip, r.ifi.Name) {
			continue
		}
		m.requests.WithLabelValues(ip.String()).Inc()
		_ = eth
		if err := r.arp.Reply(pkt, r.ifi.HardwareAddr, ip); err != nil {
			if r.isClosed() {
				return
			}
			r.a.opts.Log.Error(err, "ARP reply", "ip", ip, "interface", r.ifi.Name)
			continue
		}
		m.responses.WithLabelValues(ip.String()).Inc()
	}
}

// serveNDP answers neighbour solicitations for owned IPv6 addresses.
func (r *responder) serveNDP() {
	m := r.a.metrics
	buf := make([]byte, max(r.ifi.MTU, 1500))
	for {
		n, _, src, err := r.ndp.ReadRaw(buf)
		if err != nil {
			if r.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg, err := ndp.ParseMessage(buf[:n])
		if err != nil {
			m.malformed.WithLabelValues("ndp").Inc()
			continue
		}
		ns, ok := msg.(*ndp.NeighborSolicitation)
		if !ok || !r.a.owns(ns.TargetAddress, r.ifi.Name) {
			continue
		}
		ip := ns.TargetAddress
		m.requests.WithLabelValues(ip.String()).Inc()
		na := &ndp.NeighborAdvertisement{Solicited: true, Override: true, TargetAddress: ip,
			Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: r.ifi.HardwareAddr}}}
		dst := src
		if !src.IsValid() || src.IsUnspecified() {
			// Duplicate address detection asks from ::; the answer goes to all nodes.
			na.Solicited, dst = false, netip.IPv6LinkLocalAllNodes()
		}
		if err := r.ndp.WriteTo(na, nil, dst); err != nil {
			if r.isClosed() {
				return
			}
			r.a.opts.Log.Error(err, "neighbour advertisement", "ip", ip, "interface", r.ifi.Name)
			continue
		}
		m.responses.WithLabelValues(ip.String()).Inc()
	}
}

// announce sends one gratuitous ARP (a broadcast reply, then a request, as hosts differ in which
// they heed) or one unsolicited override neighbour advertisement to all nodes.
func (r *responder) announce(ip netip.Addr) error {
	if ip.Is4() {
		if r.arp == nil {
			return nil
		}
		for _, op := range []arp.Operation{arp.OperationReply, arp.OperationRequest} {
			p, err := arp.NewPacket(op, r.ifi.HardwareAddr, ip, ethernet.Broadcast, ip)
			if err != nil {
				return err
			}
			if err := r.arp.WriteTo(p, ethernet.Broadcast); err != nil {
				return err
			}
		}
		return nil
	}
	if r.ndp == nil {
		return nil
	}
	na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: r.ifi.HardwareAddr}}}
	return r.ndp.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes())
}

// join subscribes the interface to ip's solicited-node multicast group, where solicitations for
// it arrive.
func (r *responder) join(ip netip.Addr) {
	g, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups[g] == 0 {
		if err := r.ndp.JoinGroup(g); err != nil {
			r.a.opts.Log.Error(err, "join solicited-node group", "ip", ip, "interface", r.ifi.Name)
			return
		}
	}
	r.groups[g]++
}

// leave undoes join once no owned address needs the group.
func (r *responder) leave(ip netip.Addr) {
	if !ip.Is6() || r.ndp == nil {
		return
	}
	g, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups[g] == 0 {
		return
	}
	if r.groups[g]--; r.groups[g] == 0 {
		delete(r.groups, g)
		_ = r.ndp.LeaveGroup(g)
	}
}
