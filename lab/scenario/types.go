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
	// Only runs the step against these implementations (a bound IronLB promises and MetalLB
	// does not, say); the others skip it.
	Only []string `yaml:"only,omitempty" json:"only,omitempty" doc:"run this step only against these implementations (ironlb, metallb)"`

	Apply         *Apply   `yaml:"apply,omitempty" json:"apply,omitempty" doc:"apply a manifest file"`
	Delete        *Apply   `yaml:"delete,omitempty" json:"delete,omitempty" doc:"delete the objects of a manifest file"`
	Service       *Service `yaml:"service,omitempty" json:"service,omitempty" doc:"create (or update) an echo Deployment and its LoadBalancer Service"`
	DeleteService string   `yaml:"deleteService,omitempty" json:"deleteService,omitempty" doc:"NAMESPACE/NAME: delete a Service made by a service step, and its Deployment"`
	Scale         *Scale   `yaml:"scale,omitempty" json:"scale,omitempty" doc:"scale a Deployment"`
	Patch         *Patch   `yaml:"patch,omitempty" json:"patch,omitempty" doc:"merge-patch an object"`
	Traffic       *Traffic `yaml:"traffic,omitempty" json:"traffic,omitempty" doc:"start or stop a traffic stream"`
	Wait          string   `yaml:"wait,omitempty" json:"wait,omitempty" doc:"let time pass, e.g. 2s"`
	Fault         *Fault   `yaml:"fault,omitempty" json:"fault,omitempty" doc:"break or mend part of the lab"`
	Expect        *Expect  `yaml:"expect,omitempty" json:"expect,omitempty" doc:"what must be seen, within the step's timeout"`
	Measure       *Measure `yaml:"measure,omitempty" json:"measure,omitempty" doc:"a named duration or count from the timeline"`
}

// Apply names a manifest file (relative to the scenario file).
type Apply struct {
	File string `yaml:"file" json:"file" doc:"manifest file, relative to this file"`
}

// Service is a workload and its LoadBalancer Service, made in one step: a Deployment of the lab's
// echo server (each reply names its pod and node) and a Service selecting it.
type Service struct {
	Name     string `yaml:"name" json:"name" doc:"NAMESPACE/NAME of the Service (and of its Deployment)"`
	Replicas int32  `yaml:"replicas,omitempty" json:"replicas,omitempty" doc:"echo pods (default 3)"`
	Port     int32  `yaml:"port,omitempty" json:"port,omitempty" doc:"Service port (default 80); the pods listen on 8080"`
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty" doc:"TCP (default) or UDP"`
	// Pool asks for an address from this IPAddressPool (metallb.io/address-pool).
	Pool string `yaml:"pool,omitempty" json:"pool,omitempty" doc:"IPAddressPool to take the address from (annotation metallb.io/address-pool)"`
	// Addresses asks for these addresses (metallb.io/loadBalancerIPs).
	Addresses []string `yaml:"addresses,omitempty" json:"addresses,omitempty" doc:"exact addresses (annotation metallb.io/loadBalancerIPs)"`
	// SharingKey lets Services share an address (metallb.io/allow-shared-ip).
	SharingKey string `yaml:"sharingKey,omitempty" json:"sharingKey,omitempty" doc:"annotation metallb.io/allow-shared-ip"`
	// ExternalTrafficPolicy is Cluster (default) or Local.
	ExternalTrafficPolicy string `yaml:"externalTrafficPolicy,omitempty" json:"externalTrafficPolicy,omitempty" doc:"Cluster (default) or Local"`
	// IPFamilyPolicy is SingleStack (default), PreferDualStack or RequireDualStack.
	IPFamilyPolicy string `yaml:"ipFamilyPolicy,omitempty" json:"ipFamilyPolicy,omitempty" doc:"SingleStack (default), PreferDualStack or RequireDualStack"`
	// IPFamilies orders the families (default [IPv4]).
	IPFamilies []string `yaml:"ipFamilies,omitempty" json:"ipFamilies,omitempty" doc:"IPv4, IPv6 (default [IPv4]; [IPv6] for an IPv6-only Service)"`
	// OnePerNode spreads the echo pods one per node (required pod anti-affinity).
	OnePerNode bool `yaml:"onePerNode,omitempty" json:"onePerNode,omitempty" doc:"at most one echo pod per node"`
	// NodeSelector places the echo pods.
	NodeSelector map[string]string `yaml:"nodeSelector,omitempty" json:"nodeSelector,omitempty" doc:"node labels the echo pods must have"`
}

// Patch merge-patches one object.
type Patch struct {
	// Object is KIND/NAMESPACE/NAME (or KIND/NAME for cluster-scoped objects); KIND is a
	// resource name as kubectl takes it (service, ipaddresspools.metallb.io, ...).
	Object string `yaml:"object" json:"object" doc:"RESOURCE/NAMESPACE/NAME or RESOURCE/NAME, e.g. ipaddresspools.metallb.io/metallb-system/default"`
	// Merge is the JSON merge patch, written as YAML.
	Merge map[string]any `yaml:"merge" json:"merge" doc:"JSON merge patch, as YAML"`
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
	// Host is the HTTP Host header: the name an ingress controller routes by.
	Host     string `yaml:"host,omitempty" json:"host,omitempty" doc:"http: the Host header, e.g. app1.example for an Ingress rule of that host (default: the target address)"`
	Interval string `yaml:"interval,omitempty" json:"interval,omitempty" doc:"time between requests (default 10ms)"`
	// RequestTimeout is how long one request may take before it counts as failed.
	RequestTimeout string `yaml:"requestTimeout,omitempty" json:"requestTimeout,omitempty" doc:"a request that takes longer failed (default 100ms)"`
}

// Fault kinds.
const (
	FaultNodeDown          = "node-down"
	FaultNodeUp            = "node-up"
	FaultLinkDown          = "link-down"
	FaultLinkUp            = "link-up"
	FaultLinkFlap          = "link-flap"
	FaultNetem             = "netem"
	FaultNetemClear        = "netem-clear"
	FaultKillSpeaker       = "kill-speaker"
	FaultRestartSpeaker    = "restart-speaker"
	FaultGracefulSpeaker   = "graceful-restart-speaker"
	FaultRestartController = "restart-controller"
	FaultRestartAPIServer  = "restart-apiserver"
	FaultRouterDown        = "router-down"
	FaultRouterUp          = "router-up"
	FaultPartition         = "partition"
	FaultPartitionHeal     = "partition-heal"
	FaultAPIServerDown     = "apiserver-down"
	FaultAPIServerUp       = "apiserver-up"
)

// FaultKinds lists every fault a scenario may use.
var FaultKinds = []string{FaultNodeDown, FaultNodeUp, FaultLinkDown, FaultLinkUp, FaultLinkFlap, FaultNetem, FaultNetemClear,
	FaultKillSpeaker, FaultRestartSpeaker, FaultGracefulSpeaker, FaultRestartController, FaultRestartAPIServer,
	FaultRouterDown, FaultRouterUp, FaultPartition, FaultPartitionHeal, FaultAPIServerDown, FaultAPIServerUp}

// Target forms besides a host name.
const (
	// TargetOwnerOf is the node answering ARP/NDP for a Service's address, asked from a client.
	TargetOwnerOf = "owner-of:"
	// TargetBystanderOf is the first worker (in topology order) that does not answer ARP/NDP for
	// a Service's address.
	TargetBystanderOf = "bystander-of:"
	// TargetFaulted is the host an earlier fault step acted on (after resolving its target).
	TargetFaulted = "faulted:"
)

// Fault breaks or mends part of the lab.
type Fault struct {
	Kind string `yaml:"kind" json:"kind" doc:"node-down, node-up, link-down, link-up, link-flap, netem, netem-clear, kill-speaker, restart-speaker, graceful-restart-speaker, restart-controller, restart-apiserver, apiserver-down, apiserver-up, router-down, router-up, partition, partition-heal"`
	// Target is a host, "owner-of:NAMESPACE/NAME" (the node that answers ARP/NDP for a Service),
	// "bystander-of:NAMESPACE/NAME" (the first worker that does not) or "faulted:STEP" (the host
	// an earlier fault step acted on). Link faults take HOST or HOST:IFACE.
	Target string `yaml:"target,omitempty" json:"target,omitempty" doc:"host (HOST:IFACE for one link), owner-of:NAMESPACE/NAME (the node answering ARP/NDP for a Service), bystander-of:NAMESPACE/NAME (the first worker that does not) or faulted:STEP (the host an earlier fault step acted on)"`
	// Mode is how node-down and router-down stop the host's processes.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty" doc:"node-down, router-down: kill (default: links cut, every process SIGKILLed), freeze (SIGSTOP) or stop (graceful shutdown)"`
	// Flaps and Period are for link-flap.
	Flaps  int    `yaml:"flaps,omitempty" json:"flaps,omitempty" doc:"link-flap: how many down/up cycles (default 3)"`
	Period string `yaml:"period,omitempty" json:"period,omitempty" doc:"link-flap: length of one down/up cycle (default 2s)"`
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
	ServedBy         *ServedBy       `yaml:"servedBy,omitempty" json:"servedBy,omitempty" doc:"every good reply of a stream comes from the pods of one Deployment from now on, and at least one does"`
	Never            *Never          `yaml:"never,omitempty" json:"never,omitempty" doc:"something never happens during the rest of the scenario"`
	Route            *Route          `yaml:"route,omitempty" json:"route,omitempty" doc:"a router's kernel table has a route with the given next hops (or none)"`
	Event            *Event          `yaml:"event,omitempty" json:"event,omitempty" doc:"a Kubernetes event about an object"`
	Status           *Status         `yaml:"status,omitempty" json:"status,omitempty" doc:"a field of an object (or of a list of objects) has a value"`
	Measurement      *Bound          `yaml:"measurement,omitempty" json:"measurement,omitempty" doc:"an earlier measurement is within a bound"`
	BGPPath          *BGPPath        `yaml:"bgpPath,omitempty" json:"bgpPath,omitempty" doc:"a path in a router's RIB (gobgp: rib.json; frr: vtysh) carries the given attributes"`
}

// BGPPath expects a path in a lab router's RIB (routers of type gobgp write it to rib.json; FRR's
// bgpd is asked through vtysh).
type BGPPath struct {
	Router  string `yaml:"router" json:"router" doc:"router host"`
	Service string `yaml:"service,omitempty" json:"service,omitempty" doc:"NAMESPACE/NAME: the path to the Service's address (/32 or /128)"`
	Family  string `yaml:"family,omitempty" json:"family,omitempty" doc:"with service: ipv4 (default) or ipv6"`
	Prefix  string `yaml:"prefix,omitempty" json:"prefix,omitempty" doc:"destination prefix, e.g. 10.200.1.0/24"`
	// Communities must all be on one path (standard as 64512:100, large as large:64512:1:2).
	Communities []string `yaml:"communities,omitempty" json:"communities,omitempty" doc:"communities that path carries (all of them)"`
	LocalPref   uint32   `yaml:"localPref,omitempty" json:"localPref,omitempty" doc:"its local preference (iBGP)"`
	// Paths is how many paths (advertising nodes) the router has for the prefix; 0: any.
	Paths int `yaml:"paths,omitempty" json:"paths,omitempty" doc:"how many paths (one per advertising node); 0: at least one"`
}

// Bound bounds an earlier measurement: a duration, or a count.
type Bound struct {
	Name     string `yaml:"name" json:"name" doc:"measurement name"`
	Max      string `yaml:"max,omitempty" json:"max,omitempty" doc:"a duration measurement is at most this, e.g. 1s"`
	MaxCount *int   `yaml:"maxCount,omitempty" json:"maxCount,omitempty" doc:"a count measurement is at most this"`
}

// Route expects a route at a router, read from the router namespace's kernel table.
type Route struct {
	Router string `yaml:"router" json:"router" doc:"router host"`
	// Service or Prefix names the destination.
	Service string `yaml:"service,omitempty" json:"service,omitempty" doc:"NAMESPACE/NAME: the route to the Service's address (/32 or /128)"`
	Family  string `yaml:"family,omitempty" json:"family,omitempty" doc:"with service: ipv4 (default) or ipv6"`
	Prefix  string `yaml:"prefix,omitempty" json:"prefix,omitempty" doc:"destination prefix, e.g. 172.18.255.200/32"`
	// NextHops are hosts (the address each has on the router's network) or addresses; the route
	// must have exactly these.
	NextHops []string `yaml:"nextHops,omitempty" json:"nextHops,omitempty" doc:"exactly these next hops: host names or addresses"`
	Absent   bool     `yaml:"absent,omitempty" json:"absent,omitempty" doc:"the router has no route to the destination"`
}

// Event expects a Kubernetes event.
type Event struct {
	Object  string `yaml:"object" json:"object" doc:"KIND/NAMESPACE/NAME of the involved object, e.g. Service/default/echo"`
	Reason  string `yaml:"reason" json:"reason" doc:"event reason, e.g. nodeAssigned"`
	Message string `yaml:"message,omitempty" json:"message,omitempty" doc:"a substring of the message"`
}

// Status expects a field of an object, or of every object a label selector picks, read with a
// kubectl-style JSONPath.
type Status struct {
	Resource string `yaml:"resource" json:"resource" doc:"resource as kubectl names it, e.g. services, servicel2statuses.metallb.io"`
	// Name is NAMESPACE/NAME (or NAME); empty with Namespace lists objects.
	Name      string  `yaml:"name,omitempty" json:"name,omitempty" doc:"NAMESPACE/NAME (or NAME, cluster-scoped); empty: a list"`
	Namespace string  `yaml:"namespace,omitempty" json:"namespace,omitempty" doc:"list: the namespace"`
	Selector  string  `yaml:"selector,omitempty" json:"selector,omitempty" doc:"list: label selector"`
	JSONPath  string  `yaml:"jsonPath" json:"jsonPath" doc:"kubectl JSONPath, e.g. {.status.loadBalancer.ingress[0].ip}; a list is read as {.items[*]...}"`
	Equals    *string `yaml:"equals,omitempty" json:"equals,omitempty" doc:"the value is exactly this (may be empty)"`
	Contains  string  `yaml:"contains,omitempty" json:"contains,omitempty" doc:"the value contains this"`
}

// ServiceAddress expects a Service's load-balancer address.
type ServiceAddress struct {
	Service string `yaml:"service" json:"service" doc:"NAMESPACE/NAME"`
	Pool    string `yaml:"pool,omitempty" json:"pool,omitempty" doc:"the address comes from this pool"`
	Address string `yaml:"address,omitempty" json:"address,omitempty" doc:"exactly this address"`
	SameAs  string `yaml:"sameAs,omitempty" json:"sameAs,omitempty" doc:"NAMESPACE/NAME: the same address as this Service (IP sharing)"`
	// Pending expects no address: checked once, after the step's timeout has passed without one.
	Pending bool `yaml:"pending,omitempty" json:"pending,omitempty" doc:"the Service gets no address (checked for the step's whole timeout)"`
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

// ServedBy expects that, from this step until the stream stops, every good reply of a stream
// comes from a pod of a Deployment (an Ingress routes each host to its own app), and that at least
// one good reply comes, so that a stream that never got through does not pass.
type ServedBy struct {
	Stream     string `yaml:"stream" json:"stream" doc:"stream name"`
	Deployment string `yaml:"deployment" json:"deployment" doc:"NAMESPACE/NAME of the Deployment whose pods (NAME-HASH-SUFFIX) must give every good reply"`
}

// Never expects something not to happen from this step on.
type Never struct {
	FailedRequest  string `yaml:"failedRequest,omitempty" json:"failedRequest,omitempty" doc:"stream name: no request of it fails (until the stream stops)"`
	AddressChanges string `yaml:"addressChanges,omitempty" json:"addressChanges,omitempty" doc:"NAMESPACE/NAME: the Service's address never changes"`
}

// Measure records a named value from the timeline.
type Measure struct {
	Name string `yaml:"name" json:"name" doc:"measurement name in the report, e.g. failoverMs"`
	// Gap: for a stream, last good reply before the step named After to the first good one after it.
	Gap *Gap `yaml:"gap,omitempty" json:"gap,omitempty" doc:"the outage of a stream around a step"`
	// Lost counts failed requests of a stream.
	Lost string `yaml:"lost,omitempty" json:"lost,omitempty" doc:"stream name: failed requests so far, after its first good reply"`
	// Served counts a stream's good replies per node.
	Served string `yaml:"served,omitempty" json:"served,omitempty" doc:"stream name: good replies so far, per serving node"`
	// Between is the time from the start of a step to an observed event.
	Between *Between `yaml:"between,omitempty" json:"between,omitempty" doc:"time from a step to an observed change"`
	// OwnerChanges counts the changes of the ARP/NDP owner of a Service's address in a window.
	OwnerChanges *OwnerChanges `yaml:"ownerChanges,omitempty" json:"ownerChanges,omitempty" doc:"how many times the node answering ARP/NDP for a Service changed between two steps"`
}

// OwnerChanges counts the ARP/NDP owner changes a client saw for a Service's address (the
// runner's probe, every 250 ms) from the start of one step to the start of another (or to this
// measurement). Every change counts: to another node, to several nodes answering at once, to none.
type OwnerChanges struct {
	Service string `yaml:"service" json:"service" doc:"NAMESPACE/NAME (a stream must target it: its owner is probed from that stream's client)"`
	From    string `yaml:"from" json:"from" doc:"the window starts when this step starts"`
	To      string `yaml:"to,omitempty" json:"to,omitempty" doc:"the window ends when this step starts (default: at this measurement)"`
}

// Between measures from the start of a step to the first matching observation after it.
type Between struct {
	From string `yaml:"from" json:"from" doc:"step name"`
	// To is step:NAME (that step's start), owner:NAMESPACE/NAME (the first change of the node
	// answering ARP/NDP for the Service), recovered:STREAM (its first good reply after a failure).
	To string `yaml:"to" json:"to" doc:"step:NAME, owner:NAMESPACE/NAME or recovered:STREAM"`
}

// Gap is the outage of a stream around a step.
type Gap struct {
	Stream string `yaml:"stream" json:"stream" doc:"stream name"`
	Around string `yaml:"around" json:"around" doc:"name of the step (a fault) the outage follows"`
}

// ReferenceDoc is the Markdown reference of the Scenario format (docs/reference/scenario.md).
func ReferenceDoc() ([]byte, error) {
	return []byte(topology.Reference(Scenario{}, "Scenario reference",
		"Every field of a scenario file (`apiVersion: "+APIVersion+"`, `kind: "+Kind+"`); see docs/scenarios.md for how scenarios run.")), nil
}

// Schema returns the JSON Schema of the Scenario format, generated from the Go types.
func Schema() ([]byte, error) {
	return topology.SchemaDocument(Scenario{}, "scenario", APIVersion, Kind)
}

// EchoImage is the image of the echo Deployments a Service step makes: a netns lab maps it to
// nothing, so its pods run the node agent's echo server; a Kind lab loads ironlab's echo server
// (`ironlab __echo`) under this name. Either answers with the pod and node (traffic.Reply).
const EchoImage = "registry.k8s.io/e2e-test-images/agnhost:2.53"
