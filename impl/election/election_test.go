package election

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ironlb/ironlb/impl/config"
)

func TestEligible(t *testing.T) {
	nodes := []Node{
		{Name: "a", Live: true, Labels: map[string]string{"zone": "x"}},
		{Name: "b", Live: true, Labels: map[string]string{"zone": "y"}},
		{Name: "c", Live: false, Labels: map[string]string{"zone": "x"}},
		{Name: "d", Live: true, NetworkUnavailable: true, Labels: map[string]string{"zone": "x"}},
		{Name: "e", Live: true, Labels: map[string]string{"zone": "x", ExcludeLabel: ""}},
		{Name: "f", Live: true, Labels: map[string]string{"zone": "x"}},
	}
	zoneX := config.Selector{MatchLabels: map[string]string{"zone": "x"}}
	for _, tc := range []struct {
		name string
		req  Request
		want []string
	}{
		{"every live, reachable, not excluded node", Request{Unrestricted: true}, []string{"a", "b", "f"}},
		{"nodeSelectors", Request{Selectors: []config.Selector{zoneX}}, []string{"a", "f"}},
		{"any of several selectors", Request{Selectors: []config.Selector{zoneX, {MatchLabels: map[string]string{"zone": "y"}}}}, []string{"a", "b", "f"}},
		{"no advertisement matches: nobody", Request{}, nil},
		{"externalTrafficPolicy Local: nodes with a ready endpoint", Request{Unrestricted: true, LocalOnly: true,
			EndpointNodes: map[string]bool{"b": true, "c": true, "e": true}}, []string{"b"}},
		{"Local without endpoints: nobody", Request{Unrestricted: true, LocalOnly: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Eligible(nodes, tc.req); !slices.Equal(got, tc.want) {
				t.Errorf("Eligible = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOwnerIsDeterministicWhateverTheOrder(t *testing.T) {
	nodes := []string{"control-plane", "worker", "worker2", "worker3"}
	for i := range 200 {
		key := fmt.Sprintf("172.18.255.%d", i)
		want, ok := Owner(key, nodes)
		if !ok {
			t.Fatal("no owner")
		}
		shuffled := slices.Clone(nodes)
		rand.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if got, _ := Owner(key, shuffled); got != want {
			t.Fatalf("%s: owner %s with %v, %s with %v", key, want, nodes, got, shuffled)
		}
		if r := Ranking(key, shuffled); r[0] != want || len(r) != len(nodes) {
			t.Fatalf("%s: Ranking %v does not start with the owner %s", key, r, want)
		}
	}
	if _, ok := Owner("x", nil); ok {
		t.Error("an owner among no candidates")
	}
}

// The two promises, as a property over random clusters and addresses: a node leaving moves only
// the addresses it owned (each to the next in its ranking), and a node joining takes addresses
// only for itself.
func TestMinimalMovement(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 2 + rng.IntN(30)
		var nodes []string
		for i := range n {
			nodes = append(nodes, fmt.Sprintf("node-%d-%d", round, i))
		}
		gone := nodes[rng.IntN(n)]
		rest := slices.DeleteFunc(slices.Clone(nodes), func(s string) bool { return s == gone })
		for k := range 100 {
			key := fmt.Sprintf("10.%d.%d.%d", round, k/256, k%256)
			before, _ := Owner(key, nodes)
			after, _ := Owner(key, rest)
			// Read backwards, the same check covers joining: going from rest to nodes, a key
			// changes owner only when the new node wins it.
			if before != gone && after != before {
				t.Fatalf("removing %s moved %s from %s to %s", gone, key, before, after)
			}
			if before == gone {
				if next := Ranking(key, nodes)[1]; after != next {
					t.Fatalf("%s went to %s, not to the runner-up %s", key, after, next)
				}
			}
		}
	}
}

// Spread: with 4 nodes and 1,000 addresses every node owns a fair share.
func TestOwnersAreSpread(t *testing.T) {
	nodes := []string{"control-plane", "worker", "worker2", "worker3"}
	count := map[string]int{}
	for i := range 1000 {
		o, _ := Owner(fmt.Sprintf("172.18.%d.%d", i/250, i%250), nodes)
		count[o]++
	}
	for _, n := range nodes {
		if count[n] < 180 || count[n] > 320 {
			t.Errorf("%s owns %d of 1000 addresses; want about 250 (%v)", n, count[n], count)
		}
	}
}

func BenchmarkOwner100Nodes(b *testing.B) {
	var nodes []string
	for i := range 100 {
		nodes = append(nodes, fmt.Sprintf("node-%d", i))
	}
	for i := 0; b.Loop(); i++ {
		Owner("172.18.255.200", nodes)
	}
}
