// Package controller assigns addresses to LoadBalancer Services: it watches Services and the
// metallb.io configuration, runs the pure allocator, and writes the result where users look
// (status.loadBalancer.ingress, an annotation, a condition, events, pool status, metrics).
package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ironlb/ironlb/impl/allocator"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/config/fromapi"
	"github.com/ironlb/ironlb/impl/lbclass"
)

// ConditionAddressAssigned is the Service condition that says whether the Service has its
// addresses, and if not, why.
const ConditionAddressAssigned = "ironlb.io/AddressAssigned"

// configKey is the work-queue key that only reloads the configuration.
var configKey = types.NamespacedName{Name: "ironlb-configuration"}

// Options configure the controller.
type Options struct {
	// Namespace holds the configuration objects (metallb-system by default).
	Namespace string
	// LBClass is the loadBalancerClass served; empty serves Services without a class.
	LBClass string
	Log     logr.Logger
	// Recorder posts events on Services.
	Recorder events.EventRecorder
	Metrics  *Metrics
	// Workers reconcile Services in parallel (allocation itself is serialised).
	Workers int
}

// Controller is the address-assignment controller.
type Controller struct {
	client client.Client
	opts   Options
	log    logr.Logger

	mu       sync.Mutex
	alloc    *allocator.Allocator
	cfg      *config.Config // last valid configuration; nil before the first
	cfgErr   error          // why the latest configuration was rejected
	restored bool
	pending  map[string]struct{}
	// noConfig are the Services told (by one event) that no valid configuration exists yet.
	noConfig map[string]struct{}
	// warned are the configuration warnings already posted as events (configevents.go).
	warned map[string]bool
	// finalized are the Services this process put (or found) the cleanup finalizer on while
	// serving them (finalizerOurs).
	finalized map[string]struct{}

	configDirty atomic.Bool
	statsDirty  atomic.Bool
	requeue     chan event.GenericEvent
}

// New returns a controller; SetupWithManager wires it.
func New(c client.Client, opts Options) *Controller {
	if opts.Namespace == "" {
		opts.Namespace = "metallb-system"
	}
	if opts.Workers == 0 {
		opts.Workers = 4
	}
	ctl := &Controller{client: c, opts: opts, log: opts.Log, alloc: allocator.New(),
		pending: map[string]struct{}{}, noConfig: map[string]struct{}{}, finalized: map[string]struct{}{},
		requeue: make(chan event.GenericEvent, 1024)}
	ctl.configDirty.Store(true)
	return ctl
}

// SetupWithManager registers the controller, its watches and its pool-status writer.
func (c *Controller) SetupWithManager(mgr manager.Manager) error {
	onConfig := handler.EnqueueRequestsFromMapFunc(c.configChanged)
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == c.opts.Namespace })
	// Only spec (generation) and label changes alter the configuration: the pool status this
	// controller writes every second must not re-evaluate every Service.
	specOrLabels := predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{})
	b := ctrl.NewControllerManagedBy(mgr).Named("ironlb-service").For(&corev1.Service{})
	for _, obj := range []client.Object{&v1beta1.IPAddressPool{}, &v1beta1.L2Advertisement{}, &v1beta1.BGPAdvertisement{},
		&v1beta1.Community{}, &v1beta1.BFDProfile{}, &v2Peer{}} {
		b = b.Watches(obj, onConfig, builder.WithPredicates(inNamespace, specOrLabels))
	}
	b = b.Watches(&corev1.Secret{}, onConfig, builder.WithPredicates(inNamespace))
	b = b.Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(c.namespaceChanged),
		builder.WithPredicates(predicate.LabelChangedPredicate{}))
	b = b.WatchesRawSource(source.Channel(c.requeue, &handler.EnqueueRequestForObject{}))
	if err := b.WithOptions(crcontroller.Options{MaxConcurrentReconciles: c.opts.Workers}).Complete(c); err != nil {
		return fmt.Errorf("set up service controller: %w", err)
	}
	return mgr.Add(manager.RunnableFunc(c.writePoolStatus))
}

// configChanged marks the configuration for reloading and re-evaluates every Service.
func (c *Controller) configChanged(ctx context.Context, _ client.Object) []reconcile.Request {
	c.configDirty.Store(true)
	reqs := []reconcile.Request{{NamespacedName: configKey}}
	var svcs corev1.ServiceList
	if err := c.client.List(ctx, &svcs); err != nil {
		c.log.Error(err, "list services after a configuration change")
		return reqs
	}
	for i := range svcs.Items {
		if lbclass.WantsAddress(&svcs.Items[i], c.opts.LBClass) || wroteStatus(&svcs.Items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&svcs.Items[i])})
		}
	}
	return reqs
}

// namespaceChanged re-evaluates the Services of a namespace whose labels may select pools.
func (c *Controller) namespaceChanged(ctx context.Context, ns client.Object) []reconcile.Request {
	var svcs corev1.ServiceList
	if err := c.client.List(ctx, &svcs, client.InNamespace(ns.GetName())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range svcs.Items {
		if lbclass.WantsAddress(&svcs.Items[i], c.opts.LBClass) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&svcs.Items[i])})
		}
	}
	return reqs
}

// Reconcile brings one Service's addresses in line with its spec and the configuration.
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if err := c.prepare(ctx); err != nil {
		return reconcile.Result{}, err
	}
	if req.NamespacedName == configKey {
		return reconcile.Result{}, nil
	}
	key := req.Namespace + "/" + req.Name
	log := c.log.WithValues("service", key)
	svc := &corev1.Service{}
	if err := c.client.Get(ctx, req.NamespacedName, svc); err != nil {
		if apierrors.IsNotFound(err) {
			c.forget(key)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if svc.DeletionTimestamp != nil {
		// Never handed an address, and let go of even while no valid configuration exists: a
		// deletion must not wait for one. Nothing is assigned before a valid configuration is
		// loaded and every status restored (prepare), so freeing now gives nothing away twice.
		return reconcile.Result{}, c.cleanup(ctx, svc)
	}
	if wait, ok := c.waitForConfig(svc); !ok {
		return wait, nil
	}
	if !lbclass.WantsAddress(svc, c.opts.LBClass) {
		return reconcile.Result{}, c.cleanup(ctx, svc)
	}
	if err := c.addFinalizer(ctx, svc); err != nil {
		return reconcile.Result{}, err
	}
	sr, err := buildRequest(svc)
	if err != nil {
		return reconcile.Result{}, c.fail(ctx, svc, "InvalidRequest", err)
	}
	if err := c.candidates(ctx, svc, sr); err != nil {
		c.release(key)
		return reconcile.Result{}, c.fail(ctx, svc, reasonFor(err), err)
	}
	if len(sr.req.Requested) == 0 {
		// A new leader that has not seen this Service keeps what its status shows, if allowed.
		sr.req.Prefer = preferFromStatus(svc)
	}
	asg, err := c.assign(key, sr.req)
	if err != nil {
		if errors.Is(err, allocator.ErrInconsistent) {
			log.Error(err, "BUG: the allocator's books disagree; the address was not handed out")
		} else {
			log.Info("allocation failed", "reason", reasonFor(err), "error", err.Error())
		}
		return reconcile.Result{}, c.fail(ctx, svc, reasonFor(err), err)
	}
	return reconcile.Result{}, c.apply(ctx, svc, sr, asg)
}

// noConfigRetry is how often a Service is looked at again while no valid configuration has been
// seen; a configuration change re-evaluates every Service at once anyway.
const noConfigRetry = 30 * time.Second

// waitForConfig holds a Service back, writing nothing to it, while no valid configuration has
// ever been loaded (one invalid object makes the whole configuration invalid): what a Service
// shows stays as it is, to be restored once a valid configuration arrives. The Service gets one
// Warning event. ok is false when the Service must wait.
func (c *Controller) waitForConfig(svc *corev1.Service) (reconcile.Result, bool) {
	key := svc.Namespace + "/" + svc.Name
	c.mu.Lock()
	cfg, cfgErr := c.cfg, c.cfgErr
	_, told := c.noConfig[key]
	if cfg != nil {
		delete(c.noConfig, key)
	} else {
		c.noConfig[key] = struct{}{}
	}
	c.mu.Unlock()
	if cfg != nil {
		return reconcile.Result{}, true
	}
	if !told && lbclass.WantsAddress(svc, c.opts.LBClass) {
		why := "none has been seen yet"
		if cfgErr != nil {
			why = cfgErr.Error()
		}
		c.event(svc, corev1.EventTypeWarning, "NoConfiguration", "Allocate",
			"No valid configuration: the service's addresses are left as they are until there is one: %s", why)
	}
	return reconcile.Result{RequeueAfter: noConfigRetry}, false
}

// prepare reloads the configuration when it changed and, once, restores every assignment from
// the Services' status before anything is assigned.
func (c *Controller) prepare(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.configDirty.Swap(false) {
		if err := c.reloadConfig(ctx); err != nil {
			c.configDirty.Store(true)
			return err
		}
	}
	if !c.restored && c.cfg != nil {
		if err := c.restoreAll(ctx); err != nil {
			return err
		}
		c.restored = true
	}
	return nil
}

type v2Peer = v1beta2.BGPPeer

// reloadConfig lists the configuration, validates it and, when valid, applies it. An invalid
// configuration is reported and the last valid one stays in force.
func (c *Controller) reloadConfig(ctx context.Context) error {
	in, err := fromapi.List(ctx, c.client, c.opts.Namespace)
	if err != nil {
		return err
	}
	cfg, err := config.Build(in)
	if err != nil {
		c.cfgErr = err
		c.log.Error(err, "configuration rejected; keeping the last valid one")
		c.opts.Metrics.configLoaded(false)
		c.reportState(ctx, v1beta1.ConfigurationInvalid, err.Error())
		var problems config.Errors
		if errors.As(err, &problems) {
			c.configEvents(ctx, problems, "ConfigurationInvalid")
		}
		return nil
	}
	c.cfg, c.cfgErr = cfg, nil
	lost := c.alloc.SetPools(cfg.Pools)
	for _, key := range lost {
		c.log.Info("address no longer in any pool; service will be re-evaluated", "service", key)
		c.pending[key] = struct{}{}
	}
	c.statsDirty.Store(true)
	c.opts.Metrics.configLoaded(true)
	c.reportState(ctx, v1beta1.ConfigurationValid, "", cfg.WarningMessages()...)
	c.configEvents(ctx, cfg.Warnings, "ConfigurationWarning")
	c.log.Info("configuration loaded", "pools", len(cfg.Pools), "peers", len(cfg.Peers))
	return nil
}

// restoreAll records what every Service already holds, oldest Service first, so that a restart
// changes no address and two Services never end up with one. A Service being deleted keeps what
// its status shows until cleanup let go of it: its address goes to no one else before.
func (c *Controller) restoreAll(ctx context.Context) error {
	var svcs corev1.ServiceList
	if err := c.client.List(ctx, &svcs); err != nil {
		return fmt.Errorf("list services to restore assignments: %w", err)
	}
	items := svcs.Items
	sort.SliceStable(items, func(i, j int) bool {
		return items[i].CreationTimestamp.Before(&items[j].CreationTimestamp)
	})
	restored := 0
	for i := range items {
		svc := &items[i]
		ips := statusIPs(svc)
		if !lbclass.Serves(svc, c.opts.LBClass) || len(ips) == 0 {
			continue
		}
		sr, err := buildRequest(svc)
		if err != nil {
			continue
		}
		sr.info.Explicit = true // the status addresses may come from any pool the service may use
		sr.info.NamespaceLabels = c.namespaceLabels(ctx, svc.Namespace)
		pools, err := allocator.CandidatePools(c.cfg.Pools, sr.info)
		if err != nil {
			continue
		}
		sr.req.Pools = pools
		if _, err := c.alloc.Restore(sr.req, ips); err != nil {
			c.log.Info("status addresses cannot be kept; the service will get new ones", "service", sr.req.Service, "ips", ips, "error", err.Error())
			continue
		}
		restored++
	}
	c.statsDirty.Store(true)
	c.log.Info("restored assignments from service status", "services", restored)
	return nil
}

func (c *Controller) namespaceLabels(ctx context.Context, name string) map[string]string {
	ns := &corev1.Namespace{}
	if err := c.client.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
		return nil
	}
	return ns.Labels
}

// candidates fills in the pools a Service may use.
func (c *Controller) candidates(ctx context.Context, svc *corev1.Service, sr *serviceRequest) error {
	c.mu.Lock()
	cfg, cfgErr := c.cfg, c.cfgErr
	c.mu.Unlock()
	if cfg == nil {
		if cfgErr != nil {
			return fmt.Errorf("%w: the configuration is invalid: %v", errNoConfig, cfgErr)
		}
		return errNoConfig
	}
	sr.info.NamespaceLabels = c.namespaceLabels(ctx, svc.Namespace)
	pools, err := allocator.CandidatePools(cfg.Pools, sr.info)
	if err != nil {
		return err
	}
	sr.req.Pools = pools
	return nil
}

var errNoConfig = errors.New("no valid IPAddressPool configuration")

func (c *Controller) assign(key string, r allocator.Request) (allocator.Assignment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	asg, err := c.alloc.Assign(r)
	if err != nil {
		if _, holds := c.alloc.Assigned(key); !holds {
			c.pending[key] = struct{}{}
		}
		return asg, err
	}
	delete(c.pending, key)
	c.statsDirty.Store(true)
	return asg, nil
}

// release frees a Service's addresses and wakes the Services that wait for one.
func (c *Controller) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, key)
	delete(c.noConfig, key)
	if _, held := c.alloc.Assigned(key); !held {
		return
	}
	c.alloc.Release(key)
	c.statsDirty.Store(true)
	c.wakePending()
}

// wakePending requeues every waiting Service; the caller holds c.mu.
func (c *Controller) wakePending() {
	keys := make([]string, 0, len(c.pending))
	for k := range c.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	go func() {
		for _, k := range keys {
			ns, name, _ := strings.Cut(k, "/")
			c.requeue <- event.GenericEvent{Object: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}
		}
	}()
}

// reasonFor names an allocation error for events and conditions.
func reasonFor(err error) string {
	switch {
	case errors.Is(err, allocator.ErrPoolExhausted):
		return "PoolExhausted"
	case errors.Is(err, allocator.ErrIPInUse):
		return "IPInUse"
	case errors.Is(err, allocator.ErrIncompatibleSharing):
		return "IncompatibleSharing"
	case errors.Is(err, allocator.ErrNotInPool):
		return "RequestedIPNotInPool"
	case errors.Is(err, allocator.ErrUnknownPool):
		return "UnknownPool"
	case errors.Is(err, allocator.ErrFamilyUnavailable):
		return "FamilyUnavailable"
	case errors.Is(err, allocator.ErrNoPool):
		return "NoMatchingPool"
	case errors.Is(err, errNoConfig):
		return "NoConfiguration"
	case errors.Is(err, allocator.ErrBadRequest):
		return "InvalidRequest"
	case errors.Is(err, allocator.ErrInconsistent):
		return "InternalError"
	}
	return "AllocationFailed"
}

// writePoolStatus keeps IPAddressPool status counters and metrics current, at most once a second.
func (c *Controller) writePoolStatus(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !c.statsDirty.Swap(false) {
			continue
		}
		c.mu.Lock()
		stats := map[string]allocator.PoolStats{}
		if c.cfg != nil {
			for name := range c.cfg.Pools {
				stats[name], _ = c.alloc.Stats(name)
			}
		}
		c.mu.Unlock()
		for name, st := range stats {
			c.log.V(1).Info("pool status", "pool", name, "stats", st)
			c.opts.Metrics.poolStats(name, st)
			if err := c.patchPoolStatus(ctx, name, st); err != nil {
				c.log.Error(err, "update pool status", "pool", name)
				c.statsDirty.Store(true)
			}
		}
	}
}

func (c *Controller) patchPoolStatus(ctx context.Context, name string, st allocator.PoolStats) error {
	pool := &v1beta1.IPAddressPool{}
	if err := c.client.Get(ctx, types.NamespacedName{Namespace: c.opts.Namespace, Name: name}, pool); err != nil {
		return client.IgnoreNotFound(err)
	}
	want := v1beta1.IPAddressPoolStatus{AssignedIPv4: st.AssignedIPv4, AssignedIPv6: st.AssignedIPv6,
		AvailableIPv4: st.AvailableIPv4, AvailableIPv6: st.AvailableIPv6}
	if pool.Status == want {
		return nil
	}
	// A full update: the status fields are all required, so a merge patch of the changed ones
	// would be rejected on a pool whose status was never written.
	pool.Status = want
	return c.client.Status().Update(ctx, pool)
}

// conditionFor builds the AddressAssigned condition.
func conditionFor(svc *corev1.Service, ok bool, reason, msg string) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	return metav1.Condition{Type: ConditionAddressAssigned, Status: st, Reason: reason, Message: msg, ObservedGeneration: svc.Generation}
}

// hasCondition reports whether the Service already carries an equal condition.
func hasCondition(svc *corev1.Service, want metav1.Condition) bool {
	cur := meta.FindStatusCondition(svc.Status.Conditions, want.Type)
	return cur != nil && cur.Status == want.Status && cur.Reason == want.Reason && cur.Message == want.Message
}
