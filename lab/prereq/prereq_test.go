package prereq

import (
	"slices"
	"strings"
	"testing"
)

func probe(root bool, missing ...string) Probe {
	return Probe{Root: root, NetNS: true, HasApt: true, Has: func(p string) bool { return !slices.Contains(missing, p) }}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		purpose  Purpose
		probe    Probe
		ok       bool
		packages []string // to install, required first, then optional
		explain  []string // in the explanation
	}{
		{"all there", Lab, probe(true), true, nil, nil},
		{"fresh Debian: nft missing stops the lab", Lab, probe(true, "nft"), false, []string{"nftables"},
			[]string{"nft is missing (package nftables): kube-proxy's nftables mode", "install: sudo apt-get install -y --no-install-recommends nftables"}},
		{"not root", Lab, probe(false), false, nil, []string{"needs root", "sudo -E"}},
		{"tests need no root (the lab e2e suite skips, saying so)", Test, probe(false), true, nil, nil},
		{"arping is needed by the tests, not by the lab", Lab, probe(true, "arping"), true, []string{"iputils-arping"}, []string{"not needed here, but for the test: arping"}},
		{"arping stops the tests", Test, probe(true, "arping"), false, []string{"iputils-arping"}, []string{"arping is missing"}},
		{"FRR stops the scenarios only", Scenarios, probe(true, "/usr/lib/frr/bgpd"), false, []string{"frr"}, []string{"/usr/lib/frr/bgpd is missing (package frr)"}},
		{"FRR is optional for the lab", Lab, probe(true, "/usr/lib/frr/bgpd"), true, []string{"frr"}, []string{"not needed here, but for the scenarios: /usr/lib/frr/bgpd"}},
		{"chromium is always optional", Test, probe(true, "chromium"), true, []string{"chromium"}, []string{"optional: chromium", "skipped without it"}},
		{"required before optional, each package once", Scenarios, probe(true, "chromium", "nft", "/usr/lib/frr/bgpd"), false,
			[]string{"nftables", "frr", "chromium"}, nil},
		{"no network namespaces", Lab, Probe{Root: true, Has: func(string) bool { return true }}, false, nil, []string{"no network namespaces"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.purpose, tc.probe)
			if r.OK() != tc.ok {
				t.Errorf("OK() = %v, want %v: %+v", r.OK(), tc.ok, r)
			}
			if got := r.Packages(true); !slices.Equal(got, tc.packages) {
				t.Errorf("packages %v, want %v", got, tc.packages)
			}
			ex := r.Explain()
			for _, want := range tc.explain {
				if !strings.Contains(ex, want) {
					t.Errorf("explanation lacks %q:\n%s", want, ex)
				}
			}
		})
	}
}

// Every need names its package and says why; a required one says what for.
func TestNeedsAreExplained(t *testing.T) {
	for _, n := range Needs {
		if n.Path == "" || n.Package == "" || n.Why == "" {
			t.Errorf("need %+v: path, package and why are all required", n)
		}
		if !n.Optional && len(n.For) == 0 {
			t.Errorf("need %s is required for nothing: mark it optional or say what needs it", n.Path)
		}
	}
}
