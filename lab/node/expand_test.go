package node

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"NS": "metallb-system", "EMPTY": "", "A": "x"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for _, tc := range []struct{ in, want string }{
		{"--namespace=$(NS)", "--namespace=metallb-system"},
		{"$(A)$(A)-$(EMPTY)-", "xx--"},
		{"$(UNDEFINED) stays", "$(UNDEFINED) stays"},
		{"$$(NS) is escaped", "$(NS) is escaped"},
		{"$$$(A)", "$x"},
		{"price: $5 and $", "price: $5 and $"},
		{"$(unclosed", "$(unclosed"},
		{"$()", "$()"},
		{"no refs", "no refs"},
	} {
		if got := expand(tc.in, lookup); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
