package conformance

import (
	"fmt"
	"path/filepath"

	"github.com/ironlb/ironlb/lab/topology"
)

// Lab is a mode's lab: its topology and the load balancer's configuration applied to it (both
// relative to the repository's root).
type Lab struct {
	Mode     string
	Topology string
	Config   string
}

// Labs are the labs make conformance runs the specs on: the one table of them. Both
// implementations get the same configuration; in BGP it is the sessions without BFD, which
// MetalLB's native mode refuses ("peer has bfd-profile set on native bgp mode").
var Labs = []Lab{
	{Mode: "l2", Topology: "topologies/conformance-l2.yaml", Config: "scenarios/manifests/l2-pool.yaml"},
	{Mode: "bgp", Topology: "topologies/conformance-bgp.yaml", Config: "scenarios/manifests/bgp-peers-holdtime.yaml"},
}

// DefaultFocus selects the [Feature:LoadBalancer] specs; FastSkip leaves out the slow ones (the
// subset CI runs on every change).
const (
	DefaultFocus = `\[Feature:LoadBalancer\]`
	FastSkip     = `\[Slow\]`
)

// LabName is the lab of a mode and implementation: ck, the mode, "-" and three letters of the
// implementation (ckl2-iro, ckbgp-met).
func LabName(mode, impl string) string { return "ck" + mode + "-" + impl[:min(3, len(impl))] }

// Paths is where a run's files go in the report directory: the one place that spells them.
type Paths struct{ dir, mode, impl string }

// PathsOf returns the paths of the run of impl in mode under the report directory dir.
func PathsOf(dir, mode, impl string) Paths { return Paths{dir, mode, impl} }

// ModeDir holds the mode's runs.
func (p Paths) ModeDir() string { return filepath.Join(p.dir, p.mode) }

// JUnit is the suite's JUnit report: MODE/junit-IMPL.xml.
func (p Paths) JUnit() string { return filepath.Join(p.ModeDir(), "junit-"+p.impl+".xml") }

// Log is e2e.test's output: MODE/e2e-IMPL.log.
func (p Paths) Log() string { return filepath.Join(p.ModeDir(), "e2e-"+p.impl+".log") }

// Work is e2e.test's working and report directory (--report-dir): MODE/e2e-IMPL/.
func (p Paths) Work() string { return filepath.Join(p.ModeDir(), "e2e-"+p.impl) }

// LabLogs holds the lab's logs of a run with a problem: MODE/logs-IMPL/.
func (p Paths) LabLogs() string { return filepath.Join(p.ModeDir(), "logs-"+p.impl) }

// SuiteJUnit is the name e2e.test gives its report in Work.
const SuiteJUnit = "junit_01.xml"

// Summary files, in the report directory.
const (
	SummaryMarkdown = "summary.md"
	SummaryJSON     = "summary.json"
)

// TesterHost is where e2e.test runs: the first client that shares no network with the
// Kubernetes nodes (the Local specs check that the client's address is outside the nodes' /16).
func TesterHost(top *topology.Topology) (string, error) {
	onNodes := top.NodeNetworks()
	for _, n := range top.Nodes {
		if n.Kind != topology.KindClient {
			continue
		}
		outside := true
		for _, a := range n.Networks {
			outside = outside && !onNodes[a.Network]
		}
		if outside {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("topology %s has no client outside the nodes' networks for e2e.test to run in", top.Name)
}
