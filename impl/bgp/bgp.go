// Package bgp is the speaker's BGP side: one embedded GoBGP server per peer (no gRPC, no listening
// port: the speaker connects out), configured from BGPPeer and fed the routes BGPAdvertisements
// ask for. A server per peer keeps per-peer route sets and attributes (advertisements may name
// peers, and carry different communities) simple: each peer's RIB is exactly what it is told.
// Changes are applied as diffs: a peer whose configuration did not change keeps its session, and
// only the routes that changed are announced or withdrawn.
package bgp

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ironlb/ironlb/impl/config"
)

// Route is one prefix announced to a peer, with its attributes.
type Route struct {
	Prefix      netip.Prefix
	LocalPref   uint32 // iBGP only; 0: not set
	Communities []config.Community
}

// Key identifies a route's prefix.
func (r Route) Key() string { return r.Prefix.String() }

// Equal reports whether two routes announce the same thing.
func (r Route) Equal(o Route) bool {
	return r.Prefix == o.Prefix && r.LocalPref == o.LocalPref && slices.Equal(r.Communities, o.Communities)
}

// Merge combines what several advertisements say about one prefix for one peer: the union of the
// communities, the highest local preference.
func (r Route) Merge(o Route) Route {
	out := r
	out.LocalPref = max(r.LocalPref, o.LocalPref)
	for _, c := range o.Communities {
		if !slices.Contains(out.Communities, c) {
			out.Communities = append(out.Communities, c)
		}
	}
	slices.SortFunc(out.Communities, func(a, b config.Community) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func (r Route) String() string {
	var parts []string
	if r.LocalPref != 0 {
		parts = append(parts, fmt.Sprintf("localpref %d", r.LocalPref))
	}
	for _, c := range r.Communities {
		parts = append(parts, c.String())
	}
	if len(parts) == 0 {
		return r.Prefix.String()
	}
	return r.Prefix.String() + " (" + strings.Join(parts, ", ") + ")"
}

// SamePeer reports whether a peer's configuration is unchanged (its session can stay).
func SamePeer(a, b *config.Peer) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.HoldTime, y.HoldTime = nil, nil
	x.KeepaliveTime, y.KeepaliveTime = nil, nil
	x.ConnectTime, y.ConnectTime = nil, nil
	x.NodeSelectors, y.NodeSelectors = nil, nil // where the peer applies, not what the session is
	return fmt.Sprint(x) == fmt.Sprint(y) && durOr(a.HoldTime) == durOr(b.HoldTime) &&
		durOr(a.KeepaliveTime) == durOr(b.KeepaliveTime) && durOr(a.ConnectTime) == durOr(b.ConnectTime)
}

func durOr(d *time.Duration) time.Duration {
	if d == nil {
		return -1
	}
	return *d
}
