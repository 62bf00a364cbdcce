//go:build linux

package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ironlb/ironlb/lab/apply"
	"github.com/ironlb/ironlb/lab/report"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/traffic"
)

// step does one step and says what it did.
func (r *run) step(ctx context.Context, i int, st *scenario.Step) (string, error) {
	switch {
	case st.Apply != nil:
		return "applied " + fileBase(st.Apply.File), r.applyFile(ctx, st.Apply.File)
	case st.Delete != nil:
		return r.deleteFile(ctx, st.Delete.File)
	case st.Service != nil:
		return r.service(ctx, st.Service)
	case st.DeleteService != "":
		return r.deleteService(ctx, st.DeleteService)
	case st.Scale != nil:
		return r.scale(ctx, st.Scale)
	case st.Patch != nil:
		return r.patch(ctx, st.Patch)
	case st.Traffic != nil && st.Traffic.Start != nil:
		return r.startStream(ctx, st.Traffic.Start)
	case st.Traffic != nil:
		r.stopStream(st.Traffic.Stop)
		r.mu.Lock()
		s := r.streams[st.Traffic.Stop]
		r.mu.Unlock()
		rs := s.snapshot()
		o := traffic.Worst(rs)
		// Checks waiting for this stream are decided now; a failed one marks its own step.
		r.decide(st.Traffic.Stop, time.Now())
		return fmt.Sprintf("stopped %s: %d requests, %d failed", st.Traffic.Stop, len(rs), o.Failed), nil
	case st.Wait != "":
		d, _ := time.ParseDuration(st.Wait)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
			return "waited " + st.Wait, nil
		}
	case st.Fault != nil:
		return r.fault(ctx, st.Fault)
	case st.Expect != nil:
		return r.expect(ctx, i, st)
	case st.Measure != nil:
		return r.measure(st.Measure)
	}
	return "", fmt.Errorf("step %q does nothing", st.Name)
}

func (r *run) applyFile(ctx context.Context, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	objs, err := apply.Decode(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	r.created = append(r.created, objs...)
	if err := r.e.ap.Apply(ctx, objs, func(string) {}); err != nil {
		return fmt.Errorf("%s: %w", fileBase(file), err)
	}
	return nil
}

func (r *run) deleteFile(ctx context.Context, file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read manifest: %w", err)
	}
	objs, err := apply.Decode(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	if err := r.e.ap.Delete(ctx, objs); err != nil {
		return "", err
	}
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		return r.e.ap.Gone(ctx, objs)
	})
	if err != nil {
		return "", fmt.Errorf("the objects of %s are not gone: %w", fileBase(file), err)
	}
	return fmt.Sprintf("deleted %d objects of %s", len(objs), fileBase(file)), nil
}

// echoEnv is the downward API environment the echo server of a Kind lab reads (lab/kind.Echo);
// a netns lab's node agent knows the pod and node itself.
var echoEnv = []corev1.EnvVar{
	{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
	{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
	{Name: "POD_IPS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIPs"}}},
}

// service creates (or updates) an echo Deployment and a LoadBalancer Service for it, and waits
// for the Deployment's pods to be ready.
func (r *run) service(ctx context.Context, sv *scenario.Service) (string, error) {
	ns, name, _ := strings.Cut(sv.Name, "/")
	labels := map[string]string{"app": name, "ironlab.ironlb.io/scenario": r.sc.Name}
	replicas := sv.Replicas
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Affinity:     onePerNode(sv.OnePerNode, name),
					NodeSelector: r.e.nodeSelector(sv.NodeSelector),
					Containers:   []corev1.Container{{Name: "echo", Image: scenario.EchoImage, Env: echoEnv}},
				},
			},
		},
	}
	ann := map[string]string{}
	if sv.Pool != "" {
		ann["metallb.io/address-pool"] = sv.Pool
	}
	if len(sv.Addresses) > 0 {
		ann["metallb.io/loadBalancerIPs"] = strings.Join(sv.Addresses, ",")
	}
	if sv.SharingKey != "" {
		ann["metallb.io/allow-shared-ip"] = sv.SharingKey
	}
	policy := corev1.IPFamilyPolicy(sv.IPFamilyPolicy)
	var families []corev1.IPFamily
	for _, f := range sv.IPFamilies {
		families = append(families, corev1.IPFamily(f))
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: ann},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			Selector:              map[string]string{"app": name},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicy(sv.ExternalTrafficPolicy),
			IPFamilyPolicy:        &policy,
			IPFamilies:            families,
			Ports: []corev1.ServicePort{{Name: "echo", Port: sv.Port, Protocol: corev1.Protocol(sv.Protocol),
				TargetPort: intstr.FromInt32(8080)}},
		},
	}
	var objs []*unstructured.Unstructured
	for _, o := range []runtime.Object{dep, svc} {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return "", err
		}
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
		objs = append(objs, u)
	}
	r.created = append(r.created, objs...)
	if err := r.e.ap.Apply(ctx, objs, func(string) {}); err != nil {
		return "", err
	}
	if err := r.waitReplicas(ctx, ns, name, replicas); err != nil {
		return "", err
	}
	if err := r.waitEndpoints(ctx, ns, name, int(replicas)*len(families)); err != nil {
		return "", err
	}
	return fmt.Sprintf("Service %s (%s, %s) with %d echo pods", sv.Name, sv.ExternalTrafficPolicy, strings.Join(sv.IPFamilies, "+"), replicas), nil
}

func onePerNode(on bool, app string) *corev1.Affinity {
	if !on {
		return nil
	}
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}, TopologyKey: corev1.LabelHostname,
	}}}}
}

func (r *run) waitReplicas(ctx context.Context, ns, name string, want int32) error {
	var seen int32
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		d, err := r.e.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		seen = d.Status.ReadyReplicas
		return d.Status.ObservedGeneration >= d.Generation && seen == want && d.Status.Replicas == want, nil
	})
	if err != nil {
		return fmt.Errorf("deployment %s/%s: %d of %d pods ready when the step ended", ns, name, seen, want)
	}
	return nil
}

// waitEndpoints waits until a Service's EndpointSlices list want ready endpoints, so that
// whatever follows (externalTrafficPolicy Local elections above all) starts from a settled state.
func (r *run) waitEndpoints(ctx context.Context, ns, name string, want int) error {
	ready := 0
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		slices, err := r.e.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + name})
		if err != nil {
			return false, nil
		}
		ready = 0
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready++
				}
			}
		}
		return ready == want, nil
	})
	if err != nil {
		return fmt.Errorf("service %s/%s: %d of %d endpoints ready when the step ended", ns, name, ready, want)
	}
	return nil
}

func (r *run) deleteService(ctx context.Context, nsName string) (string, error) {
	ns, name, _ := strings.Cut(nsName, "/")
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name, "namespace": ns}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name, "namespace": ns}}},
	}
	if err := r.e.ap.Delete(ctx, objs); err != nil {
		return "", err
	}
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		return r.e.ap.Gone(ctx, objs)
	}); err != nil {
		return "", fmt.Errorf("service %s is not gone: %w", nsName, err)
	}
	return "deleted Service and Deployment " + nsName, nil
}

func (r *run) scale(ctx context.Context, s *scenario.Scale) (string, error) {
	ns, name, _ := strings.Cut(s.Deployment, "/")
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, s.Replicas)
	if _, err := r.e.cs.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return "", fmt.Errorf("scale %s: %w", s.Deployment, err)
	}
	if err := r.waitReplicas(ctx, ns, name, s.Replicas); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s has %d ready pods", s.Deployment, s.Replicas), nil
}

func (r *run) patch(ctx context.Context, p *scenario.Patch) (string, error) {
	parts := strings.Split(p.Object, "/")
	resource, ns, name := parts[0], "", parts[len(parts)-1]
	if len(parts) == 3 {
		ns = parts[1]
	}
	ri, namespaced, err := r.e.ap.Resource(resource, ns)
	if err != nil {
		return "", err
	}
	if namespaced && ns == "" {
		return "", fmt.Errorf("%s is namespaced: write %s/NAMESPACE/%s", resource, resource, name)
	}
	data, err := json.Marshal(p.Merge)
	if err != nil {
		return "", err
	}
	if _, err := ri.Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{}); err != nil {
		return "", fmt.Errorf("patch %s: %w", p.Object, err)
	}
	return "patched " + p.Object, nil
}

// serviceAddrs returns a Service's load-balancer addresses.
func (r *run) serviceAddrs(ctx context.Context, nsName string) ([]netip.Addr, error) {
	ns, name, _ := strings.Cut(nsName, "/")
	svc, err := r.e.cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// serviceAddr waits for a Service's address of a family ("ipv4" or "ipv6").
func (r *run) serviceAddr(ctx context.Context, nsName, family string) (netip.Addr, error) {
	var found netip.Addr
	var last error
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		addrs, err := r.serviceAddrs(ctx, nsName)
		last = err
		for _, a := range addrs {
			if a.Is4() == (family == "ipv4") {
				found = a
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		if last != nil {
			return found, fmt.Errorf("service %s: %w", nsName, last)
		}
		return found, fmt.Errorf("service %s has no %s load-balancer address", nsName, family)
	}
	return found, nil
}

func (r *run) startStream(ctx context.Context, sp *scenario.Stream) (string, error) {
	ip, err := r.serviceAddr(ctx, sp.To, sp.Family)
	if err != nil {
		return "", err
	}
	interval, _ := time.ParseDuration(sp.Interval)
	reqTimeout, _ := time.ParseDuration(sp.RequestTimeout)
	sctx, cancel := context.WithCancel(context.Background())
	s := &stream{spec: sp, target: dialable(ip, sp.Port), addr: ip, cancel: cancel, done: make(chan struct{}), started: time.Now()}
	r.mu.Lock()
	r.streams[sp.Name] = s
	r.mu.Unlock()
	ts := traffic.Stream{Lab: r.e.net, HostOf: r.e.lab.HostOf, From: sp.From, Target: s.target, UDP: sp.Protocol == "udp", Host: sp.Host, Interval: interval, Timeout: reqTimeout,
		OnResult: func(q traffic.Result) {
			s.mu.Lock()
			s.results = append(s.results, q)
			s.mu.Unlock()
		}}
	go func() {
		defer close(s.done)
		if _, err := ts.Run(sctx); err != nil {
			r.printf("          stream %s: %v\n", sp.Name, err)
		}
	}()
	r.watchOwner(ip, sp.From)
	host := ""
	if sp.Host != "" {
		host = " (Host: " + sp.Host + ")"
	}
	return fmt.Sprintf("%s: %s every %s from %s to %s%s", sp.Name, sp.Protocol, sp.Interval, sp.From, s.target, host), nil
}

// resolveTarget turns owner-of:NS/NAME into the node answering ARP/NDP for the Service,
// bystander-of:NS/NAME into the first worker that does not, and faulted:STEP into the host that
// step's fault acted on. For owner-of it also compares the ARP owner with the node that served
// the recent good replies of the streams to the Service (externalTrafficPolicy Local), and says
// so in note when they differ; the ARP owner is faulted either way.
func (r *run) resolveTarget(ctx context.Context, target string) (host, note string, err error) {
	if ref, ok := strings.CutPrefix(target, scenario.TargetFaulted); ok {
		r.mu.Lock()
		h, ok := r.faultHost[ref]
		r.mu.Unlock()
		if !ok {
			return "", "", fmt.Errorf("%s: step %q faulted no host (it failed or was skipped)", target, ref)
		}
		return h, "", nil
	}
	if svc, ok := strings.CutPrefix(target, scenario.TargetBystanderOf); ok {
		nodes, addr, err := r.owner(ctx, svc, "")
		if err != nil {
			return "", "", err
		}
		for _, n := range r.e.top.Nodes {
			if n.Kind == "worker" && !slices.Contains(nodes, n.Name) {
				return n.Name, "", nil
			}
		}
		return "", "", fmt.Errorf("%s: every worker answers ARP/NDP for %s (%v)", target, addr, nodes)
	}
	svc, ok := strings.CutPrefix(target, scenario.TargetOwnerOf)
	if !ok {
		return target, "", nil
	}
	nodes, addr, err := r.owner(ctx, svc, "")
	if err != nil {
		return "", "", err
	}
	if len(nodes) != 1 {
		return "", "", fmt.Errorf("owner-of:%s: %d nodes answer ARP/NDP for %s (%v), want exactly one", svc, len(nodes), addr, nodes)
	}
	return nodes[0], r.checkServing(ctx, target, svc, addr, nodes[0]), nil
}

// checkServing compares the ARP owner of a Service's address with the node serving its streams'
// recent good replies; it returns a note when they differ (or when it cannot tell).
func (r *run) checkServing(ctx context.Context, target, svc string, addr netip.Addr, arpOwner string) string {
	if r.trafficPolicy(ctx, svc) != string(corev1.ServiceExternalTrafficPolicyLocal) {
		return "" // Cluster: replies name the pod's node, not the node the client reached
	}
	r.mu.Lock()
	var names []string
	for n, s := range r.streams {
		if s.addr == addr && s.stopped.IsZero() {
			names = append(names, n)
		}
	}
	r.mu.Unlock()
	slices.Sort(names)
	own := r.servicePods(ctx, svc)
	var notes []string
	now := time.Now()
	for _, n := range names {
		r.mu.Lock()
		s := r.streams[n]
		r.mu.Unlock()
		if m := ownerMismatch(target, arpOwner, n, repliesOf(s.snapshot(), own), now); m != "" {
			notes = append(notes, m)
		}
	}
	return strings.Join(notes, "; ")
}

// servicePods names (NS/NAME) the pods behind a Service's endpoints, or nil when the API cannot
// say (it is stopped, or does not answer).
func (r *run) servicePods(ctx context.Context, svc string) map[string]bool {
	r.mu.Lock()
	apiStopped := r.apiStopped
	r.mu.Unlock()
	if apiStopped {
		return nil
	}
	ns, name, _ := strings.Cut(svc, "/")
	list, err := r.e.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + name})
	if err != nil {
		return nil
	}
	pods := map[string]bool{}
	for _, sl := range list.Items {
		for _, ep := range sl.Endpoints {
			if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
				pods[ref.Namespace+"/"+ref.Name] = true
			}
		}
	}
	return pods
}

// trafficPolicy is a Service's externalTrafficPolicy: as a service step of the scenario made it,
// else as the API says ("" when it cannot tell).
func (r *run) trafficPolicy(ctx context.Context, svc string) string {
	for _, st := range r.sc.Steps {
		if st.Service != nil && st.Service.Name == svc {
			return st.Service.ExternalTrafficPolicy
		}
	}
	r.mu.Lock()
	apiStopped := r.apiStopped
	r.mu.Unlock()
	if apiStopped {
		return ""
	}
	ns, name, _ := strings.Cut(svc, "/")
	s, err := r.e.cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return string(s.Spec.ExternalTrafficPolicy)
}

// owner asks from a client who answers ARP/NDP for a Service's first address.
func (r *run) owner(ctx context.Context, svc, from string) ([]string, netip.Addr, error) {
	if from == "" {
		from = r.e.firstClient()
	}
	iface := r.e.ifaceToward(from)
	if iface == "" {
		return nil, netip.Addr{}, fmt.Errorf("host %q shares no network with the nodes: it cannot see who answers ARP/NDP", from)
	}
	var addrs []netip.Addr
	err := fmt.Errorf("the API server is stopped")
	r.mu.Lock()
	apiStopped := r.apiStopped
	r.mu.Unlock()
	if !apiStopped {
		addrs, err = r.serviceAddrs(ctx, svc)
	}
	if err != nil {
		// The API server is down (an apiserver-down fault): the address last seen will do.
		r.mu.Lock()
		last := r.addresses[svc]
		r.mu.Unlock()
		for _, a := range strings.Split(last, ",") {
			if ip, perr := netip.ParseAddr(a); perr == nil {
				addrs = append(addrs, ip)
			}
		}
	}
	if len(addrs) == 0 {
		return nil, netip.Addr{}, fmt.Errorf("service %s has no address (%v)", svc, err)
	}
	nodes, err := r.ownersOf(from, iface, addrs[0])
	return nodes, addrs[0], err
}

func (r *run) ownersOf(from, iface string, ip netip.Addr) ([]string, error) {
	macs, err := traffic.Owners(r.e.net, from, iface, ip, 150*time.Millisecond)
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, m := range macs {
		if h, ok := r.e.hostOfMAC[strings.ToLower(m)]; ok {
			nodes = append(nodes, h)
		} else {
			nodes = append(nodes, m)
		}
	}
	return nodes, nil
}

func (r *run) fault(ctx context.Context, f *scenario.Fault) (string, error) {
	target, note, err := r.resolveTarget(ctx, f.Target)
	if err != nil {
		return "", err
	}
	if note != "" {
		r.printf("          note: %s\n", note)
	}
	detail, err := r.applyFault(ctx, f, target)
	if note != "" {
		detail += " (note: " + note + ")"
	}
	return detail, err
}

func (r *run) applyFault(ctx context.Context, f *scenario.Fault, target string) (string, error) {
	now := time.Now()
	r.mu.Lock()
	r.lastFault = now
	r.faultAt[r.currentStep] = now
	if h, _, _ := strings.Cut(target, ":"); h != "" {
		r.faultHost[r.currentStep] = h
	}
	r.mu.Unlock()
	r.event(report.EventFault, target, f.Kind)
	host, _, _ := strings.Cut(target, ":")
	if host != "" {
		r.touched[host] = true
	}
	if f.Kind == scenario.FaultPartition {
		for _, g := range f.Groups {
			for _, h := range g {
				r.touched[h] = true
			}
		}
	}
	switch f.Kind {
	case scenario.FaultAPIServerDown, scenario.FaultRestartAPIServer:
		r.mu.Lock()
		r.apiStopped = r.apiStopped || f.Kind == scenario.FaultAPIServerDown
		r.apiFaulted = true
		r.mu.Unlock()
	}
	fa := *f
	fa.Target = target
	msg, err := r.e.faults.Apply(ctx, r.e.cs, fa)
	if err == nil && f.Kind == scenario.FaultAPIServerUp {
		r.mu.Lock()
		r.apiStopped = false
		r.mu.Unlock()
	}
	return msg, err
}
