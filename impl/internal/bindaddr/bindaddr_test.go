package bindaddr

import "testing"

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"0", "0"},
		{":7472", ":7472"},
		{"10.0.0.5:7472", "10.0.0.5:7472"},
		{"[fd00::5]:7472", "[fd00::5]:7472"},
		// $(POD_IP):7472 with an IPv6 pod address.
		{"fd00::5:7472", "[fd00::5]:7472"},
		{"2001:db8::1:7473", "[2001:db8::1]:7473"},
		// Not an address and a port: left for the listener to refuse.
		{"10.0.0.5", "10.0.0.5"},
		{"localhost:7472", "localhost:7472"},
		{"fe80::1%eth0:7472", "fe80::1%eth0:7472"},
	} {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
