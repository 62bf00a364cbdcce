package controller

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/impl/allocator"
	"github.com/ironlb/ironlb/impl/config"
)

// The annotations MetalLB users write, and the deprecated forms IronLB still reads.
const (
	AnnotationAddressPool     = "metallb.io/address-pool"
	AnnotationLoadBalancerIPs = "metallb.io/loadBalancerIPs"
	AnnotationAllowSharedIP   = "metallb.io/allow-shared-ip"

	deprecatedPrefix = "metallb.universe.tf/"
)

// annotation reads a metallb.io annotation, falling back to its deprecated metallb.universe.tf
// form; deprecated reports that the old form was used.
func annotation(svc *corev1.Service, key string) (value string, deprecated bool) {
	if v, ok := svc.Annotations[key]; ok {
		return v, false
	}
	old := deprecatedPrefix + strings.TrimPrefix(key, "metallb.io/")
	if v, ok := svc.Annotations[old]; ok {
		return v, true
	}
	return "", false
}

// serviceRequest is what a Service asks of the allocator, plus what the controller must tell the
// user about how it was asked.
type serviceRequest struct {
	req        allocator.Request
	info       allocator.ServiceInfo
	deprecated []string // deprecated annotations in use
}

// buildRequest turns a Service into an allocation request. It fails, naming the field, when the
// Service asks for something malformed.
func buildRequest(svc *corev1.Service) (*serviceRequest, error) {
	sr := &serviceRequest{}
	r := &sr.req
	r.Service = svc.Namespace + "/" + svc.Name

	pool, dep := annotation(svc, AnnotationAddressPool)
	if dep {
		sr.deprecated = append(sr.deprecated, deprecatedPrefix+"address-pool")
	}
	sr.info = allocator.ServiceInfo{Namespace: svc.Namespace, Labels: svc.Labels, Pool: pool}
	r.PoolRequested = pool != ""

	ips, dep := annotation(svc, AnnotationLoadBalancerIPs)
	ipsField := "metadata.annotations[" + AnnotationLoadBalancerIPs + "]"
	if dep {
		sr.deprecated = append(sr.deprecated, deprecatedPrefix+"loadBalancerIPs")
		ipsField = "metadata.annotations[" + deprecatedPrefix + "loadBalancerIPs]"
	}
	switch {
	case ips != "":
		for _, s := range strings.Split(ips, ",") {
			// config.ParseAddr refuses an IPv6 zone and an IPv4-mapped IPv6 address: either
			// would be another netip.Addr for an address some other Service may hold.
			a, err := config.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("service %s: %s: %w", r.Service, ipsField, err)
			}
			r.Requested = append(r.Requested, a)
		}
		if svc.Spec.LoadBalancerIP != "" {
			return nil, fmt.Errorf("service %s: spec.loadBalancerIP and %s are both set: use the annotation alone", r.Service, ipsField)
		}
	case svc.Spec.LoadBalancerIP != "":
		a, err := config.ParseAddr(svc.Spec.LoadBalancerIP)
		if err != nil {
			return nil, fmt.Errorf("service %s: spec.loadBalancerIP: %w", r.Service, err)
		}
		r.Requested = []netip.Addr{a}
	}
	sr.info.Explicit = len(r.Requested) > 0

	key, dep := annotation(svc, AnnotationAllowSharedIP)
	if dep {
		sr.deprecated = append(sr.deprecated, deprecatedPrefix+"allow-shared-ip")
	}
	r.SharingKey = key
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		// Traffic must reach the same pods from whichever node announces: the selector is the key.
		r.BackendKey = labels.SelectorFromSet(svc.Spec.Selector).String()
		if r.BackendKey == "" {
			r.BackendKey = "local:" + r.Service
		}
	}
	for _, p := range svc.Spec.Ports {
		r.Ports = append(r.Ports, allocator.Port{Protocol: string(p.Protocol), Port: p.Port})
	}

	for _, f := range svc.Spec.IPFamilies {
		if f == corev1.IPv6Protocol {
			r.Families = append(r.Families, allocator.IPv6)
		} else {
			r.Families = append(r.Families, allocator.IPv4)
		}
	}
	if len(r.Families) == 0 {
		r.Families = []allocator.Family{allocator.IPv4}
	}
	if p := svc.Spec.IPFamilyPolicy; p != nil {
		switch *p {
		case corev1.IPFamilyPolicyRequireDualStack:
			r.RequireAll = true
			r.Families = bothFamilies(r.Families)
		case corev1.IPFamilyPolicyPreferDualStack:
			r.Families = bothFamilies(r.Families)
		}
	}
	if len(r.Requested) > 0 {
		// Requested addresses decide the families; they are listed in the Service's family order.
		sort.SliceStable(r.Requested, func(i, j int) bool {
			return familyRank(r.Families, r.Requested[i]) < familyRank(r.Families, r.Requested[j])
		})
	}
	return sr, nil
}

func bothFamilies(fams []allocator.Family) []allocator.Family {
	if len(fams) == 2 {
		return fams
	}
	if fams[0] == allocator.IPv6 {
		return []allocator.Family{allocator.IPv6, allocator.IPv4}
	}
	return []allocator.Family{allocator.IPv4, allocator.IPv6}
}

func familyRank(fams []allocator.Family, a netip.Addr) int {
	f := allocator.IPv6
	if a.Is4() {
		f = allocator.IPv4
	}
	for i, x := range fams {
		if x == f {
			return i
		}
	}
	return len(fams)
}

// statusIPs returns the addresses in a Service's status (never a zoned or IPv4-mapped form).
func statusIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if a, err := config.ParseAddr(ing.IP); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// preferFromStatus is what a Service shows in its status, at most one address per family, in
// the status order: the addresses an ordinary reconcile tries first (see allocator.Request.Prefer).
func preferFromStatus(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, a := range statusIPs(svc) {
		if !slices.ContainsFunc(out, func(b netip.Addr) bool { return a.Is4() == b.Is4() }) {
			out = append(out, a)
		}
	}
	return out
}
