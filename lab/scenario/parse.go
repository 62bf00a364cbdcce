package scenario

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ironlb/ironlb/lab/topology"
)

// hostHeaderRe is what a stream's Host header may be: a name or IPv4 address, or an IPv6 address
// in brackets, with an optional port.
var hostHeaderRe = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

// Problems are every problem of a scenario, with their paths (the same type as a topology's).
type Problems = topology.Problems

// ErrInvalid is matched by every parse and validation error.
var ErrInvalid = topology.ErrInvalid

// Defaults.
const (
	DefaultTimeout     = 5 * time.Minute
	DefaultStepTimeout = 60 * time.Second
	DefaultInterval    = 10 * time.Millisecond
	// DefaultRequestTimeout fails a request of a stream that takes longer.
	DefaultRequestTimeout = 100 * time.Millisecond
)

// Load reads, parses, defaults and validates a scenario file. Relative paths in it (topology,
// manifests) are made relative to the file's directory.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	s.Topology = rel(s.Topology)
	for i := range s.Manifests {
		s.Manifests[i] = rel(s.Manifests[i])
	}
	for i := range s.Steps {
		for _, a := range []*Apply{s.Steps[i].Apply, s.Steps[i].Delete} {
			if a != nil {
				a.File = rel(a.File)
			}
		}
	}
	return s, nil
}

// Parse decodes a scenario strictly, fills in defaults and validates it, returning every problem.
func Parse(data []byte) (*Scenario, error) {
	s := &Scenario{}
	if err := topology.DecodeStrict(data, s, func() (string, string) { return s.APIVersion, s.Kind }, APIVersion, Kind); err != nil {
		return nil, err
	}
	Default(s)
	if ps := Validate(s); len(ps) > 0 {
		return nil, ps
	}
	return s, nil
}

// Default fills in implementation, timeouts, step names and stream settings.
func Default(s *Scenario) {
	if s.Implementation == "" {
		s.Implementation = "ironlb"
	}
	if s.Timeout == "" {
		s.Timeout = DefaultTimeout.String()
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Timeout == "" {
			st.Timeout = DefaultStepTimeout.String()
		}
		if st.Name == "" {
			st.Name = fmt.Sprintf("%d-%s", i+1, st.kind())
		}
		if sv := st.Service; sv != nil {
			if sv.Replicas == 0 {
				sv.Replicas = 3
			}
			if sv.Port == 0 {
				sv.Port = 80
			}
			if sv.Protocol == "" {
				sv.Protocol = "TCP"
			}
			if sv.ExternalTrafficPolicy == "" {
				sv.ExternalTrafficPolicy = "Cluster"
			}
			if sv.IPFamilyPolicy == "" {
				sv.IPFamilyPolicy = "SingleStack"
			}
			if len(sv.IPFamilies) == 0 {
				sv.IPFamilies = []string{"IPv4"}
				if sv.IPFamilyPolicy != "SingleStack" {
					sv.IPFamilies = []string{"IPv4", "IPv6"}
				}
			}
		}
		if f := st.Fault; f != nil {
			if f.Mode == "" && (f.Kind == FaultNodeDown || f.Kind == FaultRouterDown) {
				f.Mode = "kill"
			}
			if f.Kind == FaultLinkFlap {
				if f.Flaps == 0 {
					f.Flaps = 3
				}
				if f.Period == "" {
					f.Period = "2s"
				}
			}
		}
		if r := st.Expect; r != nil && r.Route != nil && r.Route.Service != "" && r.Route.Family == "" {
			r.Route.Family = "ipv4"
		}
		if r := st.Expect; r != nil && r.BGPPath != nil && r.BGPPath.Service != "" && r.BGPPath.Family == "" {
			r.BGPPath.Family = "ipv4"
		}
		if t := st.Traffic; t != nil && t.Start != nil {
			if t.Start.Family == "" {
				t.Start.Family = "ipv4"
			}
			if t.Start.Protocol == "" {
				t.Start.Protocol = "http"
			}
			if t.Start.Port == 0 {
				t.Start.Port = 80
			}
			if t.Start.Interval == "" {
				t.Start.Interval = DefaultInterval.String()
			}
			if t.Start.RequestTimeout == "" {
				t.Start.RequestTimeout = DefaultRequestTimeout.String()
			}
		}
	}
}

// Kind names what a step does (the first of its fields that is set).
func (st *Step) Kind() string { return st.kind() }

func (st *Step) kind() string {
	kinds := st.kinds()
	if len(kinds) == 0 {
		return "empty"
	}
	return kinds[0]
}

func (st *Step) kinds() []string {
	var out []string
	add := func(set bool, k string) {
		if set {
			out = append(out, k)
		}
	}
	add(st.Apply != nil, "apply")
	add(st.Delete != nil, "delete")
	add(st.Service != nil, "service")
	add(st.DeleteService != "", "deleteService")
	add(st.Scale != nil, "scale")
	add(st.Patch != nil, "patch")
	add(st.Traffic != nil, "traffic")
	add(st.Wait != "", "wait")
	add(st.Fault != nil, "fault")
	add(st.Expect != nil, "expect")
	add(st.Measure != nil, "measure")
	return out
}

type validator struct {
	ps          Problems
	everStarted map[string]bool
	faultSteps  map[string]bool // names of the fault steps so far
	targeted    map[string]bool // Services an earlier stream targets
}

func (v *validator) add(path, format string, args ...any) {
	v.ps = append(v.ps, topology.Problem{Path: path, Detail: fmt.Sprintf(format, args...)})
}

func (v *validator) duration(path, s string) {
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		v.add(path, "%q is not a positive duration such as 500ms or 2s", s)
	}
}

func (v *validator) namespacedName(path, s string) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		v.add(path, "%q: want NAMESPACE/NAME", s)
	}
}

// Validate checks a defaulted scenario and returns every problem with its path.
func Validate(s *Scenario) Problems {
	v := &validator{everStarted: map[string]bool{}, faultSteps: map[string]bool{}, targeted: map[string]bool{}}
	if s.Name == "" {
		v.add("name", "a scenario needs a name")
	}
	if s.Topology == "" {
		v.add("topology", "a scenario names its topology file")
	}
	if s.Implementation != "ironlb" && s.Implementation != "metallb" {
		v.add("implementation", "%q: want ironlb or metallb", s.Implementation)
	}
	v.duration("timeout", s.Timeout)
	if len(s.Steps) == 0 {
		v.add("steps", "a scenario has at least one step")
	}
	streams := map[string]bool{} // started and not stopped
	stepNames := map[string]int{}
	measures := map[string]bool{}
	for i := range s.Steps {
		st := &s.Steps[i]
		p := fmt.Sprintf("steps[%d]", i)
		if prev, dup := stepNames[st.Name]; dup {
			v.add(p+".name", "%q is the name of steps[%d] too", st.Name, prev)
		}
		stepNames[st.Name] = i
		v.duration(p+".timeout", st.Timeout)
		for j, impl := range st.Only {
			if impl != "ironlb" && impl != "metallb" {
				v.add(fmt.Sprintf("%s.only[%d]", p, j), "%q: want ironlb or metallb", impl)
			}
		}
		if st.Measure != nil && st.Measure.Name != "" {
			measures[st.Measure.Name] = true
		}
		if e := st.Expect; e != nil && e.Measurement != nil && !measures[e.Measurement.Name] {
			v.add(p+".expect.measurement.name", "no earlier measurement named %q", e.Measurement.Name)
		}
		if k := st.kinds(); len(k) != 1 {
			v.add(p, "a step does exactly one thing (apply, delete, service, deleteService, scale, patch, traffic, wait, fault, expect or measure), found %d: %v", len(k), k)
			continue
		}
		v.step(p, st, streams, stepNames)
	}
	return v.ps
}

func (v *validator) step(p string, st *Step, streams map[string]bool, steps map[string]int) {
	known := func(path, name string) {
		if !streams[name] {
			v.add(path, "no running stream %q (start it in an earlier traffic step)", name)
		}
	}
	started := func(path, name string) {
		if _, ok := v.everStarted[name]; !ok {
			v.add(path, "no stream %q was started in an earlier traffic step", name)
		}
	}
	switch {
	case st.Apply != nil && st.Apply.File == "":
		v.add(p+".apply.file", "names a manifest file")
	case st.Delete != nil && st.Delete.File == "":
		v.add(p+".delete.file", "names a manifest file")
	case st.Service != nil:
		v.service(p+".service", st.Service)
	case st.DeleteService != "":
		v.namespacedName(p+".deleteService", st.DeleteService)
	case st.Patch != nil:
		parts := strings.Split(st.Patch.Object, "/")
		if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
			v.add(p+".patch.object", "%q: want RESOURCE/NAMESPACE/NAME or RESOURCE/NAME", st.Patch.Object)
		}
		if len(st.Patch.Merge) == 0 {
			v.add(p+".patch.merge", "an empty patch changes nothing")
		}
	case st.Scale != nil:
		v.namespacedName(p+".scale.deployment", st.Scale.Deployment)
		if st.Scale.Replicas < 0 {
			v.add(p+".scale.replicas", "must not be negative")
		}
	case st.Wait != "":
		v.duration(p+".wait", st.Wait)
	case st.Traffic != nil:
		t := st.Traffic
		switch {
		case (t.Start == nil) == (t.Stop == ""):
			v.add(p+".traffic", "either start a stream or stop one")
		case t.Start != nil:
			s := t.Start
			if s.Name == "" {
				v.add(p+".traffic.start.name", "a stream needs a name")
			} else if streams[s.Name] {
				v.add(p+".traffic.start.name", "stream %q is already running", s.Name)
			}
			streams[s.Name] = true
			v.everStarted[s.Name] = true
			v.targeted[s.To] = true
			if s.From == "" {
				v.add(p+".traffic.start.from", "names the client host")
			}
			v.namespacedName(p+".traffic.start.to", s.To)
			if s.Family != "ipv4" && s.Family != "ipv6" {
				v.add(p+".traffic.start.family", "%q: want ipv4 or ipv6", s.Family)
			}
			if s.Protocol != "http" && s.Protocol != "udp" {
				v.add(p+".traffic.start.protocol", "%q: want http or udp", s.Protocol)
			}
			if s.Port < 1 || s.Port > 65535 {
				v.add(p+".traffic.start.port", "%d is not a port", s.Port)
			}
			if s.Host != "" {
				if s.Protocol != "http" {
					v.add(p+".traffic.start.host", "a Host header is for http streams")
				} else if !hostHeaderRe.MatchString(s.Host) {
					v.add(p+".traffic.start.host", "%q: want a host name or address, with an optional :PORT, e.g. app1.example", s.Host)
				}
			}
			v.duration(p+".traffic.start.interval", s.Interval)
			v.duration(p+".traffic.start.requestTimeout", s.RequestTimeout)
		default:
			known(p+".traffic.stop", t.Stop)
			delete(streams, t.Stop)
		}
	case st.Fault != nil:
		f := st.Fault
		if !slices.Contains(FaultKinds, f.Kind) {
			v.add(p+".fault.kind", "%q: want one of %s", f.Kind, strings.Join(FaultKinds, ", "))
		}
		switch f.Kind {
		case FaultPartition:
			if len(f.Groups) != 2 || len(f.Groups[0]) == 0 || len(f.Groups[1]) == 0 {
				v.add(p+".fault.groups", "a partition has two non-empty groups of hosts")
			}
		case FaultRestartController, FaultRestartAPIServer, FaultAPIServerDown, FaultAPIServerUp, FaultPartitionHeal:
		default:
			if f.Target == "" {
				v.add(p+".fault.target", "fault %s needs a target host (or owner-of:NAMESPACE/NAME)", f.Kind)
			} else if svc, ok := strings.CutPrefix(f.Target, TargetOwnerOf); ok {
				v.namespacedName(p+".fault.target", svc)
			} else if svc, ok := strings.CutPrefix(f.Target, TargetBystanderOf); ok {
				v.namespacedName(p+".fault.target", svc)
			} else if ref, ok := strings.CutPrefix(f.Target, TargetFaulted); ok {
				if !v.faultSteps[ref] {
					v.add(p+".fault.target", "%q: no earlier fault step named %q", f.Target, ref)
				}
			}
		}
		if st.Name != "" {
			v.faultSteps[st.Name] = true
		}
		if f.Kind == FaultNetem && f.Loss == "" && f.Delay == "" {
			v.add(p+".fault", "netem needs loss, delay or both")
		}
		if f.Delay != "" {
			v.duration(p+".fault.delay", f.Delay)
		}
		if f.Loss != "" {
			if pct, ok := strings.CutSuffix(f.Loss, "%"); !ok || !isPercent(pct) {
				v.add(p+".fault.loss", "%q: want a percentage such as 10%%", f.Loss)
			}
		}
		if f.Mode != "" {
			if f.Kind != FaultNodeDown && f.Kind != FaultRouterDown {
				v.add(p+".fault.mode", "only node-down and router-down take a mode")
			} else if !slices.Contains([]string{"kill", "freeze", "stop"}, f.Mode) {
				v.add(p+".fault.mode", "%q: want kill, freeze or stop", f.Mode)
			}
		}
		if f.Kind == FaultLinkFlap {
			if f.Flaps < 1 || f.Flaps > 1000 {
				v.add(p+".fault.flaps", "%d: want 1 to 1000", f.Flaps)
			}
			v.duration(p+".fault.period", f.Period)
		}
	case st.Expect != nil:
		v.expect(p+".expect", st.Expect, known)
	case st.Measure != nil:
		m := st.Measure
		if m.Name == "" {
			v.add(p+".measure.name", "a measurement needs a name")
		}
		n := 0
		for _, set := range []bool{m.Gap != nil, m.Lost != "", m.Served != "", m.Between != nil, m.OwnerChanges != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			v.add(p+".measure", "measure exactly one of gap, lost, served, between or ownerChanges, found %d", n)
		}
		if oc := m.OwnerChanges; oc != nil {
			v.namespacedName(p+".measure.ownerChanges.service", oc.Service)
			if _, ok := steps[oc.From]; !ok || oc.From == "" {
				v.add(p+".measure.ownerChanges.from", "no earlier step named %q", oc.From)
			}
			if _, ok := steps[oc.To]; oc.To != "" && !ok {
				v.add(p+".measure.ownerChanges.to", "no earlier step named %q", oc.To)
			}
			if !v.targeted[oc.Service] {
				v.add(p+".measure.ownerChanges.service", "no earlier stream targets %s (its owner is probed from a stream's client)", oc.Service)
			}
		}
		if m.Served != "" {
			started(p+".measure.served", m.Served)
		}
		if b := m.Between; b != nil {
			if _, ok := steps[b.From]; !ok {
				v.add(p+".measure.between.from", "no earlier step named %q", b.From)
			}
			kind, ref, _ := strings.Cut(b.To, ":")
			switch kind {
			case "step":
				if _, ok := steps[ref]; !ok {
					v.add(p+".measure.between.to", "no earlier step named %q", ref)
				}
			case "owner":
				v.namespacedName(p+".measure.between.to", ref)
			case "recovered":
				started(p+".measure.between.to", ref)
			default:
				v.add(p+".measure.between.to", "%q: want step:NAME, owner:NAMESPACE/NAME or recovered:STREAM", b.To)
			}
		}
		if m.Gap != nil {
			started(p+".measure.gap.stream", m.Gap.Stream)
			if _, ok := steps[m.Gap.Around]; !ok {
				v.add(p+".measure.gap.around", "no earlier step named %q", m.Gap.Around)
			}
		}
		if m.Lost != "" {
			started(p+".measure.lost", m.Lost)
		}
	}
}

func (v *validator) service(p string, sv *Service) {
	v.namespacedName(p+".name", sv.Name)
	if sv.Replicas < 0 {
		v.add(p+".replicas", "must not be negative")
	}
	if sv.Port < 1 || sv.Port > 65535 {
		v.add(p+".port", "%d is not a port", sv.Port)
	}
	if sv.Protocol != "TCP" && sv.Protocol != "UDP" {
		v.add(p+".protocol", "%q: want TCP or UDP", sv.Protocol)
	}
	if sv.ExternalTrafficPolicy != "Cluster" && sv.ExternalTrafficPolicy != "Local" {
		v.add(p+".externalTrafficPolicy", "%q: want Cluster or Local", sv.ExternalTrafficPolicy)
	}
	if !slices.Contains([]string{"SingleStack", "PreferDualStack", "RequireDualStack"}, sv.IPFamilyPolicy) {
		v.add(p+".ipFamilyPolicy", "%q: want SingleStack, PreferDualStack or RequireDualStack", sv.IPFamilyPolicy)
	}
	for i, f := range sv.IPFamilies {
		if f != "IPv4" && f != "IPv6" {
			v.add(fmt.Sprintf("%s.ipFamilies[%d]", p, i), "%q: want IPv4 or IPv6", f)
		}
	}
	for i, a := range sv.Addresses {
		if _, err := netip.ParseAddr(a); err != nil {
			v.add(fmt.Sprintf("%s.addresses[%d]", p, i), "%q is not an IP address", a)
		}
	}
}

// routerDestination checks what a route or RIB expectation looks at: a router, and either a
// Service (with a family) or a prefix.
func (v *validator) routerDestination(p, router, service, family, prefix string) {
	if router == "" {
		v.add(p+".router", "names the router host")
	}
	switch {
	case (service == "") == (prefix == ""):
		v.add(p, "names either a service or a prefix")
	case service != "":
		v.namespacedName(p+".service", service)
		if family != "ipv4" && family != "ipv6" {
			v.add(p+".family", "%q: want ipv4 or ipv6", family)
		}
	default:
		if _, err := netip.ParsePrefix(prefix); err != nil {
			v.add(p+".prefix", "%q is not a prefix such as 172.18.255.200/32", prefix)
		}
	}
}

func isPercent(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f >= 0 && f <= 100
}

func (v *validator) expect(p string, e *Expect, known func(string, string)) {
	n := 0
	if sa := e.ServiceAddress; sa != nil {
		n++
		v.namespacedName(p+".serviceAddress.service", sa.Service)
		if sa.SameAs != "" {
			v.namespacedName(p+".serviceAddress.sameAs", sa.SameAs)
		}
		if sa.Address != "" {
			if _, err := netip.ParseAddr(sa.Address); err != nil {
				v.add(p+".serviceAddress.address", "%q is not an IP address", sa.Address)
			}
		}
		if sa.Pending && (sa.Pool != "" || sa.Address != "" || sa.SameAs != "") {
			v.add(p+".serviceAddress.pending", "a pending Service has no pool, address or sharing to check")
		}
	}
	if r := e.Route; r != nil {
		n++
		v.routerDestination(p+".route", r.Router, r.Service, r.Family, r.Prefix)
		if r.Absent && len(r.NextHops) > 0 {
			v.add(p+".route.nextHops", "an absent route has no next hops")
		}
	}
	if ev := e.Event; ev != nil {
		n++
		if parts := strings.Split(ev.Object, "/"); len(parts) != 3 || slices.Contains(parts, "") {
			v.add(p+".event.object", "%q: want KIND/NAMESPACE/NAME, e.g. Service/default/echo", ev.Object)
		}
		if ev.Reason == "" {
			v.add(p+".event.reason", "names the event reason")
		}
	}
	if bp := e.BGPPath; bp != nil {
		n++
		v.routerDestination(p+".bgpPath", bp.Router, bp.Service, bp.Family, bp.Prefix)
	}
	if b := e.Measurement; b != nil {
		n++
		if (b.Max == "") == (b.MaxCount == nil) {
			v.add(p+".measurement", "set either max (a duration) or maxCount")
		}
		if b.Max != "" {
			v.duration(p+".measurement.max", b.Max)
		}
	}
	if st := e.Status; st != nil {
		n++
		if st.Resource == "" {
			v.add(p+".status.resource", "names a resource, e.g. services")
		}
		if st.JSONPath == "" || !strings.HasPrefix(st.JSONPath, "{") {
			v.add(p+".status.jsonPath", "%q: want a JSONPath in braces, e.g. {.status.loadBalancer.ingress[0].ip}", st.JSONPath)
		}
		if (st.Equals == nil) == (st.Contains == "") {
			v.add(p+".status", "set either equals or contains")
		}
		if st.Name != "" && (st.Namespace != "" || st.Selector != "") {
			v.add(p+".status.name", "a named object takes no namespace or selector (write NAMESPACE/NAME)")
		}
	}
	if e.ARPOwner != nil {
		n++
		v.namespacedName(p+".arpOwner.service", e.ARPOwner.Service)
		if e.ARPOwner.From == "" {
			v.add(p+".arpOwner.from", "names the client host that probes")
		}
	}
	if e.TrafficRecovered != nil {
		n++
		known(p+".trafficRecovered.stream", e.TrafficRecovered.Stream)
		if e.TrafficRecovered.Within != "" {
			v.duration(p+".trafficRecovered.within", e.TrafficRecovered.Within)
		}
	}
	if e.NoReplyFrom != nil {
		n++
		known(p+".noReplyFrom.stream", e.NoReplyFrom.Stream)
		if e.NoReplyFrom.Node == "" {
			v.add(p+".noReplyFrom.node", "names a node")
		}
	}
	if sb := e.ServedBy; sb != nil {
		n++
		known(p+".servedBy.stream", sb.Stream)
		v.namespacedName(p+".servedBy.deployment", sb.Deployment)
	}
	if e.Never != nil {
		n++
		if (e.Never.FailedRequest == "") == (e.Never.AddressChanges == "") {
			v.add(p+".never", "either failedRequest or addressChanges")
		}
		if e.Never.FailedRequest != "" {
			known(p+".never.failedRequest", e.Never.FailedRequest)
		}
		if e.Never.AddressChanges != "" {
			v.namespacedName(p+".never.addressChanges", e.Never.AddressChanges)
		}
	}
	if n != 1 {
		v.add(p, "an expectation checks exactly one thing, found %d", n)
	}
}
