package soak

import (
	"fmt"
	"time"

	"github.com/ironlb/ironlb/lab/scenario"
)

// Parts of a soak scenario's steps.
const (
	PartSetup = "setup"
	PartFault = "fault"
	PartUndo  = "undo"
	PartChurn = "churn"
)

// Role says what a step of the soak scenario does for the plan.
type Role struct {
	Round  int
	Part   string
	Kind   string
	Target string
}

// Port is one port of a Service.
type Port struct {
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
}

// ServiceSpec is what the invariants need to know of a Service the soak made.
type ServiceSpec struct {
	Name       string `json:"name"`
	SharingKey string `json:"sharingKey,omitempty"`
	Ports      []Port `json:"ports"`
}

// Setup is where a plan runs.
type Setup struct {
	Name      string   // scenario name
	Topology  string   // topology file (absolute, or relative to the working directory)
	Manifests []string // pools and advertisements, applied before the steps
	Impl      string
	Client    string // the host the streams come from
}

// Script is a plan as one scenario, with what each step means to the checks.
type Script struct {
	Scenario *scenario.Scenario
	Roles    map[string]Role // by step name
	Services map[string]ServiceSpec
	Streams  []string
}

// The Services every soak starts with, and the streams to them: one per kind of Service that
// fails over differently (Cluster, Local, a UDP Service sharing its address with a TCP one).
var baseServices = []scenario.Service{
	{Name: "default/soak-a", Replicas: 3},
	{Name: "default/soak-b", Replicas: 3, OnePerNode: true, ExternalTrafficPolicy: "Local"},
	{Name: "default/soak-s1", Replicas: 2, SharingKey: "soak-shared"},
	{Name: "default/soak-s2", Replicas: 2, SharingKey: "soak-shared", Protocol: "UDP", Port: 53},
}

// OwnerService is the Service whose ARP/NDP owner node faults may target.
const OwnerService = "default/soak-a"

const (
	streamInterval = "20ms"
	actionTimeout  = "90s"
)

// Script turns the plan into one scenario the runner executes: the base Services and streams,
// then per round the fault, a wait for the hold, the undo, the churn and a wait to settle.
func (pl Plan) Script(s Setup) (*Script, error) {
	sc := &scenario.Scenario{APIVersion: scenario.APIVersion, Kind: scenario.Kind, Name: s.Name,
		Description: fmt.Sprintf("soak, seed %d, %s", pl.Seed, pl.Duration), Topology: s.Topology, Implementation: s.Impl,
		Manifests: s.Manifests, Timeout: (3*pl.Duration + 10*time.Minute).String()}
	out := &Script{Scenario: sc, Roles: map[string]Role{}, Services: map[string]ServiceSpec{}}
	add := func(st scenario.Step, role Role) {
		sc.Steps = append(sc.Steps, st)
		out.Roles[st.Name] = role
	}
	for i := range baseServices {
		sv := baseServices[i]
		add(scenario.Step{Name: "setup " + sv.Name, Timeout: actionTimeout, Service: &sv}, Role{Part: PartSetup, Kind: ServiceCreate, Target: sv.Name})
		out.Services[sv.Name] = specOf(sv)
	}
	streams := []scenario.Stream{
		{Name: "a", From: s.Client, To: "default/soak-a", Interval: streamInterval},
		{Name: "b", From: s.Client, To: "default/soak-b", Interval: streamInterval},
		{Name: "s", From: s.Client, To: "default/soak-s2", Protocol: "udp", Port: 53, Interval: streamInterval},
	}
	for i := range streams {
		add(scenario.Step{Name: "stream " + streams[i].Name, Timeout: actionTimeout, Traffic: &scenario.Traffic{Start: &streams[i]}}, Role{Part: PartSetup})
		out.Streams = append(out.Streams, streams[i].Name)
	}
	add(scenario.Step{Name: "setup settle", Wait: "5s"}, Role{Part: PartSetup})
	for _, r := range pl.Rounds {
		p := fmt.Sprintf("r%02d", r.N)
		faultStep := fmt.Sprintf("%s fault %s", p, r.Fault.Kind)
		add(scenario.Step{Name: faultStep, Timeout: actionTimeout, Fault: faultOf(r.Fault)},
			Role{Round: r.N, Part: PartFault, Kind: r.Fault.Kind, Target: r.Fault.Target})
		add(scenario.Step{Name: p + " hold", Wait: r.Hold.String()}, Role{Round: r.N, Part: PartFault})
		if r.Undo != nil {
			undo := faultOf(*r.Undo)
			if undo.Target != "" {
				// The host the fault hit, as resolved then: owner-of: may name another node by now.
				undo.Target = scenario.TargetFaulted + faultStep
			}
			add(scenario.Step{Name: fmt.Sprintf("%s undo %s", p, r.Undo.Kind), Timeout: actionTimeout, Fault: undo},
				Role{Round: r.N, Part: PartUndo, Kind: r.Undo.Kind, Target: undo.Target})
		}
		for i, c := range r.Churn {
			st := scenario.Step{Name: fmt.Sprintf("%s churn %d %s %s", p, i+1, c.Kind, c.Target), Timeout: actionTimeout}
			switch c.Kind {
			case ServiceCreate:
				sv := scenario.Service{Name: c.Target, Replicas: 1}
				st.Service = &sv
				out.Services[c.Target] = specOf(sv)
			case ServiceDelete:
				st.DeleteService = c.Target
			case ServicePatch:
				st.Patch = &scenario.Patch{Object: "service/" + c.Target, Merge: map[string]any{"spec": map[string]any{"ports": []any{
					map[string]any{"name": "echo", "port": c.Port, "protocol": "TCP", "targetPort": 8080}}}}}
			}
			add(st, Role{Round: r.N, Part: PartChurn, Kind: c.Kind, Target: c.Target})
		}
		add(scenario.Step{Name: p + " settle", Wait: r.Settle.String()}, Role{Round: r.N, Part: PartChurn})
	}
	for _, n := range out.Streams {
		add(scenario.Step{Name: "stop " + n, Traffic: &scenario.Traffic{Stop: n}}, Role{Part: PartSetup})
	}
	scenario.Default(sc)
	if ps := scenario.Validate(sc); len(ps) > 0 {
		return nil, fmt.Errorf("soak scenario (seed %d): %w", pl.Seed, ps)
	}
	return out, nil
}

func faultOf(a Action) *scenario.Fault {
	return &scenario.Fault{Kind: a.Scenario, Target: a.Target, Mode: a.Mode, Groups: a.Groups, Loss: a.Loss, Flaps: a.Flaps, Period: a.Period}
}

// specOf is a Service step's Service as the checks see it (the defaults of a service step: port
// 80, TCP).
func specOf(sv scenario.Service) ServiceSpec {
	port, proto := sv.Port, sv.Protocol
	if port == 0 {
		port = 80
	}
	if proto == "" {
		proto = "TCP"
	}
	return ServiceSpec{Name: sv.Name, SharingKey: sv.SharingKey, Ports: []Port{{Port: port, Protocol: proto}}}
}
