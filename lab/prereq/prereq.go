// Package prereq is what the lab and the tests need from the host, and the one place that says
// so: each command or file, the Debian package that provides it, and why. Checking is pure (the
// host is asked through a Probe); installing is one apt-get call, made by the caller.
package prereq

import (
	"fmt"
	"slices"
	"strings"
)

// Purpose is what a need serves.
type Purpose string

const (
	Lab       Purpose = "lab"       // ironlab up/run/soak
	Test      Purpose = "test"      // make test (unit, envtest, lab e2e)
	Scenarios Purpose = "scenarios" // make scenarios (FRR routers)
	// Conformance is make conformance: Kubernetes' e2e specs exec commands in process pods,
	// which run the host's programs.
	Conformance Purpose = "conformance"
	// Kind is the Kind provider (ironlab up --provider kind) and make kind-node-image.
	Kind Purpose = "kind"
)

// Need is one thing the host must have.
type Need struct {
	// Path is a command looked up on PATH, or an absolute file path.
	Path    string
	Package string // the Debian/Ubuntu package that provides it
	Why     string
	// For are the purposes it serves; an optional need without any serves them all.
	For []Purpose
	// Optional ones are installed with the rest but their absence stops nothing: what needs
	// them says so and is skipped (a test) or refused (a topology).
	Optional bool
}

// serves is true when the need is for one of ps.
func (n Need) serves(ps []Purpose) bool {
	if n.Optional && len(n.For) == 0 {
		return true
	}
	for _, p := range ps {
		if slices.Contains(n.For, p) {
			return true
		}
	}
	return false
}

// Needs is every need, in the order they are reported.
var Needs = []Need{
	{Path: "nft", Package: "nftables", Why: "kube-proxy's nftables mode (the lab's default) and the partition and loss faults (on Kind too)", For: []Purpose{Lab, Test, Scenarios, Conformance, Kind}},
	{Path: "iptables", Package: "iptables", Why: "kube-proxy's iptables mode (topologies with kubeProxyMode: iptables, or without nft)", Optional: true, For: []Purpose{Lab, Test, Scenarios, Conformance}},
	{Path: "nsenter", Package: "util-linux", Why: "running commands inside lab hosts (ironlab exec) and pods (kubectl exec); the Kind provider's routers run inside their containers with it", For: []Purpose{Lab, Test, Scenarios, Conformance, Kind}},
	{Path: "nc", Package: "netcat-openbsd", Why: "Kubernetes' e2e specs and the lab e2e suite run nc -t/-u -w inside pods (kubectl exec runs the host's programs)", For: []Purpose{Test, Conformance}},
	{Path: "wget", Package: "wget", Why: "Kubernetes' e2e specs run wget -T inside pods", For: []Purpose{Conformance}},
	{Path: "ip", Package: "iproute2", Why: "looking into lab namespaces (ip netns exec, ip neigh), as ironlab up and the docs show, and the netns tests; the Kind provider's Docker engine sets up its namespace with it", For: []Purpose{Lab, Test, Kind}},
	{Path: "curl", Package: "curl", Why: "the docs' walkthroughs, which the lab e2e suite runs as written, curl a Service from a lab client; Kubernetes' e2e specs curl from pods", For: []Purpose{Test, Conformance}},
	{Path: "pgrep", Package: "procps", Why: "the lab e2e suite looks for processes that must be gone (a command kubectl exec started, after its pod)", For: []Purpose{Test}},
	{Path: "arping", Package: "iputils-arping", Why: "the lab e2e suite asks who answers ARP with it", For: []Purpose{Test}},
	{Path: "conntrack", Package: "conntrack", Why: "inspecting kube-proxy's connection tracking in a lab", Optional: true, For: []Purpose{Lab}},
	{Path: "/usr/lib/frr/bgpd", Package: "frr", Why: "routers of type frr (the bgp-frr scenarios in make scenarios)", For: []Purpose{Scenarios}},
	{Path: "chromium", Package: "chromium", Why: "the report test renders report.html in a headless browser (skipped without it)", Optional: true, For: []Purpose{Test}},
	{Path: "dockerd", Package: "docker.io", Why: "the Kind provider runs Debian's Docker engine in namespaces of its own where none runs", For: []Purpose{Kind}},
	{Path: "debootstrap", Package: "debootstrap", Why: "make kind-node-image builds the Kind node image from Debian's packages where kindest/node cannot be pulled", For: []Purpose{Kind}},
	{Path: "unshare", Package: "util-linux", Why: "the Kind provider starts its Docker engine in new network and mount namespaces", For: []Purpose{Kind}},
	{Path: "/usr/share/keyrings/debian-archive-keyring.gpg", Package: "debian-archive-keyring", Why: "debootstrap checks Debian's packages with it (make kind-node-image; Ubuntu lacks it)", For: []Purpose{Kind}},
	{Path: "git", Package: "git", Why: "version stamps (git describe)", Optional: true},
}

// Probe asks the host.
type Probe struct {
	Root   bool                   // running as root
	Has    func(path string) bool // the command is on PATH, or the file exists
	HasApt bool                   // apt-get is there (Debian, Ubuntu)
	NetNS  bool                   // the kernel has network namespaces (/proc/self/ns/net)
}

// Report is what a check found for some purposes.
type Report struct {
	Purposes []Purpose
	Problems []string // what stops the purposes, with the fix, beyond missing packages
	Missing  []Need   // required needs that are missing
	Optional []Need   // optional needs of these purposes that are missing
	// Elsewhere are other purposes' needs that are missing: reported, never installed (the lab
	// does not install a Docker engine or a browser for a user who asked for a lab).
	Elsewhere []Need
}

// Check judges the host for a purpose.
func Check(p Purpose, pr Probe) Report { return CheckAll([]Purpose{p}, pr) }

// CheckAll judges the host for several purposes at once (make prereqs: one apt-get call).
func CheckAll(ps []Purpose, pr Probe) Report {
	r := Report{Purposes: ps}
	if !pr.Root && slices.ContainsFunc(ps, func(p Purpose) bool { return p != Test }) {
		r.Problems = append(r.Problems, "the lab needs root (network namespaces, mounts): run it with sudo (sudo -E keeps your PATH and HOME)")
	}
	if !pr.NetNS {
		r.Problems = append(r.Problems, "this kernel has no network namespaces (/proc/self/ns/net): the lab cannot run here")
	}
	for _, n := range Needs {
		switch {
		case pr.Has(n.Path):
		case !n.serves(ps):
			r.Elsewhere = append(r.Elsewhere, n)
		case n.Optional:
			r.Optional = append(r.Optional, n)
		default:
			r.Missing = append(r.Missing, n)
		}
	}
	return r
}

// Names is the purposes for a person: "lab", "test, scenarios".
func (r Report) Names() string {
	var fs []string
	for _, p := range r.Purposes {
		fs = append(fs, string(p))
	}
	return strings.Join(fs, ", ")
}

// OK is true when nothing stops the purpose.
func (r Report) OK() bool { return len(r.Problems) == 0 && len(r.Missing) == 0 }

// Packages are the packages that bring what is missing for the purposes, required then
// optional, each once (never another purpose's).
func (r Report) Packages(withOptional bool) []string {
	var out []string
	add := func(ns []Need) {
		for _, n := range ns {
			if !slices.Contains(out, n.Package) {
				out = append(out, n.Package)
			}
		}
	}
	add(r.Missing)
	if withOptional {
		add(r.Optional)
	}
	return out
}

// AptCommand is the command that installs pkgs.
func AptCommand(pkgs []string) string {
	return "apt-get install -y --no-install-recommends " + strings.Join(pkgs, " ")
}

// Explain is the report for a person: what is missing, why, and the command that fixes it.
func (r Report) Explain() string {
	var b strings.Builder
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	for _, n := range r.Missing {
		fmt.Fprintf(&b, "  - %s is missing (package %s): %s\n", n.Path, n.Package, n.Why)
	}
	for _, n := range r.Optional {
		fmt.Fprintf(&b, "  - optional: %s is missing (package %s): %s\n", n.Path, n.Package, n.Why)
	}
	for _, n := range r.Elsewhere {
		var fs []string
		for _, f := range n.For {
			fs = append(fs, string(f))
		}
		fmt.Fprintf(&b, "  - not needed here, but for the %s (make prereqs installs it): %s is missing (package %s): %s\n", strings.Join(fs, ", "), n.Path, n.Package, n.Why)
	}
	if pkgs := r.Packages(true); len(pkgs) > 0 {
		fmt.Fprintf(&b, "  install: sudo %s\n", AptCommand(pkgs))
	}
	return b.String()
}
