// Package allocator assigns addresses from IPAddressPools to LoadBalancer Services. It is pure: it
// takes plain values (netip.Addr, small request structs, validated config.Pools), never Kubernetes
// objects, and does no I/O. It is not safe for concurrent use; its owner serialises calls.
//
// Cost: finding a free address, assigning a requested one and releasing one are O(log h), where h
// is the number of holes assignments left in a pool, whatever the pool's size (a /16 or an IPv6
// /64 alike); memory is proportional to what is assigned, never to the pool.
package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/ipmath"
)

// Sentinel errors, matched with errors.Is.
var (
	ErrNoPool              = errors.New("no IPAddressPool can serve this service")
	ErrUnknownPool         = errors.New("requested IPAddressPool does not exist")
	ErrPoolExhausted       = errors.New("no free address left")
	ErrIPInUse             = errors.New("address is in use by another service")
	ErrIncompatibleSharing = errors.New("address is shared by services this one cannot share with")
	ErrNotInPool           = errors.New("requested address is not in any usable IPAddressPool")
	ErrFamilyUnavailable   = errors.New("no IPAddressPool has addresses of every required family")
	ErrBadRequest          = errors.New("invalid request")
	// ErrInconsistent means the allocator caught its own books disagreeing (an address in the
	// free set that a service holds, or an address to commit that is neither free nor held): a
	// bug. The address is not handed out; the caller should log it loudly.
	ErrInconsistent = errors.New("allocator state is inconsistent")
)

// Family is an IP family.
type Family int

// The families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// Port is a service port for the sharing rules: two services sharing an address may not use the
// same port and protocol.
type Port struct {
	Protocol string
	Port     int32
}

// Request is what a Service asks for.
type Request struct {
	// Service is the service's key, "namespace/name".
	Service string
	// Families in order of preference (a Service's spec.ipFamilies). Ignored when Requested is set.
	Families []Family
	// RequireAll fails unless every family of Families gets an address (RequireDualStack).
	RequireAll bool
	// Pools are the candidate pools in order of preference (see CandidatePools).
	Pools []*config.Pool
	// PoolRequested says the service named its pool (metallb.io/address-pool): only then may a
	// pool with autoAssign false hand out an address that was not requested explicitly.
	PoolRequested bool
	// Requested are explicit addresses (loadBalancerIPs), at most one per family. An IPv6 zone
	// or an IPv4-mapped IPv6 address is refused (ErrBadRequest): it would be a different
	// netip.Addr for the same address.
	Requested []netip.Addr
	// Prefer are the addresses the service already shows (its status), at most one per family.
	// When the allocator holds nothing for the service (a new leader that has not seen it), they
	// are tried before a free address, if they are still allowed: a brief overlap of two leaders
	// never renumbers a service. Ignored when Requested is set or the families differ.
	Prefer []netip.Addr
	// SharingKey (metallb.io/allow-shared-ip) lets services with the same key share an address.
	SharingKey string
	// BackendKey must be equal for services that share an address: empty for
	// externalTrafficPolicy Cluster, the pod selector for Local (traffic must reach the same pods).
	BackendKey string
	Ports      []Port
}

// Assignment is what a service holds.
type Assignment struct {
	Pool string
	IPs  []netip.Addr
}

type holder struct {
	req Request
	asg Assignment
}

type ipUse struct {
	pool     string
	services map[string]struct{}
}

type poolState struct {
	cfg    *config.Pool
	spaces map[Family]space
	free   map[Family]*freeSet
	size   map[Family]ipmath.U128
	used   map[Family]int64
}

// Allocator holds the pools and who uses which address.
type Allocator struct {
	pools    map[string]*poolState
	services map[string]*holder
	ips      map[netip.Addr]*ipUse
	// shared indexes the addresses held under each sharing key.
	shared map[string]map[netip.Addr]struct{}
}

// New returns an allocator without pools.
func New() *Allocator {
	return &Allocator{pools: map[string]*poolState{}, services: map[string]*holder{}, ips: map[netip.Addr]*ipUse{},
		shared: map[string]map[netip.Addr]struct{}{}}
}

// SetPools replaces the pools. Services whose addresses are all still in the pool they came from
// keep them; the others lose their assignment and are returned (sorted), for the caller to assign
// again or leave pending.
func (a *Allocator) SetPools(pools map[string]*config.Pool) []string {
	next := make(map[string]*poolState, len(pools))
	for name, p := range pools {
		next[name] = newPoolState(p)
	}
	var lost []string
	for key, h := range a.services {
		if !validIn(next, h.asg) {
			lost = append(lost, key)
		}
	}
	for _, key := range lost {
		a.drop(key)
	}
	a.pools = next
	// The new pools start all free: take out what the remaining services hold.
	for ip, use := range a.ips {
		ps := a.pools[use.pool]
		f := familyOf(ip)
		c, _ := ps.spaces[f].toCoord(ip)
		ps.free[f].take(c)
		ps.used[f]++
	}
	slices.Sort(lost)
	return lost
}

func (a *Allocator) stillValid(asg Assignment) bool { return validIn(a.pools, asg) }

func validIn(pools map[string]*poolState, asg Assignment) bool {
	ps, ok := pools[asg.Pool]
	if !ok {
		return false
	}
	for _, ip := range asg.IPs {
		if !ps.contains(ip) {
			return false
		}
	}
	return true
}

func newPoolState(p *config.Pool) *poolState {
	ps := &poolState{cfg: p, spaces: map[Family]space{}, free: map[Family]*freeSet{},
		size: map[Family]ipmath.U128{}, used: map[Family]int64{}}
	for _, r := range p.Ranges {
		f := IPv6
		if r.Is4() {
			f = IPv4
		}
		sp := space{v4: r.Is4(), skipBuggy: r.Is4() && p.AvoidBuggyIPs}
		ps.spaces[f] = sp
		if ps.free[f] == nil {
			ps.free[f] = newFreeSet()
		}
		if lo, hi, ok := sp.rangeCoords(r); ok {
			ps.free[f].add(lo, hi)
			ps.size[f] = ps.size[f].Add(hi.Sub(lo).Add64(1))
		}
	}
	return ps
}

// contains reports whether ip may be handed out by the pool.
func (ps *poolState) contains(ip netip.Addr) bool {
	sp, ok := ps.spaces[familyOf(ip)]
	if !ok {
		return false
	}
	if _, ok := sp.toCoord(ip); !ok {
		return false // a .0 or .255 of an avoidBuggyIPs pool
	}
	for _, r := range ps.cfg.Ranges {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}

// Assigned returns what a service holds.
func (a *Allocator) Assigned(service string) (Assignment, bool) {
	h, ok := a.services[service]
	if !ok {
		return Assignment{}, false
	}
	return Assignment{Pool: h.asg.Pool, IPs: slices.Clone(h.asg.IPs)}, true
}

// Release frees what a service holds (an address shared with others stays with them).
func (a *Allocator) Release(service string) { a.drop(service) }

func (a *Allocator) drop(service string) {
	h, ok := a.services[service]
	if !ok {
		return
	}
	delete(a.services, service)
	for _, ip := range h.asg.IPs {
		use := a.ips[ip]
		if use == nil {
			continue
		}
		delete(use.services, service)
		if len(use.services) > 0 {
			continue
		}
		delete(a.ips, ip)
		if k := h.req.SharingKey; k != "" {
			delete(a.shared[k], ip)
			if len(a.shared[k]) == 0 {
				delete(a.shared, k)
			}
		}
		if ps, ok := a.pools[use.pool]; ok {
			f := familyOf(ip)
			if c, ok := ps.spaces[f].toCoord(ip); ok && ps.contains(ip) {
				if _, free := ps.free[f].containing(c); !free {
					ps.free[f].add(c, c)
					ps.used[f]--
				}
			}
		}
	}
}

// Restore records an assignment that already exists (a Service's status, read at start-up) so
// that a restart never changes an address. It fails, changing nothing, when the addresses are no
// longer valid for the request or clash with what is already recorded.
func (a *Allocator) Restore(r Request, ips []netip.Addr) (Assignment, error) {
	if len(ips) == 0 {
		return Assignment{}, fmt.Errorf("%w: no address to restore", ErrBadRequest)
	}
	if err := validate(r); err != nil {
		return Assignment{}, err
	}
	if err := checkAddrs("addresses to restore", ips); err != nil {
		return Assignment{}, err
	}
	prev, had := a.services[r.Service]
	a.drop(r.Service)
	for _, p := range r.Pools {
		if asg, err := a.tryPool(r, p, ips); err == nil {
			if err := a.commit(r, asg); err != nil {
				return Assignment{}, errors.Join(err, a.recommit(prev, had))
			}
			return asg, nil
		}
	}
	if err := a.recommit(prev, had); err != nil {
		return Assignment{}, err
	}
	return Assignment{}, fmt.Errorf("restore %v for %s: %w", ips, r.Service, ErrNotInPool)
}

// Assign gives a service addresses for r, keeping what it already holds when that still fits.
// On failure the service keeps its previous assignment, if any, and the error says why.
func (a *Allocator) Assign(r Request) (Assignment, error) {
	if err := validate(r); err != nil {
		return Assignment{}, err
	}
	if len(r.Pools) == 0 {
		return Assignment{}, ErrNoPool
	}
	prev, had := a.services[r.Service]
	a.drop(r.Service)
	asg, err := a.assign(r, prev, had)
	if err == nil {
		err = a.commit(r, asg)
	}
	if err != nil {
		return Assignment{}, errors.Join(err, a.recommit(prev, had))
	}
	return asg, nil
}

// recommit gives a service back what it held before a failed Assign or Restore, when that is
// still valid.
func (a *Allocator) recommit(prev *holder, had bool) error {
	if !had || !a.stillValid(prev.asg) {
		return nil
	}
	if _, err := a.tryPool(prev.req, a.pools[prev.asg.Pool].cfg, prev.asg.IPs); err == nil {
		return a.commit(prev.req, prev.asg)
	}
	return nil // no longer allowed: the service loses it
}

func validate(r Request) error {
	if r.Service == "" {
		return fmt.Errorf("%w: no service key", ErrBadRequest)
	}
	if err := checkAddrs("requested addresses", r.Requested); err != nil {
		return err
	}
	if err := checkAddrs("preferred addresses", r.Prefer); err != nil {
		return err
	}
	if len(r.Requested) == 0 && len(r.Families) == 0 {
		return fmt.Errorf("%w: no family requested", ErrBadRequest)
	}
	return nil
}

// checkAddrs admits at most one address per family, each valid, without an IPv6 zone and not an
// IPv4-mapped IPv6 address: such a netip.Addr differs from the plain one, so it would slip past
// every "is this address in use" lookup.
func checkAddrs(what string, ips []netip.Addr) error {
	seen := map[Family]bool{}
	for _, ip := range ips {
		switch {
		case !ip.IsValid():
			return fmt.Errorf("%w: %s %v: an invalid address", ErrBadRequest, what, ips)
		case ip.Zone() != "":
			return fmt.Errorf("%w: %s %v: %s has an IPv6 zone", ErrBadRequest, what, ips, ip)
		case ip.Is4In6():
			return fmt.Errorf("%w: %s %v: %s is an IPv4-mapped IPv6 address", ErrBadRequest, what, ips, ip)
		case seen[familyOf(ip)]:
			return fmt.Errorf("%w: %s %v: at most one address per family", ErrBadRequest, what, ips)
		}
		seen[familyOf(ip)] = true
	}
	return nil
}

func (a *Allocator) assign(r Request, prev *holder, had bool) (Assignment, error) {
	if len(r.Requested) > 0 {
		var firstErr error
		for _, p := range r.Pools {
			asg, err := a.tryPool(r, p, r.Requested)
			if err == nil {
				return asg, nil
			}
			if firstErr == nil || !errors.Is(err, ErrNotInPool) {
				firstErr = err
			}
		}
		return Assignment{}, firstErr
	}
	// Keep the previous addresses when they still fit the request.
	if had && slices.Equal(familiesOf(prev.asg.IPs), r.Families) {
		for _, p := range r.Pools {
			if p.Name == prev.asg.Pool {
				if asg, err := a.tryPool(r, p, prev.asg.IPs); err == nil {
					return asg, nil
				}
			}
		}
	}
	// A new leader has not seen the service: keep what its status shows when that still fits.
	if !had && len(r.Prefer) > 0 && slices.Equal(familiesOf(r.Prefer), r.Families) {
		for _, p := range r.Pools {
			if asg, err := a.tryPool(r, p, r.Prefer); err == nil {
				return asg, nil
			}
		}
	}
	var lastErr error = ErrPoolExhausted
	for _, p := range r.Pools {
		asg, err := a.tryFamilies(r, p, r.Families)
		if err == nil {
			return asg, nil
		}
		lastErr = err
	}
	if len(r.Families) > 1 && !r.RequireAll {
		for _, f := range r.Families {
			for _, p := range r.Pools {
				if asg, err := a.tryFamilies(r, p, []Family{f}); err == nil {
					return asg, nil
				}
			}
		}
	}
	return Assignment{}, lastErr
}

func familiesOf(ips []netip.Addr) []Family {
	out := make([]Family, len(ips))
	for i, ip := range ips {
		out[i] = familyOf(ip)
	}
	return out
}

// tryPool checks that the given addresses may go to r from pool p: in the pool and free, or held
// by services r may share with.
func (a *Allocator) tryPool(r Request, p *config.Pool, ips []netip.Addr) (Assignment, error) {
	ps, ok := a.pools[p.Name]
	if !ok {
		return Assignment{}, fmt.Errorf("pool %q: %w", p.Name, ErrUnknownPool)
	}
	for _, ip := range ips {
		if !ps.contains(ip) {
			return Assignment{}, fmt.Errorf("%s in pool %q: %w", ip, p.Name, ErrNotInPool)
		}
		if err := a.canUse(r, ip); err != nil {
			return Assignment{}, err
		}
	}
	return Assignment{Pool: p.Name, IPs: slices.Clone(ips)}, nil
}

// canUse says whether r may use ip: it is free, or every service holding it shares with r.
func (a *Allocator) canUse(r Request, ip netip.Addr) error {
	use, taken := a.ips[ip]
	if !taken {
		return nil
	}
	for other := range use.services {
		if other == r.Service {
			continue // its own address
		}
		h := a.services[other]
		if r.SharingKey == "" || h.req.SharingKey != r.SharingKey {
			return fmt.Errorf("%s is held by %s: %w", ip, other, ErrIPInUse)
		}
		if h.req.BackendKey != r.BackendKey {
			return fmt.Errorf("%s is shared by %s, which sends traffic to other pods (externalTrafficPolicy Local needs the same selector): %w", ip, other, ErrIncompatibleSharing)
		}
		for _, p := range r.Ports {
			if slices.Contains(h.req.Ports, p) {
				return fmt.Errorf("%s is shared by %s, which also uses %s/%d: %w", ip, other, p.Protocol, p.Port, ErrIncompatibleSharing)
			}
		}
	}
	return nil
}

// tryFamilies picks one address per family from pool p: first an address already shared under
// r's sharing key, else the lowest free one.
func (a *Allocator) tryFamilies(r Request, p *config.Pool, fams []Family) (Assignment, error) {
	ps, ok := a.pools[p.Name]
	if !ok {
		return Assignment{}, fmt.Errorf("pool %q: %w", p.Name, ErrUnknownPool)
	}
	if !p.AutoAssign && p.Name != "" && !r.explicitPool(p) {
		return Assignment{}, fmt.Errorf("pool %q does not assign automatically: %w", p.Name, ErrNoPool)
	}
	asg := Assignment{Pool: p.Name}
	for _, f := range fams {
		if _, ok := ps.spaces[f]; !ok {
			return Assignment{}, fmt.Errorf("pool %q has no IPv%d addresses: %w", p.Name, f, ErrFamilyUnavailable)
		}
		ip, ok := a.sharedCandidate(r, p.Name, f)
		if !ok {
			c, free := ps.free[f].first()
			if !free {
				return Assignment{}, fmt.Errorf("pool %q, IPv%d: %w", p.Name, f, ErrPoolExhausted)
			}
			ip = ps.spaces[f].toAddr(c)
			if use, held := a.ips[ip]; held {
				// The free set offers an address a service holds: never hand it out. Take it out
				// of the free set so that the books agree again, and say so.
				ps.free[f].take(c)
				return Assignment{}, fmt.Errorf("pool %q: free address %s is held by %v: %w", p.Name, ip, keys(use.services), ErrInconsistent)
			}
		}
		asg.IPs = append(asg.IPs, ip)
	}
	return asg, nil
}

// explicitPool is true when the request names exactly this pool (the address-pool annotation):
// pools with autoAssign false serve only such requests.
func (r Request) explicitPool(p *config.Pool) bool {
	return r.PoolRequested && len(r.Pools) == 1 && r.Pools[0] == p
}

// sharedCandidate finds an address of family f in pool that services with r's sharing key hold
// and that r may share.
func (a *Allocator) sharedCandidate(r Request, pool string, f Family) (netip.Addr, bool) {
	if r.SharingKey == "" {
		return netip.Addr{}, false
	}
	var best netip.Addr
	for ip := range a.shared[r.SharingKey] {
		if use := a.ips[ip]; use == nil || use.pool != pool || familyOf(ip) != f {
			continue
		}
		if a.canUse(r, ip) == nil && (!best.IsValid() || ip.Less(best)) {
			best = ip
		}
	}
	return best, best.IsValid()
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// commit records asg for r. Each address must be either held already (shared) from the same
// pool, or free in the pool's free set; otherwise nothing is recorded and the error wraps
// ErrInconsistent, rather than counting as used an address the free set did not give up.
func (a *Allocator) commit(r Request, asg Assignment) error {
	ps, ok := a.pools[asg.Pool]
	if !ok {
		return fmt.Errorf("commit %v for %s: pool %q: %w", asg.IPs, r.Service, asg.Pool, ErrInconsistent)
	}
	coords := make([]ipmath.U128, len(asg.IPs))
	for i, ip := range asg.IPs {
		if use, held := a.ips[ip]; held {
			if use.pool != asg.Pool {
				return fmt.Errorf("commit %s for %s from pool %q: held from pool %q: %w", ip, r.Service, asg.Pool, use.pool, ErrInconsistent)
			}
			if err := a.canUse(r, ip); err != nil {
				return fmt.Errorf("commit %s for %s: %v: %w", ip, r.Service, err, ErrInconsistent)
			}
			continue
		}
		f := familyOf(ip)
		c, ok := ps.spaces[f].toCoord(ip)
		fs := ps.free[f]
		if !ok || fs == nil || ip.Zone() != "" {
			return fmt.Errorf("commit %s for %s: not an address of pool %q: %w", ip, r.Service, asg.Pool, ErrInconsistent)
		}
		if _, free := fs.containing(c); !free {
			return fmt.Errorf("commit %s for %s: not free in pool %q: %w", ip, r.Service, asg.Pool, ErrInconsistent)
		}
		coords[i] = c
	}
	a.services[r.Service] = &holder{req: r, asg: asg}
	for i, ip := range asg.IPs {
		use, ok := a.ips[ip]
		if !ok {
			use = &ipUse{pool: asg.Pool, services: map[string]struct{}{}}
			a.ips[ip] = use
			f := familyOf(ip)
			ps.free[f].take(coords[i])
			ps.used[f]++
		}
		use.services[r.Service] = struct{}{}
		if k := r.SharingKey; k != "" {
			if a.shared[k] == nil {
				a.shared[k] = map[netip.Addr]struct{}{}
			}
			a.shared[k][ip] = struct{}{}
		}
	}
	return nil
}

// PoolStats counts one pool's addresses per family.
type PoolStats struct {
	AssignedIPv4, AssignedIPv6   int64
	AvailableIPv4, AvailableIPv6 int64 // capped at the largest int64
}

// Stats returns the counters of a pool.
func (a *Allocator) Stats(pool string) (PoolStats, bool) {
	ps, ok := a.pools[pool]
	if !ok {
		return PoolStats{}, false
	}
	st := PoolStats{AssignedIPv4: ps.used[IPv4], AssignedIPv6: ps.used[IPv6]}
	if f := ps.free[IPv4]; f != nil {
		st.AvailableIPv4 = f.free.Int64()
	}
	if f := ps.free[IPv6]; f != nil {
		st.AvailableIPv6 = f.free.Int64()
	}
	return st, true
}
