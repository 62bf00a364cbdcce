package controller

import (
	"context"
	"fmt"
	"github.com/ironlb/ironlb/impl/lbclass"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Finalizer is the finalizer the controller puts on every Service it serves, so that a deleted
// Service goes away only after the controller let go of its addresses. It is the one Kubernetes'
// cloud-provider service controller uses (LoadBalancerCleanupFinalizer in
// k8s.io/cloud-provider/service/helpers), which people and tools already know; MetalLB adds none.
const Finalizer = "service.kubernetes.io/load-balancer-cleanup"

// finalizerOurs says whether the cleanup finalizer on the Service is this controller's to remove.
// Other load balancers use the same name, so whose it is follows from the Service:
//   - on a LoadBalancer, it is ours when the class is ours. On one of another class it is that
//     class's controller's, even if this controller served the Service before (the class changes
//     only through another type, and the other controller relies on the same finalizer now);
//   - on a Service that is no longer a LoadBalancer (the type changed; the API server has then
//     cleared the class and status.loadBalancer), it is ours when the AddressAssigned condition is
//     still there (cleanup removes it only after the finalizer), or when this process added the
//     finalizer (added) and failed to write the status before the type changed. Anything else is
//     left alone: a finalizer whose owner cannot be told is not removed.
func finalizerOurs(svc *corev1.Service, lbClass string, added bool) bool {
	if !controllerutil.ContainsFinalizer(svc, Finalizer) {
		return false
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		return lbclass.Serves(svc, lbClass)
	}
	return wroteStatus(svc) || added
}

// addFinalizer puts the cleanup finalizer on a Service this controller serves, before any address
// is assigned to it, as the cloud-provider service controller does before it creates a load
// balancer.
func (c *Controller) addFinalizer(ctx context.Context, svc *corev1.Service) error {
	key := svc.Namespace + "/" + svc.Name
	c.mu.Lock()
	c.finalized[key] = struct{}{} // before the write: its answer may be lost after it took effect
	c.mu.Unlock()
	if controllerutil.ContainsFinalizer(svc, Finalizer) {
		return nil
	}
	// Only metadata.finalizers, with the resourceVersion as a precondition: a merge patch
	// replaces the whole list, and without the lock a finalizer another party added meanwhile
	// would be lost (and a stale leader's write would win).
	patch := client.MergeFromWithOptions(svc.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(svc, Finalizer)
	if err := c.client.Patch(ctx, svc, patch); err != nil {
		return fmt.Errorf("add finalizer %s to service %s: %w", Finalizer, key, err)
	}
	return nil
}

// removeFinalizer removes the cleanup finalizer, and only it, from the Service (the same
// precondition as addFinalizer). gone says that the Service no longer exists: it was being
// deleted and this was its last finalizer.
func removeFinalizer(ctx context.Context, c client.Client, svc *corev1.Service) (gone bool, err error) {
	patch := client.MergeFromWithOptions(svc.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(svc, Finalizer)
	if err := c.Patch(ctx, svc, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("remove finalizer %s from service %s/%s: %w", Finalizer, svc.Namespace, svc.Name, err)
	}
	return svc.DeletionTimestamp != nil && len(svc.Finalizers) == 0, nil
}

// cleanup lets go of a Service this controller does not serve: being deleted, no longer a
// LoadBalancer, or of another class. In this order:
//
//  1. the cleanup finalizer goes, if it is ours (finalizerOurs). A Service being deleted that
//     carries no other finalizer is gone with this one write;
//  2. if the Service is still there, the status this controller wrote (addresses, condition) is
//     cleared;
//  3. only then are its addresses freed for other Services.
//
// Why this order. Another Service must not get the address while this one's status still shows
// it (a restarted controller, users and speakers read the status): freeing it last, once the
// Service is gone or its status cleared, rules that out, also when someone else's finalizer keeps
// a deleted Service around for long. The speakers stop announcing a Service as soon as it is
// being deleted or stops being a LoadBalancer (WantsAddress), before any of this; one that has not
// seen that change yet is the same lag as for any address that moves. The address stays booked
// until step 3 in the allocator, and a restarted controller books it again from the status of a
// Service being deleted (restoreAll), so the finalizer going first costs nothing. And it must go
// before the condition: on a Service that is no longer a LoadBalancer, the condition is what says
// that the finalizer is ours, and with the condition cleared first, a failed or interrupted
// finalizer write would leave a finalizer that no one removes and the Service could never be
// deleted. (The cloud-provider service controller also removes the finalizer before it clears
// the status.)
func (c *Controller) cleanup(ctx context.Context, svc *corev1.Service) error {
	key := svc.Namespace + "/" + svc.Name
	c.mu.Lock()
	_, added := c.finalized[key]
	c.mu.Unlock()
	if finalizerOurs(svc, c.opts.LBClass, added) {
		gone, err := removeFinalizer(ctx, c.client, svc)
		if err != nil {
			return err
		}
		if gone {
			c.log.Info("released: the service was deleted", "service", key, "ips", statusIPs(svc))
			c.forget(key)
			return nil
		}
	}
	if err := c.clearIfOurs(ctx, svc); err != nil {
		return err
	}
	c.forget(key)
	return nil
}

// forget frees the addresses of a Service this controller let go of, or that no longer exists.
func (c *Controller) forget(key string) {
	c.mu.Lock()
	delete(c.finalized, key)
	c.mu.Unlock()
	c.release(key)
}
