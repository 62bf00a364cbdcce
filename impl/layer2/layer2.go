//go:build linux

// Package layer2 answers ARP (IPv4) and neighbour solicitations (IPv6) for the load-balancer
// addresses this node owns, and announces a newly owned address at once with gratuitous ARP and
// unsolicited override neighbour advertisements, so that the segment's hosts and switches learn
// where it lives. It never answers for an address it was not given, and stops answering for one
// the moment it is taken away.
package layer2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
)

// Options tune an Announcer.
type Options struct {
	Log      logr.Logger
	Registry prometheus.Registerer
	// Gratuitous is when, after taking an address over, gratuitous ARP / unsolicited NA are sent
	// (offsets from the takeover); default 0, 100 ms, 300 ms, 700 ms, 1.5 s, 3 s: Linux ignores a
	// changed address for a second (locktime) after an update, so the tail outlasts it.
	Gratuitous []time.Duration
	// Refresh, when not zero, repeats them at this period while the address is owned (for
	// switches whose forwarding tables age out before the routers' ARP caches do).
	Refresh time.Duration
	// ExcludeL2Path is MetalLB's excludel2.yaml (ConfigMap metallb-excludel2): interface names
	// not answered on, on top of DefaultExcluded, unless an L2Advertisement names them. Empty, or
	// a missing file: DefaultExcluded alone. Read once, by New.
	ExcludeL2Path string
	// ErrorLogEvery is the least time between two log lines of one per-packet error reason
	// (default 10 s); the next line says how many were held back.
	ErrorLogEvery time.Duration
}

// Announcer runs the responders of every suitable interface.
type Announcer struct {
	opts    Options
	metrics *metrics
	exclude Exclusion
	errLog  *limiter

	mu         sync.Mutex
	owned      map[netip.Addr]Announcement
	responders map[string]*responder // by interface name
	rescan     chan struct{}
	wg         sync.WaitGroup
}

// New returns an Announcer; Run starts it.
func New(opts Options) (*Announcer, error) {
	if opts.Gratuitous == nil {
		opts.Gratuitous = []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}
	}
	if opts.ErrorLogEvery <= 0 {
		opts.ErrorLogEvery = 10 * time.Second
	}
	ex, err := ReadExclusion(opts.ExcludeL2Path)
	if err != nil {
		return nil, fmt.Errorf("layer2: %w", err)
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	return &Announcer{opts: opts, metrics: m, exclude: ex, errLog: newLimiter(opts.ErrorLogEvery, time.Now),
		owned: map[netip.Addr]Announcement{}, responders: map[string]*responder{}, rescan: make(chan struct{}, 1)}, nil
}

// Run watches the node's interfaces (netlink notifications, no polling) and keeps a responder on
// every suitable one until ctx ends.
func (a *Announcer) Run(ctx context.Context) error {
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribe(links, done); err != nil {
		return fmt.Errorf("layer2: watch interfaces: %w", err)
	}
	if err := netlink.AddrSubscribe(addrs, done); err != nil {
		return fmt.Errorf("layer2: watch addresses: %w", err)
	}
	a.scan(ctx)
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			for name, r := range a.responders {
				r.close()
				delete(a.responders, name)
			}
			a.mu.Unlock()
			a.wg.Wait()
			return nil
		case <-links:
		case <-addrs:
		case <-a.rescan:
		}
		// Coalesce a burst of notifications into one scan.
		time.Sleep(50 * time.Millisecond)
	drain:
		for {
			select {
			case <-links:
			case <-addrs:
			default:
				break drain
			}
		}
		a.scan(ctx)
	}
}

// Interface flags netlink reports that net.Flags does not carry (linux/if.h).
const (
	iffNoARP = 0x80
	iffSlave = 0x800
)

// links lists the node's interfaces, described for skip, with the net.Interface of each.
func links() ([]Link, map[string]net.Interface, error) {
	all, err := netlink.LinkList()
	if err != nil {
		return nil, nil, fmt.Errorf("list interfaces: %w", err)
	}
	kind := map[int]string{}
	for _, l := range all {
		kind[l.Attrs().Index] = l.Type()
	}
	var out []Link
	ifis := map[string]net.Interface{}
	for _, l := range all {
		at := l.Attrs()
		out = append(out, Link{Name: at.Name, Up: at.Flags&net.FlagUp != 0, Loopback: at.Flags&net.FlagLoopback != 0,
			NoARP: at.RawFlags&iffNoARP != 0, Ethernet: len(at.HardwareAddr) == 6, Slave: at.RawFlags&iffSlave != 0,
			Master: masterKind(at.MasterIndex, kind)})
		ifis[at.Name] = net.Interface{Index: at.Index, MTU: at.MTU, Name: at.Name, HardwareAddr: at.HardwareAddr, Flags: at.Flags}
	}
	return out, ifis, nil
}

func masterKind(index int, kind map[int]string) string {
	if index == 0 {
		return ""
	}
	if k, ok := kind[index]; ok {
		return k
	}
	return "unknown"
}

// scan starts responders on new usable interfaces (see skip) and stops those of interfaces that
// went away, went down or became unusable.
func (a *Announcer) scan(ctx context.Context) {
	all, ifis, err := links()
	if err != nil {
		a.opts.Log.Error(err, "layer2")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	named := map[string]bool{}
	for _, ann := range a.owned {
		for _, n := range ann.Interfaces {
			named[n] = true
		}
	}
	want := map[string]net.Interface{}
	for _, l := range all {
		why := skip(l, a.exclude, named[l.Name])
		if why == useIt {
			want[l.Name] = ifis[l.Name]
		} else if r, ok := a.responders[l.Name]; ok {
			a.opts.Log.Info("interface no longer usable: not announcing on it", "interface", l.Name, "reason", string(why))
			r.close()
			delete(a.responders, l.Name)
		}
	}
	for name, r := range a.responders {
		if ifi, ok := want[name]; !ok || ifi.Index != r.ifi.Index {
			a.opts.Log.Info("interface gone: not announcing on it", "interface", name)
			r.close()
			delete(a.responders, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := a.responders[name]; ok {
			continue
		}
		ifi := want[name]
		r, err := newResponder(ctx, a, ifi)
		if err != nil {
			a.opts.Log.Info("interface not usable for announcements yet", "interface", name, "reason", err.Error())
			continue
		}
		a.responders[name] = r
		a.opts.Log.Info("announcing on interface", "interface", name, "arp", r.arp != nil, "ndp", r.ndp != nil)
		// Addresses owned before this interface came: announce them here now.
		for ip, ann := range a.owned {
			if a.allowed(ann, name) {
				a.gratuitous(ctx, r, ip)
			}
		}
	}
}

// allowed reports whether ann may be answered on iface (which has a responder).
func (a *Announcer) allowed(ann Announcement, iface string) bool {
	if len(ann.Interfaces) == 0 {
		return !a.exclude.Excludes(iface)
	}
	return slices.Contains(ann.Interfaces, iface)
}

// SetOwned replaces the set of owned addresses: new ones are announced at once (gratuitous ARP /
// unsolicited NA, repeated), removed ones are no longer answered from this moment.
func (a *Announcer) SetOwned(ctx context.Context, owned map[netip.Addr]Announcement) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.owned
	a.owned = maps.Clone(owned)
	rescan := false
	for ip, ann := range owned {
		if _, had := old[ip]; had {
			continue
		}
		a.opts.Log.Info("taking over address", "ip", ip, "interfaces", ann.Interfaces)
		for name, r := range a.responders {
			if a.allowed(ann, name) {
				a.gratuitous(ctx, r, ip)
			}
		}
		rescan = rescan || len(ann.Interfaces) > 0
	}
	for ip := range old {
		if _, keep := owned[ip]; !keep {
			a.opts.Log.Info("no longer announcing address", "ip", ip)
			for _, r := range a.responders {
				r.leave(ip)
			}
		}
	}
	if rescan {
		select {
		case a.rescan <- struct{}{}:
		default:
		}
	}
}

// Owned returns the owned addresses.
func (a *Announcer) Owned() []netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.SortedFunc(maps.Keys(a.owned), netip.Addr.Compare)
}

// owns reports whether ip is owned and may be answered on iface.
func (a *Announcer) owns(ip netip.Addr, iface string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ann, ok := a.owned[ip]
	return ok && a.allowed(ann, iface)
}

// Reannounce announces every owned address again on every interface it is answered on, with
// the takeover's schedule (Options.Gratuitous): the speaker calls it when the membership healed
// (a partition ended, or others suspected this node), since the segment may meanwhile have
// learnt another node's MAC address for addresses this node owned all along.
func (a *Announcer) Reannounce(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.owned) == 0 {
		return
	}
	a.opts.Log.Info("announcing the owned addresses again", "owned", len(a.owned))
	for ip, ann := range a.owned {
		for name, r := range a.responders {
			if a.allowed(ann, name) {
				a.schedule(ctx, r, ip, false)
			}
		}
	}
}

// gratuitous starts answering for ip on r and announces it now and at the configured offsets
// (and periodically with Refresh), for as long as ip stays owned. a.mu is held.
func (a *Announcer) gratuitous(ctx context.Context, r *responder, ip netip.Addr) {
	if ip.Is6() && r.ndp != nil {
		r.join(ip)
	}
	a.schedule(ctx, r, ip, true)
}

// schedule announces ip on r at the offsets of Options.Gratuitous, then every Refresh when
// refresh is set, while ip stays owned. a.mu is held.
func (a *Announcer) schedule(ctx context.Context, r *responder, ip netip.Addr, refresh bool) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		start := time.Now()
		next := append(slices.Clone(a.opts.Gratuitous), -1)
		for i := 0; ; i++ {
			var wait time.Duration
			switch {
			case next[i] >= 0:
				wait = time.Until(start.Add(next[i]))
			case refresh && a.opts.Refresh > 0:
				wait, i = a.opts.Refresh, i-1
			default:
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-r.closed:
				return
			case <-time.After(wait):
			}
			if !a.owns(ip, r.ifi.Name) {
				return
			}
			if err := r.announce(ip); err != nil {
				if !errors.Is(err, net.ErrClosed) && !r.isClosed() {
					a.logError(dropGratuitousError, err, "ip", ip, "interface", r.ifi.Name)
				}
				return
			}
			a.metrics.gratuitous.WithLabelValues(ip.String()).Inc()
		}
	}()
}

// logError logs err for reason, at most once per Options.ErrorLogEvery, with the number of
// errors of that reason not logged since.
func (a *Announcer) logError(reason dropReason, err error, kv ...any) {
	ok, held := a.errLog.allow(string(reason))
	if !ok {
		return
	}
	if held > 0 {
		kv = append(kv, "suppressed", held, "suppressedSince", a.opts.ErrorLogEvery.String())
	}
	a.opts.Log.Error(err, string(reason), kv...)
}
