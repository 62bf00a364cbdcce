//go:build linux

package netns

import "testing"

// A lab owns its marked namespaces, and unmarked ones (an older ironlab's, or one out of reach
// under a later mount) by name unless another lab's name that extends it claims them (issue #18:
// `ironlab down --name l2` removed lab l2-iro's namespaces).
func TestOwns(t *testing.T) {
	for _, tc := range []struct {
		name, mark string
		others     []string
		want       bool
	}{
		{name: "l2-client", mark: "l2", want: true},
		{name: "l2-pod-0123abcd", mark: "l2", want: true},
		{name: "l2-iro-client", mark: "l2-iro", want: false},
		{name: "l2-iro-client", mark: "l2-iro", others: []string{"l2-iro"}, want: false},
		{name: "l2-iro-client", mark: "l2", want: true}, // lab l2's host iro-client
		{name: "l2-client", mark: "l2-iro", want: false},
		{name: "l2-client", mark: "", want: true},
		{name: "l2-client", mark: "", others: []string{"l2-iro", "bgp"}, want: true},
		{name: "l2-iro-client", mark: "", want: true}, // no lab l2-iro known: l2's, as before marks
		{name: "l2-iro-client", mark: "", others: []string{"l2-iro"}, want: false},
		{name: "l2-iro-client", mark: "", others: []string{"l2-i"}, want: true}, // l2-i is no prefix of its name
		{name: "l2-iro-pod-0123abcd", mark: "", others: []string{"l2-iro"}, want: false},
		{name: "l2x-client", mark: "", want: false},
		{name: "l2x-client", mark: "l2", want: false}, // not under the lab's name
		{name: "l2", mark: "l2", want: false},
		{name: "s2l2-iro-client", mark: "", others: []string{"l2-iro"}, want: false},
	} {
		if got := owns("l2", tc.name, tc.mark, tc.others); got != tc.want {
			t.Errorf("owns(l2, %q, mark %q, others %v) = %v, want %v", tc.name, tc.mark, tc.others, got, tc.want)
		}
	}
}
