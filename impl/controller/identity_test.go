package controller

import (
	"strings"
	"testing"
)

func TestLeaderIdentity(t *testing.T) {
	if got := LeaderIdentity("ironlb-controller-7b88-n2swl", "3f2a"); got != "ironlb-controller-7b88-n2swl_3f2a" {
		t.Fatalf("in a pod: %q", got)
	}
	// Out of a pod (or half the downward API missing) every process is someone else.
	for _, in := range [][2]string{{"", ""}, {"pod", ""}, {"", "uid"}} {
		a, b := LeaderIdentity(in[0], in[1]), LeaderIdentity(in[0], in[1])
		if a == b || !strings.Contains(a, "_") {
			t.Fatalf("LeaderIdentity(%q, %q) = %q then %q: want a new hostname_uuid each time", in[0], in[1], a, b)
		}
	}
}
