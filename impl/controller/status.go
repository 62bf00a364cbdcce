package controller

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/allocator"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/configstate"
)

// ConfigurationStateName is the name of the controller's ConfigurationState object.
const ConfigurationStateName = "controller"

// reportState writes the controller's ConfigurationState; a failure is logged, not fatal.
func (c *Controller) reportState(ctx context.Context, result v1beta1.ConfigurationResult, lastError string) {
	key := types.NamespacedName{Namespace: c.opts.Namespace, Name: ConfigurationStateName}
	if err := configstate.Report(ctx, c.client, key, map[string]string{v1beta1.LabelComponentType: "controller"}, result, lastError); err != nil {
		c.log.Error(err, "write ConfigurationState")
	}
}

// apply writes a successful assignment onto the Service.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, sr *serviceRequest, asg allocator.Assignment) error {
	prev := statusIPs(svc)
	changed := !slices.Equal(prev, asg.IPs)
	if svc.Annotations[AnnotationAllocatedFromPool] != asg.Pool {
		patch := client.MergeFrom(svc.DeepCopy())
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		svc.Annotations[AnnotationAllocatedFromPool] = asg.Pool
		if err := c.client.Patch(ctx, svc, patch); err != nil {
			return fmt.Errorf("annotate service %s/%s: %w", svc.Namespace, svc.Name, err)
		}
	}
	msg := fmt.Sprintf("Assigned IP %s from pool %s", joinIPs(asg.IPs), asg.Pool)
	cond := conditionFor(svc, true, "Assigned", msg)
	if changed || !hasCondition(svc, cond) {
		patch := client.MergeFrom(svc.DeepCopy())
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
	patch := client.MergeFrom(svc.DeepCopy())
	if !holds {
		svc.Status.LoadBalancer.Ingress = nil
	}
	meta.SetStatusCondition(&svc.Status.Conditions, cond)
	if err := c.client.Status().Patch(ctx, svc, patch); err != nil {
		return fmt.Errorf("write status of service %s: %w", key, err)
	}
	if !holds && svc.Annotations[AnnotationAllocatedFromPool] != "" {
		return c.dropAnnotation(ctx, svc)
	}
	return nil
}

// clearIfOurs removes the addresses this controller wrote on a Service it no longer serves.
func (c *Controller) clearIfOurs(ctx context.Context, svc *corev1.Service) error {
	if svc.Annotations[AnnotationAllocatedFromPool] == "" || svc.DeletionTimestamp != nil {
		return nil
	}
	patch := client.MergeFrom(svc.DeepCopy())
	svc.Status.LoadBalancer.Ingress = nil
	meta.RemoveStatusCondition(&svc.Status.Conditions, ConditionAddressAssigned)
	if err := c.client.Status().Patch(ctx, svc, patch); err != nil {
		return fmt.Errorf("clear status of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	c.event(svc, corev1.EventTypeNormal, "IPReleased", "Release", "Released %s: the service is no longer of type LoadBalancer for this controller", svc.Annotations[AnnotationAllocatedFromPool])
	return c.dropAnnotation(ctx, svc)
}

func (c *Controller) dropAnnotation(ctx context.Context, svc *corev1.Service) error {
	patch := client.MergeFrom(svc.DeepCopy())
	delete(svc.Annotations, AnnotationAllocatedFromPool)
	if err := c.client.Patch(ctx, svc, patch); err != nil {
		return fmt.Errorf("remove annotation from service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
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
