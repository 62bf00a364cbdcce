//go:build linux

package layer2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

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
		} else if err := c.SetControlMessage(ipv6.FlagDst, true); err != nil {
			c.Close()
			errs = append(errs, fmt.Errorf("ndp destination addresses: %w", err))
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

// owns reports whether ip is owned and answered on this interface.
func (r *responder) owns(ip netip.Addr) bool { return r.a.owns(ip, r.ifi.Name) }

// readFailed handles a read error: it reports whether the responder is closed, and otherwise
// logs (rate-limited) and pauses briefly, so that a failing interface cannot spin the loop.
func (r *responder) readFailed(proto string, err error) (closed bool) {
	if r.isClosed() || errors.Is(err, net.ErrClosed) {
		return true
	}
	r.a.logError(dropReadError, err, "protocol", proto, "interface", r.ifi.Name)
	time.Sleep(10 * time.Millisecond)
	return false
}

// serveARP answers ARP requests for owned IPv4 addresses with this interface's MAC.
func (r *responder) serveARP() {
	for r.serveARPOne() != dropClosed {
	}
}

// dropClosed ends a serve loop.
const dropClosed dropReason = "closed"

// serveARPOne reads one ARP packet and answers it if arpVerdict says so.
func (r *responder) serveARPOne() dropReason {
	m := r.a.metrics
	pkt, eth, err := r.arp.Read()
	if err != nil {
		var ne net.Error
		if !errors.As(err, &ne) && !r.isClosed() {
			// Anything that is not a well-formed ARP packet: counted and dropped.
			m.malformed.WithLabelValues("arp").Inc()
			return dropMalformed
		}
		if r.readFailed("arp", err) {
			return dropClosed
		}
		return dropReadError
	}
	if why := arpVerdict(pkt.Operation == arp.OperationRequest, eth.Destination, r.ifi.HardwareAddr, pkt.TargetIP, r.owns); why != answer {
		return why
	}
	ip := pkt.TargetIP
	m.requests.WithLabelValues(ip.String()).Inc()
	if err := r.arp.Reply(pkt, r.ifi.HardwareAddr, ip); err != nil {
		if r.isClosed() {
			return dropClosed
		}
		r.a.logError(dropReplyError, err, "protocol", "arp", "ip", ip, "interface", r.ifi.Name, "to", pkt.SenderHardwareAddr.String())
		return dropReplyError
	}
	m.responses.WithLabelValues(ip.String()).Inc()
	return answer
}

// serveNDP answers neighbour solicitations for owned IPv6 addresses.
func (r *responder) serveNDP() {
	buf := make([]byte, max(r.ifi.MTU, 1500))
	for r.serveNDPOne(buf) != dropClosed {
	}
}

// serveNDPOne reads one ICMPv6 message and answers it if it is a solicitation ndpVerdict takes.
func (r *responder) serveNDPOne(buf []byte) dropReason {
	m := r.a.metrics
	n, cm, src, err := r.ndp.ReadRaw(buf)
	if err != nil {
		if r.readFailed("ndp", err) {
			return dropClosed
		}
		return dropReadError
	}
	msg, err := ndp.ParseMessage(buf[:n])
	if err != nil {
		m.malformed.WithLabelValues("ndp").Inc()
		return dropMalformed
	}
	ns, ok := msg.(*ndp.NeighborSolicitation)
	if !ok {
		return dropNotRequest
	}
	var dst netip.Addr
	if cm != nil {
		dst, _ = netip.AddrFromSlice(cm.Dst)
	}
	if why := ndpVerdict(dst.Unmap(), ns.TargetAddress, r.owns); why != answer {
		return why
	}
	ip := ns.TargetAddress
	m.requests.WithLabelValues(ip.String()).Inc()
	na := &ndp.NeighborAdvertisement{Solicited: true, Override: true, TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: r.ifi.HardwareAddr}}}
	to := src
	if !src.IsValid() || src.IsUnspecified() {
		// Duplicate address detection asks from ::; the answer goes to all nodes.
		na.Solicited, to = false, netip.IPv6LinkLocalAllNodes()
	}
	if err := r.ndp.WriteTo(na, nil, to); err != nil {
		if r.isClosed() {
			return dropClosed
		}
		r.a.logError(dropReplyError, err, "protocol", "ndp", "ip", ip, "interface", r.ifi.Name, "to", to)
		return dropReplyError
	}
	m.responses.WithLabelValues(ip.String()).Inc()
	return answer
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
