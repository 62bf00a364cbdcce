package allocator

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ironlb/ironlb/impl/config"
)

// filled returns an allocator whose pool is filled to the given percentage, with the free
// addresses scattered at random (the worst case for the free set: one hole per free address).
func filled(b *testing.B, cidr string, fam Family, percent int) (*Allocator, *config.Pool) {
	b.Helper()
	p := pools(b, spec("pool", cidr))
	a := New()
	a.SetPools(p)
	pool := p["pool"]
	if percent == 0 {
		return a, pool
	}
	const n = 1 << 16
	for i := range n {
		if _, err := a.Assign(Request{Service: fmt.Sprint("fill/", i), Families: []Family{fam}, Pools: []*config.Pool{pool}}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, i := range rng.Perm(n)[:n*(100-percent)/100] {
		a.Release(fmt.Sprint("fill/", i))
	}
	return a, pool
}

func benchmarkAssignRelease(b *testing.B, cidr string, fam Family, percent int) {
	a, pool := filled(b, cidr, fam, percent)
	r := Request{Service: "bench/svc", Families: []Family{fam}, Pools: []*config.Pool{pool}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Assign(r); err != nil {
			b.Fatal(err)
		}
		a.Release(r.Service)
	}
}

func BenchmarkAssignRelease16Empty(b *testing.B)  { benchmarkAssignRelease(b, "10.0.0.0/16", IPv4, 0) }
func BenchmarkAssignRelease16Half(b *testing.B)   { benchmarkAssignRelease(b, "10.0.0.0/16", IPv4, 50) }
func BenchmarkAssignRelease16Full99(b *testing.B) { benchmarkAssignRelease(b, "10.0.0.0/16", IPv4, 99) }
func BenchmarkAssignRelease64Empty(b *testing.B)  { benchmarkAssignRelease(b, "fc00::/64", IPv6, 0) }
func BenchmarkAssignRelease64Half65k(b *testing.B) {
	benchmarkAssignRelease(b, "fc00::/64", IPv6, 50) // 65,536 assigned, half released at random
}
