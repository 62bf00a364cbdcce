package controller

import (
	"context"
	"errors"
	"fmt"
	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// ErrControllerRunning is returned by RemoveFinalizers while a controller holds the leader Lease:
// it would put the finalizer back on every Service it serves.
var ErrControllerRunning = errors.New("a controller is running")

// RemoveFinalizers removes the cleanup finalizer from every Service whose finalizer is this
// controller's (the Namespace and LBClass of o say which controller), for an uninstall: the
// controller must be stopped first, or it adds the finalizer again. It refuses while a
// controller holds the leader Lease (a controller run with --leader-elect=false cannot be seen).
// Nothing else is written: the Services keep their status. Finalizers it cannot tell are
// IronLB's are left and logged.
func RemoveFinalizers(ctx context.Context, cfg *rest.Config, o RunOptions) error {
	if o.Namespace == "" {
		o.Namespace = "metallb-system"
	}
	scheme, err := ironscheme.New()
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := checkNoLeader(ctx, c, o.Namespace, time.Now()); err != nil {
		return err
	}
	var svcs corev1.ServiceList
	if err := c.List(ctx, &svcs); err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	var errs []error
	removed := 0
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		key := client.ObjectKeyFromObject(svc)
		if !finalizerOurs(svc, o.LBClass, false) {
			if controllerutil.ContainsFinalizer(svc, Finalizer) {
				o.Log.Info("left alone: carries the finalizer but is not this controller's Service", "service", key.String(), "type", svc.Spec.Type)
			}
			continue
		}
		done := false
		err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			if err := c.Get(ctx, key, svc); err != nil { // after a conflict: look again
				return client.IgnoreNotFound(err)
			}
			if !finalizerOurs(svc, o.LBClass, false) {
				return nil
			}
			_, err := removeFinalizer(ctx, c, svc)
			done = err == nil
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", key, err))
			continue
		}
		if done {
			removed++
			o.Log.Info("removed the finalizer", "service", key.String(), "finalizer", Finalizer)
		}
	}
	o.Log.Info("done", "services", removed, "failed", len(errs))
	return errors.Join(errs...)
}

// checkNoLeader fails with ErrControllerRunning when a controller holds the leader Lease at now.
func checkNoLeader(ctx context.Context, c client.Client, namespace string, now time.Time) error {
	lease := &coordinationv1.Lease{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: LeaseName}, lease); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("read the leader Lease %s/%s: %w", namespace, LeaseName, err)
	}
	s := lease.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return nil
	}
	if expires := s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second); now.Before(expires) {
		return fmt.Errorf("%w: %s holds the Lease %s/%s until %s; stop it first (scale the Deployment to 0)",
			ErrControllerRunning, *s.HolderIdentity, namespace, LeaseName, expires.UTC().Format(time.RFC3339))
	}
	return nil
}
