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
		{"arping is needed by the tests, not by the lab: reported, not installed", Lab, probe(true, "arping"), true, nil,
			[]string{"not needed here, but for the test (make prereqs installs it): arping"}},
		{"arping stops the tests", Test, probe(true, "arping"), false, []string{"iputils-arping"}, []string{"arping is missing"}},
		{"FRR stops the scenarios only", Scenarios, probe(true, "/usr/lib/frr/bgpd"), false, []string{"frr"}, []string{"/usr/lib/frr/bgpd is missing (package frr)"}},
		{"FRR is not installed for the lab", Lab, probe(true, "/usr/lib/frr/bgpd"), true, nil, []string{"not needed here, but for the scenarios"}},
		{"a lab user gets no Docker engine and no browser", Lab, probe(true, "dockerd", "chromium", "debootstrap"), true, nil,
			[]string{"but for the kind (make prereqs installs it): dockerd", "but for the test (make prereqs installs it): chromium"}},
		{"the lab's optional tools are installed with it", Lab, probe(true, "conntrack", "iptables", "git"), true, []string{"iptables", "conntrack", "git"}, []string{"optional: conntrack"}},
		{"chromium is optional for the tests", Test, probe(true, "chromium"), true, []string{"chromium"}, []string{"optional: chromium", "skipped without it"}},
		{"required before optional, each package once", Scenarios, probe(true, "iptables", "nft", "/usr/lib/frr/bgpd"), false,
			[]string{"nftables", "frr", "iptables"}, nil},
		{"the Kind provider's engine needs ip and nsenter too", Kind, probe(true, "ip", "nsenter"), false, []string{"util-linux", "iproute2"},
			[]string{"ip is missing (package iproute2)", "nsenter is missing (package util-linux)"}},
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
			if want := AptCommand(tc.packages); len(tc.packages) > 0 && !strings.Contains(r.Explain(), want) {
				t.Errorf("explanation lacks the command %q:\n%s", want, r.Explain())
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

// make prereqs: every purpose at once installs every need, in one command.
func TestCheckAllPurposes(t *testing.T) {
	var paths []string
	for _, n := range Needs {
		paths = append(paths, n.Path)
	}
	r := CheckAll([]Purpose{Lab, Test, Scenarios, Conformance, Kind}, probe(true, paths...))
	if len(r.Elsewhere) != 0 {
		t.Errorf("needs of no purpose: %v", r.Elsewhere)
	}
	for _, n := range Needs {
		if !slices.Contains(r.Packages(true), n.Package) {
			t.Errorf("make prereqs would not install %s (%s)", n.Package, n.Path)
		}
	}
	if got := r.Names(); got != "lab, test, scenarios, conformance, kind" {
		t.Errorf("Names() = %q", got)
	}
}
