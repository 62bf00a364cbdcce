package controller

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/allocator"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/configstate"
	"github.com/ironlb/ironlb/impl/lbclass"
)

// ConfigurationStateName is the name of the controller's ConfigurationState object.
const ConfigurationStateName = "controller"

// reportState writes the controller's ConfigurationState; a failure is logged, not fatal.
func (c *Controller) reportState(ctx context.Context, result v1beta1.ConfigurationResult, lastError string, warnings ...string) {
	key := types.NamespacedName{Namespace: c.opts.Namespace, Name: ConfigurationStateName}
	if err := configstate.Report(ctx, c.client, key, map[string]string{v1beta1.LabelComponentType: "controller"}, result, lastError, warnings...); err != nil {
		c.log.Error(err, "write ConfigurationState")
	}
}

// apply writes a successful assignment onto the Service.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, sr *serviceRequest, asg allocator.Assignment) error {
	prev := statusIPs(svc)
	changed := !slices.Equal(prev, asg.IPs)
	// The pool is named in the condition and the event: the controller writes only status and
	// the cleanup finalizer (its RBAC grants patch of Services for that, and it writes nothing
	// else there), so no metallb.io/ip-allocated-from-pool annotation.
	msg := fmt.Sprintf("Assigned IP %s from pool %s", joinIPs(asg.IPs), asg.Pool)
	cond := conditionFor(svc, true, "Assigned", msg)
	if changed || !hasCondition(svc, cond) {
		patch := client.MergeFromWithOptions(svc.DeepCopy(), client.MergeFromWithOptimisticLock{}) // a stale leader's write conflicts instead of winning
		svc.Status.LoadBalancer.Ingress = ingressFor(asg.IPs)
		meta.SetStatusCondition(&svc.Status.Conditions, cond)
		if err := c.client.Status().Patch(ctx, svc, patch); err != nil {
			return fmt.Errorf("write status of service %s/%s: %w", svc.Namespace, svc.Name, err)
		}
	}
	if changed {
		c.event(svc, corev1.EventTypeNormal, "IPAllocated", "Allocate", "%s", msg)
		c.log.Info("assigned", "service", sr.req.Service, "pool", asg.Pool, "ips", asg.IPs)
		for _, d := range sr.deprecated {
			c.event(svc, corev1.EventTypeWarning, "DeprecatedAnnotation", "Allocate",
				"annotation %s is deprecated: use metallb.io/%s", d, strings.TrimPrefix(d, deprecatedPrefix))
		}
	}
	return nil
}

// fail records why a Service has no (new) address: a condition, and an event when the reason is
// new. A Service that still holds valid addresses keeps them; one that holds none has its status
// cleared, so that it never shows an address no pool contains.
func (c *Controller) fail(ctx context.Context, svc *corev1.Service, reason string, cause error) error {
	key := svc.Namespace + "/" + svc.Name
	c.mu.Lock()
	asg, holds := c.alloc.Assigned(key)
	c.mu.Unlock()
	msg := cause.Error()
	cond := conditionFor(svc, false, reason, msg)
	if holds {
		cond.Message = fmt.Sprintf("keeping %s: %s", joinIPs(asg.IPs), msg)
	}
	if hasCondition(svc, cond) && (holds || len(svc.Status.LoadBalancer.Ingress) == 0) {
		return nil
	}
	c.event(svc, corev1.EventTypeWarning, "AllocationFailed", "Allocate", "Failed to allocate IP for %q: %s: %s", key, reason, msg)
	patch := client.MergeFromWithOptions(svc.DeepCopy(), client.MergeFromWithOptimisticLock{}) // a stale leader's write conflicts instead of winning
	if !holds {
		svc.Status.LoadBalancer.Ingress = nil
	}
	meta.SetStatusCondition(&svc.Status.Conditions, cond)
	if err := c.client.Status().Patch(ctx, svc, patch); err != nil {
		return fmt.Errorf("write status of service %s: %w", key, err)
	}
	return nil
}

// wroteStatus says whether this controller wrote the Service's status: it carries the
// AddressAssigned condition.
func wroteStatus(svc *corev1.Service) bool {
	return meta.FindStatusCondition(svc.Status.Conditions, ConditionAddressAssigned) != nil
}

// clearIfOurs removes the addresses this controller wrote on a Service it no longer serves, or
// that is being deleted but kept by another finalizer.
func (c *Controller) clearIfOurs(ctx context.Context, svc *corev1.Service) error {
	if !wroteStatus(svc) {
		return nil
	}
	key := svc.Namespace + "/" + svc.Name
	released := "its addresses"
	c.mu.Lock()
	if asg, held := c.alloc.Assigned(key); held { // still booked: cleanup frees them after this
		released = joinIPs(asg.IPs)
	}
	c.mu.Unlock()
	patch := client.MergeFromWithOptions(svc.DeepCopy(), client.MergeFromWithOptimisticLock{}) // a stale leader's write conflicts instead of winning
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || lbclass.Serves(svc, c.opts.LBClass) {
		// On a LoadBalancer of another class the addresses are that class's controller's: ours
		// went when the type changed on the way there (the API server clears them then).
		svc.Status.LoadBalancer.Ingress = nil
	}
	meta.RemoveStatusCondition(&svc.Status.Conditions, ConditionAddressAssigned)
	if err := c.client.Status().Patch(ctx, svc, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // gone: nothing shows the addresses any more
		}
		return fmt.Errorf("clear status of service %s: %w", key, err)
	}
	why := "the service is no longer of type LoadBalancer for this controller"
	if svc.DeletionTimestamp != nil {
		why = "the service is being deleted"
	}
	c.event(svc, corev1.EventTypeNormal, "IPReleased", "Release", "Released %s: %s", released, why)
	return nil
}

func (c *Controller) event(svc *corev1.Service, typ, reason, action, format string, args ...any) {
	if c.opts.Recorder != nil {
		c.opts.Recorder.Eventf(svc, nil, typ, reason, action, format, args...)
	}
}

func ingressFor(ips []netip.Addr) []corev1.LoadBalancerIngress {
	out := make([]corev1.LoadBalancerIngress, len(ips))
	for i, ip := range ips {
		out[i] = corev1.LoadBalancerIngress{IP: ip.String()}
	}
	return out
}

func joinIPs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}
