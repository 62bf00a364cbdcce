// Package election decides which node announces a load-balancer address in layer 2 mode. It is
// pure: given the address and the nodes, every speaker computes the same owner without talking to
// the others, and a node joining or leaving moves only the addresses it gains or held.
//
// The owner is chosen by rendezvous (highest random weight) hashing: each eligible node scores
// sha256(node "#" address) and the highest score wins. Removing a node changes the winner only for
// the keys that node won; adding one changes it only for the keys the new node now wins.
package election

import (
	"bytes"
	"crypto/sha256"
	"slices"

	"github.com/ironlb/ironlb/impl/config"
)

// ExcludeLabel keeps a node out of every load balancer's announcements (Kubernetes' well-known
// label; MetalLB honours it too).
const ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

// Node is what eligibility needs to know about a node.
type Node struct {
	Name   string
	Labels map[string]string
	// Live: the node is in the speakers' gossip membership and its Node is Ready.
	Live bool
	// NetworkUnavailable: the Node's NetworkUnavailable condition is True.
	NetworkUnavailable bool
}

// Request describes one address to announce.
type Request struct {
	// Key is what the owner is chosen for: the address (services sharing it share the owner).
	Key string
	// Selectors are the nodeSelectors of the L2Advertisements that announce the address's pool
	// (a node matching any of them may announce); Unrestricted is true when one of those
	// advertisements has no nodeSelectors (every node may).
	Selectors    []config.Selector
	Unrestricted bool
	// LocalOnly (externalTrafficPolicy: Local) limits the owner to nodes in EndpointNodes: those
	// with a ready endpoint of the Service.
	LocalOnly     bool
	EndpointNodes map[string]bool
}

// Eligible returns the names of the nodes that may announce the request, sorted.
func Eligible(nodes []Node, r Request) []string {
	var out []string
	for _, n := range nodes {
		if !n.Live || n.NetworkUnavailable {
			continue
		}
		if _, excluded := n.Labels[ExcludeLabel]; excluded {
			continue
		}
		if r.LocalOnly && !r.EndpointNodes[n.Name] {
			continue
		}
		if !r.Unrestricted && !slices.ContainsFunc(r.Selectors, func(s config.Selector) bool { return s.Matches(n.Labels) }) {
			continue
		}
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}

// Owner returns the node that announces key among the candidates, and false when there is none.
func Owner(key string, candidates []string) (string, bool) {
	best, bestScore := "", [sha256.Size]byte{}
	for _, c := range candidates {
		s := score(key, c)
		if best == "" || bytes.Compare(s[:], bestScore[:]) > 0 || (s == bestScore && c < best) {
			best, bestScore = c, s
		}
	}
	return best, best != ""
}

// Ranking orders the candidates by preference for key: the owner first, then the node that takes
// over when the owner goes, and so on.
func Ranking(key string, candidates []string) []string {
	out := slices.Clone(candidates)
	scores := make(map[string][sha256.Size]byte, len(out))
	for _, c := range out {
		scores[c] = score(key, c)
	}
	slices.SortFunc(out, func(a, b string) int {
		sa, sb := scores[a], scores[b]
		if c := bytes.Compare(sb[:], sa[:]); c != 0 {
			return c
		}
		return compare(a, b)
	})
	return out
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func score(key, node string) [sha256.Size]byte {
	return sha256.Sum256([]byte(node + "#" + key))
}
