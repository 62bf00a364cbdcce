// Package scenario is the lab's Scenario YAML: what happens to a cluster and its network, step by
// step, and what must be seen. It is pure (no Kubernetes, netlink or sockets): the runner turns a
// validated Scenario into actions, faults and observations.
package scenario

import "github.com/ironlb/ironlb/lab/topology"

// APIVersion and Kind head every scenario file.
const (
	APIVersion = "lab.ironlb.io/v1alpha1"
	Kind       = "Scenario"
)

// Scenario is one replayable story.
type Scenario struct {
	APIVersion  string `yaml:"apiVersion" json:"apiVersion" doc:"lab.ironlb.io/v1alpha1"`
	Kind        string `yaml:"kind" json:"kind" doc:"Scenario"`
	Name        string `yaml:"name" json:"name" doc:"scenario name (report and JUnit test case name)"`
	Description string `yaml:"description,omitempty" json:"description,omitempty" doc:"what the scenario teaches or checks"`
	// Topology is the topology file, relative to the scenario file.
	Topology string `yaml:"topology" json:"topology" doc:"topology file, relative to this file"`
	// Implementation is the load balancer under test.
	Implementation string `yaml:"implementation,omitempty" json:"implementation,omitempty" doc:"ironlb (default) or metallb"`
	// Manifests are applied once the lab is up, before the steps.
	Manifests []string `yaml:"manifests,omitempty" json:"manifests,omitempty" doc:"manifest files applied before the steps, relative to this file"`
	// Timeout bounds the whole scenario.
	Timeout string `yaml:"timeout,omitempty" json:"timeout,omitempty" doc:"bound for the whole scenario (default 5m)"`
	Steps   []Step `yaml:"steps" json:"steps" doc:"what happens, in order"`
}

// Step is one action, fault, wait, expectation or measurement: exactly one of its fields besides
// Name and Timeout is set.
type Step struct {
	Name    string `yaml:"name,omitempty" json:"name,omitempty" doc:"step name (default: its kind and index)"`
	Timeout string `yaml:"timeout,omitempty" json:"timeout,omitempty" doc:"bound for this step (default 60s)"`

	Apply   *Apply   `yaml:"apply,omitempty" json:"apply,omitempty" doc:"apply a manifest file"`
	Delete  *Apply   `yaml:"delete,omitempty" json:"delete,omitempty" doc:"delete the objects of a manifest file"`
	Scale   *Scale   `yaml:"scale,omitempty" json:"scale,omitempty" doc:"scale a Deployment"`
	Traffic *Traffic `yaml:"traffic,omitempty" json:"traffic,omitempty" doc:"start or stop a traffic stream"`
	Wait    string   `yaml:"wait,omitempty" json:"wait,omitempty" doc:"let time pass, e.g. 2s"`
	Fault   *Fault   `yaml:"fault,omitempty" json:"fault,omitempty" doc:"break or mend part of the lab"`
	Expect  *Expect  `yaml:"expect,omitempty" json:"expect,omitempty" doc:"what must be seen, within the step's timeout"`
	Measure *Measure `yaml:"measure,omitempty" json:"measure,omitempty" doc:"a named duration or count from the timeline"`
}

// Apply names a manifest file (relative to the scenario file).
type Apply struct {
	File string `yaml:"file" json:"file" doc:"manifest file, relative to this file"`
}

// Scale sets a Deployment's replicas.
type Scale struct {
	Deployment string `yaml:"deployment" json:"deployment" doc:"NAMESPACE/NAME"`
	Replicas   int32  `yaml:"replicas" json:"replicas" doc:"replicas"`
}

// Traffic starts or stops a stream of requests.
type Traffic struct {
	Start *Stream `yaml:"start,omitempty" json:"start,omitempty" doc:"start a stream"`
	Stop  string  `yaml:"stop,omitempty" json:"stop,omitempty" doc:"stop the stream of this name"`
}

// Stream sends a request every Interval from a client host to a Service.
type Stream struct {
	Name     string `yaml:"name" json:"name" doc:"stream name, used by expectations and measurements"`
	From     string `yaml:"from" json:"from" doc:"client host"`
	To       string `yaml:"to" json:"to" doc:"Service as NAMESPACE/NAME (its load-balancer address)"`
	Family   string `yaml:"family,omitempty" json:"family,omitempty" doc:"ipv4 (default) or ipv6"`
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty" doc:"http (default) or udp"`
	Port     int32  `yaml:"port,omitempty" json:"port,omitempty" doc:"port (default 80)"`
	Interval string `yaml:"interval,omitempty" json:"interval,omitempty" doc:"time between requests (default 10ms)"`
}

// Fault kinds.
const (
	FaultNodeDown          = "node-down"
	FaultNodeUp            = "node-up"
	FaultLinkDown          = "link-down"
	FaultLinkUp            = "link-up"
	FaultLinkFlap          = "link-flap"
	FaultNetem             = "netem"
	FaultKillSpeaker       = "kill-speaker"
	FaultRestartSpeaker    = "restart-speaker"
	FaultGracefulSpeaker   = "graceful-restart-speaker"
	FaultRestartController = "restart-controller"
	FaultRestartAPIServer  = "restart-apiserver"
	FaultRouterDown        = "router-down"
	FaultRouterUp          = "router-up"
	FaultPartition         = "partition"
)

// FaultKinds lists every fault a scenario may use.
var FaultKinds = []string{FaultNodeDown, FaultNodeUp, FaultLinkDown, FaultLinkUp, FaultLinkFlap, FaultNetem,
	FaultKillSpeaker, FaultRestartSpeaker, FaultGracefulSpeaker, FaultRestartController, FaultRestartAPIServer,
	FaultRouterDown, FaultRouterUp, FaultPartition}

// Fault breaks or mends part of the lab.
type Fault struct {
	Kind string `yaml:"kind" json:"kind" doc:"node-down, node-up, link-down, link-up, link-flap, netem, kill-speaker, restart-speaker, graceful-restart-speaker, restart-controller, restart-apiserver, router-down, router-up, partition"`
	// Target is a host, or "owner-of:NAMESPACE/NAME": the node that answers ARP/NDP for a Service.
	Target string `yaml:"target,omitempty" json:"target,omitempty" doc:"host, or owner-of:NAMESPACE/NAME (the node announcing a Service)"`
	// Loss and Delay are for netem.
	Loss  string `yaml:"loss,omitempty" json:"loss,omitempty" doc:"netem: packet loss, e.g. 10%"`
	Delay string `yaml:"delay,omitempty" json:"delay,omitempty" doc:"netem: added delay, e.g. 50ms"`
	// Groups are the two sides of a partition.
	Groups [][]string `yaml:"groups,omitempty" json:"groups,omitempty" doc:"partition: two groups of hosts that stop reaching each other"`
}

// Expect is one expectation; exactly one field is set.
type Expect struct {
	ServiceAddress   *ServiceAddress `yaml:"serviceAddress,omitempty" json:"serviceAddress,omitempty" doc:"a Service has an address (from a pool, or a given one)"`
	ARPOwner         *ARPOwner       `yaml:"arpOwner,omitempty" json:"arpOwner,omitempty" doc:"which node answers ARP/NDP for a Service, probed from a client"`
	TrafficRecovered *StreamBound    `yaml:"trafficRecovered,omitempty" json:"trafficRecovered,omitempty" doc:"a stream gets good replies again"`
	NoReplyFrom      *NoReplyFrom    `yaml:"noReplyFrom,omitempty" json:"noReplyFrom,omitempty" doc:"no reply of a stream comes from a node from now on"`
	Never            *Never          `yaml:"never,omitempty" json:"never,omitempty" doc:"something never happens during the rest of the scenario"`
}

// ServiceAddress expects a Service's load-balancer address.
type ServiceAddress struct {
	Service string `yaml:"service" json:"service" doc:"NAMESPACE/NAME"`
	Pool    string `yaml:"pool,omitempty" json:"pool,omitempty" doc:"the address comes from this pool"`
	Address string `yaml:"address,omitempty" json:"address,omitempty" doc:"exactly this address"`
}

// ARPOwner expects the node answering for a Service's address.
type ARPOwner struct {
	Service string `yaml:"service" json:"service" doc:"NAMESPACE/NAME"`
	From    string `yaml:"from" json:"from" doc:"client host that probes"`
	Node    string `yaml:"node,omitempty" json:"node,omitempty" doc:"this node; empty: any single node"`
	NotNode string `yaml:"notNode,omitempty" json:"notNode,omitempty" doc:"any node but this one"`
}

// StreamBound names a stream and a bound.
type StreamBound struct {
	Stream string `yaml:"stream" json:"stream" doc:"stream name"`
	Within string `yaml:"within,omitempty" json:"within,omitempty" doc:"bound, e.g. 1s (default: the step's timeout)"`
}

// NoReplyFrom expects no reply of a stream from a node.
type NoReplyFrom struct {
	Stream string `yaml:"stream" json:"stream" doc:"stream name"`
	Node   string `yaml:"node" json:"node" doc:"node name"`
}

// Never expects something not to happen from this step on.
type Never struct {
	FailedRequest  string `yaml:"failedRequest,omitempty" json:"failedRequest,omitempty" doc:"stream name: no request of it fails"`
	AddressChanges string `yaml:"addressChanges,omitempty" json:"addressChanges,omitempty" doc:"NAMESPACE/NAME: the Service's address never changes"`
}

// Measure records a named value from the timeline.
type Measure struct {
	Name string `yaml:"name" json:"name" doc:"measurement name in the report, e.g. failoverMs"`
	// Gap: for a stream, last good reply before the step named After to the first good one after it.
	Gap *Gap `yaml:"gap,omitempty" json:"gap,omitempty" doc:"the outage of a stream around a step"`
	// Lost counts failed requests of a stream.
	Lost string `yaml:"lost,omitempty" json:"lost,omitempty" doc:"stream name: failed requests so far"`
}

// Gap is the outage of a stream around a step.
type Gap struct {
	Stream string `yaml:"stream" json:"stream" doc:"stream name"`
	Around string `yaml:"around" json:"around" doc:"name of the step (a fault) the outage follows"`
}

// Schema returns the JSON Schema of the Scenario format, generated from the Go types.
func Schema() ([]byte, error) {
	return topology.SchemaDocument(Scenario{}, "scenario", APIVersion, Kind)
}
