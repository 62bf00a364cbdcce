package webhook

import (
	"strings"
	"testing"

	"github.com/ironlb/ironlb/impl/config"
)

func TestNewProblemsIgnoresExistingOnes(t *testing.T) {
	cur := config.Input{Pools: []config.PoolSpec{
		{Name: "a", Addresses: []string{"10.0.0.0/24"}},
		{Name: "b", Addresses: []string{"10.0.0.128/25"}}, // already overlapping a
	}}
	unrelated := cur
	unrelated.Pools = append(clone(cur.Pools), config.PoolSpec{Name: "c", Addresses: []string{"10.1.0.0/24"}})
	if got := newProblems(cur, unrelated); len(got) != 0 {
		t.Errorf("an unrelated valid pool was blocked by old problems: %v", got)
	}
	bad := cur
	bad.Pools = append(clone(cur.Pools), config.PoolSpec{Name: "d", Addresses: []string{"10.1.0.0/24", "nope"}})
	got := newProblems(cur, bad)
	if len(got) != 1 || !strings.Contains(got[0].Error(), `IPAddressPool "d": spec.addresses[1]`) {
		t.Errorf("new problems = %v", got)
	}
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }
