package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Build validates the whole configuration and returns its model, or every problem found as Errors
// (which match ErrInvalid). It never panics on any input. Objects are processed by name, so the
// result and the order of the errors do not depend on the order of the input.
//
// A reference by name to an object that does not exist (yet) is a warning (Config.Warnings), never
// an error, so that objects may be applied in any order and deleting one costs only its referrers:
// a BGPPeer whose BFDProfile or password Secret is missing is not run (Config.SkippedPeers); an
// advertisement skips an IPAddressPool name that does not exist; a BGPAdvertisement naming a
// Community alias that is not defined is not used; a BGPAdvertisement's peers keep a name that
// matches no BGPPeer (it announces to none of that name, never to all).
func Build(in Input) (*Config, error) {
	var errs, warns Errors
	cfg := &Config{
		Pools:       make(map[string]*Pool, len(in.Pools)),
		Peers:       make(map[string]*Peer, len(in.Peers)),
		BFDProfiles: make(map[string]*BFDProfile, len(in.BFDProfiles)),
	}
	buildPools(&errs, &warns, cfg, sortedByName(in.Pools, func(p PoolSpec) string { return p.Name }))
	buildBFDProfiles(&errs, cfg, sortedByName(in.BFDProfiles, func(p BFDProfileSpec) string { return p.Name }))
	aliases := buildCommunities(&errs, sortedByName(in.Communities, func(c CommunitySpec) string { return c.Name }))
	buildPeers(&errs, &warns, cfg, sortedByName(in.Peers, func(p PeerSpec) string { return p.Name }), in.Secrets)
	labels := make(map[string]map[string]string, len(in.Pools))
	for _, p := range in.Pools {
		labels[p.Name] = p.Labels
	}
	buildL2Advertisements(&errs, &warns, cfg, labels, sortedByName(in.L2Advertisements, func(a L2AdvertisementSpec) string { return a.Name }))
	buildBGPAdvertisements(&errs, &warns, cfg, labels, aliases, sortedByName(in.BGPAdvertisements, func(a BGPAdvertisementSpec) string { return a.Name }))
	if len(errs) > 0 {
		return nil, errs
	}
	cfg.Warnings = warns
	return cfg, nil
}

func sortedByName[T any](in []T, name func(T) string) []T {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	return out
}

// checkName reports an empty or repeated object name; it returns false when the object must be skipped.
func checkName(c collector, seen map[string]bool) bool {
	if c.name == "" {
		c.add("metadata.name", "must not be empty")
		return false
	}
	if seen[c.name] {
		c.add("metadata.name", "duplicate name")
		return false
	}
	seen[c.name] = true
	return true
}

// mappedBlock is ::ffff:0.0.0.0/96, the IPv4-mapped IPv6 addresses.
var mappedBlock = Range{First: netip.MustParseAddr("::ffff:0.0.0.0"), Last: netip.MustParseAddr("::ffff:255.255.255.255")}

type ownedRange struct {
	Range
	pool  string
	field string
}

func buildPools(errs, warns *Errors, cfg *Config, pools []PoolSpec) {
	seen := map[string]bool{}
	var all []ownedRange
	for _, spec := range pools {
		c := collector{errs: errs, kind: KindIPAddressPool, name: spec.Name, warns: warns}
		if !checkName(c, seen) {
			continue
		}
		p := &Pool{Name: spec.Name, AutoAssign: spec.AutoAssign == nil || *spec.AutoAssign, AvoidBuggyIPs: spec.AvoidBuggyIPs}
		if len(spec.Addresses) == 0 {
			c.add("spec.addresses", "must list at least one CIDR or range")
		}
		before := len(*errs)
		for i, a := range spec.Addresses {
			field := fmt.Sprintf("spec.addresses[%d]", i)
			r, err := ParseRange(a)
			if err != nil {
				c.add(field, "%v", err)
				continue
			}
			if r.Overlaps(mappedBlock) {
				c.add(field, "%s includes IPv4-mapped IPv6 addresses (%s): they are IPv4 addresses in disguise; list IPv4 addresses as IPv4", r, mappedBlock)
				continue
			}
			p.Ranges = append(p.Ranges, r)
			all = append(all, ownedRange{Range: r, pool: spec.Name, field: field})
		}
		if spec.Allocation != nil {
			a := spec.Allocation
			priority := a.Priority
			if priority < 0 {
				// MetalLB orders only positive priorities: a negative one is no priority.
				c.warn("spec.serviceAllocation.priority", "%d is negative: the pool has no priority (as 0)", a.Priority)
				priority = 0
			}
			for i, ns := range a.Namespaces {
				if ns == "" || len(ns) > 63 || !dnsSubRe.MatchString(ns) || strings.Contains(ns, ".") {
					c.warn(fmt.Sprintf("spec.serviceAllocation.namespaces[%d]", i), "%q is not a namespace name: it matches no namespace", ns)
				}
			}
			validateSelectors(c, "spec.serviceAllocation.namespaceSelectors", a.NamespaceSelectors)
			validateSelectors(c, "spec.serviceAllocation.serviceSelectors", a.ServiceSelectors)
			p.Allocation = &Allocation{
				Priority:           priority,
				Namespaces:         slices.Clone(a.Namespaces),
				NamespaceSelectors: slices.Clone(a.NamespaceSelectors),
				ServiceSelectors:   slices.Clone(a.ServiceSelectors),
			}
		}
		if len(*errs) > before {
			continue
		}
		slices.SortFunc(p.Ranges, compareRanges)
		cfg.Pools[p.Name] = p
	}
	checkOverlaps(errs, all)
}

func compareRanges(a, b Range) int {
	if a.Is4() != b.Is4() {
		if a.Is4() {
			return -1
		}
		return 1
	}
	return cmp.Or(a.First.Compare(b.First), a.Last.Compare(b.Last))
}

// checkOverlaps reports every pair of ranges that share addresses, within a pool or across pools,
// in O(n log n): after sorting by start, a range can only overlap the ones still open before it.
func checkOverlaps(errs *Errors, all []ownedRange) {
	slices.SortFunc(all, func(a, b ownedRange) int { return compareRanges(a.Range, b.Range) })
	var open []ownedRange // ranges whose end is not yet passed, same family as the current one
	for _, r := range all {
		kept := open[:0]
		for _, o := range open {
			if o.Overlaps(r.Range) {
				kept = append(kept, o)
			}
		}
		open = kept
		for _, o := range open {
			c := collector{errs: errs, kind: KindIPAddressPool, name: r.pool}
			if o.pool == r.pool {
				c.add(r.field, "%s overlaps %s (%s) of the same pool", r.Range, o.field, o.Range)
				continue
			}
			// Across pools, both are told: whichever was written last, its author sees the clash.
			co := collector{errs: errs, kind: KindIPAddressPool, name: o.pool}
			co.add(o.field, "%s overlaps %s of IPAddressPool %q", o.Range, r.Range, r.pool)
			c.add(r.field, "%s overlaps %s of IPAddressPool %q", r.Range, o.Range, o.pool)
		}
		open = append(open, r)
	}
}

func buildBFDProfiles(errs *Errors, cfg *Config, profiles []BFDProfileSpec) {
	seen := map[string]bool{}
	for _, spec := range profiles {
		c := collector{errs: errs, kind: KindBFDProfile, name: spec.Name}
		if !checkName(c, seen) {
			continue
		}
		before := len(*errs)
		p := &BFDProfile{
			Name:             spec.Name,
			ReceiveInterval:  bounded(c, "spec.receiveInterval", spec.ReceiveInterval, DefaultBFDInterval, 10, 60000),
			TransmitInterval: bounded(c, "spec.transmitInterval", spec.TransmitInterval, DefaultBFDInterval, 10, 60000),
			DetectMultiplier: bounded(c, "spec.detectMultiplier", spec.DetectMultiplier, DefaultBFDMultiplier, 2, 255),
			EchoInterval:     bounded(c, "spec.echoInterval", spec.EchoInterval, DefaultBFDEcho, 10, 60000),
			MinimumTTL:       bounded(c, "spec.minimumTtl", spec.MinimumTTL, DefaultBFDMinTTL, 1, 254),
			EchoMode:         spec.EchoMode != nil && *spec.EchoMode,
			PassiveMode:      spec.PassiveMode != nil && *spec.PassiveMode,
		}
		if len(*errs) == before {
			cfg.BFDProfiles[p.Name] = p
		}
	}
}

func bounded(c collector, field string, v *uint32, def, lo, hi uint32) uint32 {
	if v == nil {
		return def
	}
	if *v < lo || *v > hi {
		c.add(field, "must be from %d to %d, got %d", lo, hi, *v)
	}
	return *v
}

func buildCommunities(errs *Errors, objs []CommunitySpec) map[string]Community {
	aliases := map[string]Community{}
	owner := map[string]string{}
	seen := map[string]bool{}
	for _, obj := range objs {
		c := collector{errs: errs, kind: KindCommunity, name: obj.Name}
		if !checkName(c, seen) {
			continue
		}
		for i, a := range obj.Aliases {
			field := fmt.Sprintf("spec.communities[%d]", i)
			if a.Name == "" {
				c.add(field+".name", "must not be empty")
				continue
			}
			if prev, dup := owner[a.Name]; dup {
				c.add(field+".name", "alias %q is already defined in Community %q", a.Name, prev)
				continue
			}
			v, err := ParseCommunity(a.Value)
			if err != nil {
				c.add(field+".value", "%v", err)
				continue
			}
			owner[a.Name] = obj.Name
			aliases[a.Name] = v
		}
	}
	return aliases
}

func buildPeers(errs, warns *Errors, cfg *Config, peers []PeerSpec, secrets map[string]Secret) {
	seen := map[string]bool{}
	type key struct {
		addr string
		port uint16
	}
	byKey := map[key][]*Peer{}
	for _, spec := range peers {
		c := collector{errs: errs, kind: KindBGPPeer, name: spec.Name, warns: warns}
		if !checkName(c, seen) {
			continue
		}
		before, beforeWarns := len(*errs), len(*warns)
		p := buildPeer(c, spec, secrets)
		if spec.BFDProfile != "" && cfg.BFDProfiles[spec.BFDProfile] == nil {
			c.warn("spec.bfdProfile", "BFDProfile %q does not exist (or is invalid): the peer is not run until it does", spec.BFDProfile)
		}
		for _, u := range Unsupported(p) {
			c.warn(u.Field, "%s is not supported by IronLB's speaker: the peer is not run", u.What)
		}
		if len(*errs) > before {
			continue
		}
		if len(*warns) == beforeWarns {
			// Only a peer that runs takes its address: a duplicate of a skipped one runs instead.
			k := key{addr: p.Address.String(), port: p.Port}
			for _, other := range byKey[k] {
				if selectorsOverlap(other.NodeSelectors, p.NodeSelectors) {
					c.warn("spec.peerAddress", "duplicate of BGPPeer %q (same address and port on the same nodes): the peer is not run", other.Name)
					break
				}
			}
			if len(*warns) == beforeWarns {
				byKey[k] = append(byKey[k], p)
				cfg.Peers[p.Name] = p
				continue
			}
		}
		var reasons []string
		for _, w := range (*warns)[beforeWarns:] {
			reasons = append(reasons, w.Field+": "+w.Detail)
		}
		cfg.SkippedPeers = append(cfg.SkippedPeers, SkippedPeer{Name: p.Name, Reason: strings.Join(reasons, "; ")})
	}
}

// UnsupportedField is a BGPPeer setting IronLB's speaker cannot run.
type UnsupportedField struct{ Field, What string }

// Unsupported lists the settings of a peer that IronLB's speaker cannot run. It is the one place
// for that contract: the configuration skips such peers (with a warning) and the BGP manager
// refuses them.
func Unsupported(p *Peer) []UnsupportedField {
	var out []UnsupportedField
	if p.Interface != "" {
		out = append(out, UnsupportedField{"spec.interface", fmt.Sprintf("unnumbered BGP (peering over interface %q)", p.Interface)})
	}
	if p.VRF != "" {
		out = append(out, UnsupportedField{"spec.vrf", fmt.Sprintf("peering in a VRF (%q)", p.VRF)})
	}
	if p.DynamicASN == "external" {
		out = append(out, UnsupportedField{"spec.dynamicASN", "dynamicASN external (any AS but ours)"})
	}
	if p.DisableMP {
		out = append(out, UnsupportedField{"spec.disableMP", "a session per address family (disableMP)"})
	}
	return out
}

// selectorsOverlap is a conservative test for two node selector lists that could select the same
// node: an empty list selects every node, and equal lists select the same ones.
func selectorsOverlap(a, b []Selector) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func buildPeer(c collector, s PeerSpec, secrets map[string]Secret) *Peer {
	p := &Peer{
		Name: s.Name, MyASN: s.MyASN, ASN: s.ASN, DynamicASN: s.DynamicASN, Interface: s.Interface,
		Port: s.Port, NodeSelectors: slices.Clone(s.NodeSelectors), Password: s.Password,
		BFDProfile: s.BFDProfile, EnableGracefulRestart: s.EnableGracefulRestart, EBGPMultiHop: s.EBGPMultiHop,
		VRF: s.VRF, DisableMP: s.DisableMP, DualStackAddressFamily: s.DualStackAddressFamily,
	}
	if p.Port == 0 {
		p.Port = 179
	}
	if s.MyASN == 0 {
		c.add("spec.myASN", "must be set (1 to 4294967295)")
	}
	switch {
	case s.ASN != 0 && s.DynamicASN != "":
		c.add("spec.dynamicASN", "peerASN and dynamicASN are mutually exclusive")
	case s.ASN == 0 && s.DynamicASN == "":
		c.add("spec.peerASN", "one of peerASN and dynamicASN must be set")
	case s.DynamicASN != "" && s.DynamicASN != "internal" && s.DynamicASN != "external":
		c.add("spec.dynamicASN", "must be internal or external, got %q", s.DynamicASN)
	}
	switch {
	case s.Address != "" && s.Interface != "":
		c.add("spec.interface", "peerAddress and interface are mutually exclusive")
	case s.Address == "" && s.Interface == "":
		c.add("spec.peerAddress", "one of peerAddress and interface must be set")
	case s.Address != "":
		p.Address = ipField(c, "spec.peerAddress", s.Address)
	}
	if s.SourceAddress != "" {
		p.SourceAddress = ipField(c, "spec.sourceAddress", s.SourceAddress)
		if p.Address.IsValid() && p.SourceAddress.IsValid() && p.Address.Is4() != p.SourceAddress.Is4() {
			c.warn("spec.sourceAddress", "%s is not of the same family as peerAddress %s: the peer is not run", p.SourceAddress, p.Address)
		}
	}
	if s.RouterID != "" {
		if id := ipField(c, "spec.routerID", s.RouterID); id.IsValid() && !id.Is4() {
			c.warn("spec.routerID", "a BGP router ID is an IPv4 address, got %s: the peer is not run", s.RouterID)
		} else {
			p.RouterID = id
		}
	}
	if s.Port > 16384 {
		c.add("spec.peerPort", "must be from 1 to 16384, got %d", s.Port)
	}
	p.HoldTime = durationField(c, "spec.holdTime", s.HoldTime)
	p.KeepaliveTime = durationField(c, "spec.keepaliveTime", s.KeepaliveTime)
	p.ConnectTime = durationField(c, "spec.connectTime", s.ConnectTime)
	if h := p.HoldTime; h != nil && *h != 0 && *h < 3*time.Second {
		c.add("spec.holdTime", "must be 0 or at least 3s, got %s", s.HoldTime)
	}
	if h, k := p.HoldTime, p.KeepaliveTime; h != nil && k != nil && *h != 0 && *k > *h {
		c.add("spec.keepaliveTime", "%s is longer than holdTime %s", s.KeepaliveTime, s.HoldTime)
	}
	if h, k := p.HoldTime, p.KeepaliveTime; h == nil && k != nil {
		hold := 3 * *k // as MetalLB: a keepalive alone sets the hold time to three of them
		p.HoldTime = &hold
	}
	if ct := p.ConnectTime; ct != nil && (*ct < time.Second || *ct > 65535*time.Second || *ct%time.Second != 0) {
		c.add("spec.connectTime", "must be a whole number of seconds from 1 to 65535, got %s", s.ConnectTime)
	}
	if s.PasswordSecret != "" {
		if s.Password != "" {
			c.add("spec.password", "password and passwordSecret are mutually exclusive")
		}
		// The Secret is another object, changed without the webhook: what is wrong with it costs
		// this peer only.
		sec, ok := secrets[s.PasswordSecret]
		switch {
		case !ok:
			c.warn("spec.passwordSecret.name", "Secret %q does not exist in the IronLB namespace: the peer is not run until it does", s.PasswordSecret)
		case sec.Unreadable != "":
			c.warn("spec.passwordSecret.name", "Secret %q cannot be read (%s): the peer is not run until it can", s.PasswordSecret, sec.Unreadable)
		case sec.Type != SecretTypeBasicAuth:
			c.warn("spec.passwordSecret.name", "Secret %q has type %q, want %s: the peer is not run until it does", s.PasswordSecret, sec.Type, SecretTypeBasicAuth)
		case len(sec.Data["password"]) == 0:
			c.warn("spec.passwordSecret.name", "Secret %q has no \"password\" key: the peer is not run until it does", s.PasswordSecret)
		default:
			p.Password = string(sec.Data["password"])
		}
	}
	if len(p.Password) > 80 {
		c.warn("spec.password", "a TCP MD5 key is at most 80 bytes long, got %d: the peer is not run", len(p.Password))
	}
	validateSelectors(c, "spec.nodeSelectors", s.NodeSelectors)
	return p
}

func ipField(c collector, field, s string) netip.Addr {
	a, err := ParseAddr(s)
	if err != nil {
		c.add(field, "%v", err)
		return netip.Addr{}
	}
	return a
}

func durationField(c collector, field, s string) *time.Duration {
	if s == "" {
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		c.add(field, "%q is not a duration such as 90s or 1m30s", s)
		return nil
	}
	if d < 0 {
		c.add(field, "must not be negative, got %s", s)
		return nil
	}
	return &d
}

// poolsOf resolves an advertisement's pool names and selectors to pools (all when both are empty).
func poolsOf(c collector, cfg *Config, labels map[string]map[string]string, names []string, sels []Selector) []*Pool {
	validateSelectors(c, "spec.ipAddressPoolSelectors", sels)
	var out []*Pool
	seen := map[string]bool{}
	for i, n := range names {
		p, ok := cfg.Pools[n]
		if !ok {
			if _, exists := labels[n]; exists {
				continue // the pool exists but is invalid; its own errors say why
			}
			c.warn(fmt.Sprintf("spec.ipAddressPools[%d]", i), "IPAddressPool %q does not exist (yet): the name is skipped until it does", n)
			continue
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, p)
		}
	}
	for _, name := range sortedKeys(cfg.Pools) {
		if seen[name] {
			continue
		}
		if (len(names) == 0 && len(sels) == 0) || (len(sels) > 0 && MatchesAny(sels, labels[name])) {
			seen[name] = true
			out = append(out, cfg.Pools[name])
		}
	}
	return out
}

func buildL2Advertisements(errs, warns *Errors, cfg *Config, labels map[string]map[string]string, advs []L2AdvertisementSpec) {
	seen := map[string]bool{}
	for _, spec := range advs {
		c := collector{errs: errs, kind: KindL2Advertisement, name: spec.Name, warns: warns}
		if !checkName(c, seen) {
			continue
		}
		before := len(*errs)
		pools := poolsOf(c, cfg, labels, spec.Pools, spec.PoolSelectors)
		validateSelectors(c, "spec.nodeSelectors", spec.NodeSelectors)
		for i, ifc := range spec.Interfaces {
			if ifc == "" || len(ifc) > 15 || strings.ContainsAny(ifc, "/ \t\n:") {
				c.warn(fmt.Sprintf("spec.interfaces[%d]", i), "%q is not a network interface name (1-15 characters, no '/', ':' or spaces): it matches no interface", ifc)
			}
		}
		if len(*errs) > before {
			continue
		}
		adv := &L2Advertisement{Name: spec.Name, NodeSelectors: slices.Clone(spec.NodeSelectors), Interfaces: slices.Clone(spec.Interfaces)}
		for _, p := range pools {
			p.L2Advertisements = append(p.L2Advertisements, adv)
		}
	}
}

func buildBGPAdvertisements(errs, warns *Errors, cfg *Config, labels map[string]map[string]string, aliases map[string]Community, advs []BGPAdvertisementSpec) {
	seen := map[string]bool{}
	for _, spec := range advs {
		c := collector{errs: errs, kind: KindBGPAdvertisement, name: spec.Name, warns: warns}
		if !checkName(c, seen) {
			continue
		}
		before := len(*errs)
		adv := &BGPAdvertisement{Name: spec.Name, AggregationLength: 32, AggregationLengthV6: 128, LocalPref: spec.LocalPref,
			NodeSelectors: slices.Clone(spec.NodeSelectors), Peers: slices.Clone(spec.Peers)}
		if l := spec.AggregationLength; l != nil {
			if *l < 0 || *l > 32 {
				c.add("spec.aggregationLength", "must be from 0 to 32, got %d", *l)
			}
			adv.AggregationLength = int(*l)
		}
		if l := spec.AggregationLengthV6; l != nil {
			if *l < 0 || *l > 128 {
				c.add("spec.aggregationLengthV6", "must be from 0 to 128, got %d", *l)
			}
			adv.AggregationLengthV6 = int(*l)
		}
		pools := poolsOf(c, cfg, labels, spec.Pools, spec.PoolSelectors)
		if len(*errs) == before {
			checkAggregation(c, adv, pools)
		}
		seenComm := map[Community]bool{}
		unused := false // names a Community alias that is not defined (yet)
		for i, s := range spec.Communities {
			field := fmt.Sprintf("spec.communities[%d]", i)
			v, isAlias := aliases[s]
			if !isAlias {
				var err error
				if v, err = ParseCommunity(s); err != nil {
					if communityLike(s) {
						c.add(field, "%v", err)
						continue
					}
					// As MetalLB: it may be an alias of a Community applied later.
					c.warn(field, "%q is not an alias defined in a Community object (yet): the advertisement is not used until it is", s)
					unused = true
					continue
				}
			}
			if slices.Contains(spec.Communities[:i], s) {
				c.add(field, "%q is listed twice", s)
				continue
			}
			if seenComm[v] {
				continue // the same value through an alias and literally: one community, as MetalLB
			}
			seenComm[v] = true
			adv.Communities = append(adv.Communities, v)
		}
		for i, peer := range spec.Peers {
			if _, ok := cfg.Peers[peer]; !ok && !slices.ContainsFunc(cfg.SkippedPeers, func(s SkippedPeer) bool { return s.Name == peer }) {
				c.warn(fmt.Sprintf("spec.peers[%d]", i), "BGPPeer %q does not exist (yet): the advertisement announces to no peer of that name until it does", peer)
			}
		}
		validateSelectors(c, "spec.nodeSelectors", spec.NodeSelectors)
		if len(*errs) > before || unused {
			continue
		}
		for _, p := range pools {
			p.BGPAdvertisements = append(p.BGPAdvertisements, adv)
		}
	}
}

// checkAggregation rejects an aggregation length shorter than a block of a pool: the aggregate
// route would then cover addresses that are not in the pool.
func checkAggregation(c collector, adv *BGPAdvertisement, pools []*Pool) {
	for _, p := range pools {
		for _, r := range p.Ranges {
			field, agg := "spec.aggregationLength", adv.AggregationLength
			if !r.Is4() {
				field, agg = "spec.aggregationLengthV6", adv.AggregationLengthV6
			}
			for _, b := range r.Prefixes() {
				if agg < b.Bits() {
					c.add(field, "%d is shorter than /%d of %s in IPAddressPool %q: the aggregate would announce addresses outside the pool", agg, b.Bits(), r, p.Name)
					return
				}
			}
		}
	}
}

// communityLike reports whether s is written as a community value (two numbers, or large:...), so
// that a parse error is a wrong value, not the name of an alias defined later.
func communityLike(s string) bool {
	if strings.HasPrefix(s, "large:") {
		return true
	}
	hi, lo, ok := strings.Cut(s, ":")
	return ok && isDigits(hi) && isDigits(strings.ReplaceAll(lo, ":", ""))
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
