package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"sigs.k8s.io/controller-runtime/pkg/webhook"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/config/fromapi"
	"github.com/ironlb/ironlb/impl/internal/apidial"
	"github.com/ironlb/ironlb/impl/internal/bindaddr"
	ironwebhook "github.com/ironlb/ironlb/impl/webhook"
)

// RunOptions configure a controller process.
type RunOptions struct {
	Namespace          string
	LBClass            string
	MetricsBindAddress string // "0" disables
	HealthBindAddress  string // "0" disables
	LeaderElection     bool
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election: a standby takes over
	// at most LeaseDuration + RetryPeriod after the leader dies. Zero means client-go's defaults
	// (DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod: 15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// LeaderIdentity names this replica in the Lease (LeaderIdentity()); empty: a new random one.
	LeaderIdentity string
	Log            logr.Logger
	// Registry receives the Prometheus metrics; nil means controller-runtime's registry, which
	// the metrics endpoint serves.
	Registry prometheus.Registerer
	// WebhookMode is enabled (controller and webhook), disabled, or onlywebhook.
	WebhookMode string
	// WebhookHost and WebhookPort are where the webhook listens (default all addresses, 9443).
	WebhookHost string
	WebhookPort int
	// WebhookCertDir holds tls.crt and tls.key; when they are missing the controller makes them
	// (see webhook.EnsureCerts).
	WebhookCertDir string
	// WebhookCertLifetime is how long the webhook's CA and serving certificate last (0: a year);
	// they are renewed at two thirds of it.
	WebhookCertLifetime time.Duration
	// SeveralInProcess allows more than one controller in a process (tests of restarts and
	// replicas); controller-runtime otherwise refuses a second controller of the same name.
	SeveralInProcess bool
}

// Leader election at client-go's defaults: a renewal that stalls for a few seconds (a busy API
// server, a GC pause) does not hand the lease over, and a standby takes over within ~17 s.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Run starts the controller and blocks until ctx ends or it fails.
func Run(ctx context.Context, cfg *rest.Config, o RunOptions) error {
	// Lists and watches wait for an API server that restarts instead of growing client-go's back-off.
	cfg = apidial.Apply(cfg)
	scheme, err := ironscheme.New()
	if err != nil {
		return err
	}
	if o.Namespace == "" {
		o.Namespace = "metallb-system"
	}
	if o.Registry == nil {
		o.Registry = metrics.Registry
	}
	only := map[string]cache.Config{o.Namespace: {}}
	switch o.WebhookMode {
	case "", "disabled", "enabled", "onlywebhook":
	default:
		return fmt.Errorf("webhook mode %q: want enabled, disabled or onlywebhook", o.WebhookMode)
	}
	withWebhook := o.WebhookMode == "enabled" || o.WebhookMode == "onlywebhook"
	if o.WebhookMode != "onlywebhook" {
		direct, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return err
		}
		if err := EnsureMemberlistSecret(ctx, direct, o.Namespace); err != nil {
			return err
		}
	}
	var hookServer webhook.Server
	if withWebhook {
		if o.WebhookCertDir == "" {
			o.WebhookCertDir = filepath.Join(os.TempDir(), "ironlb-webhook-certs")
		}
		if o.WebhookPort == 0 {
			o.WebhookPort = 9443
		}
		direct, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return err
		}
		certs := &ironwebhook.Certs{Client: direct, Namespace: o.Namespace, Dir: o.WebhookCertDir,
			Lifetime: o.WebhookCertLifetime, Log: o.Log.WithName("webhook-certs")}
		if err := certs.Ensure(ctx); err != nil {
			return err
		}
		go func() { _ = certs.Run(ctx) }() // every replica: each serves the webhook
		hookServer = webhook.NewServer(webhook.Options{Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.WebhookCertDir, TLSOpts: certs.TLSOpts()})
	}
	// The configuration (and Secrets, for BGP passwords) is read only in our namespace, never
	// cluster-wide: the Role grants no more.
	byObject := map[client.Object]cache.ByObject{}
	for _, o := range append(fromapi.NamespacedObjects(), &corev1.Secret{}) { // Secrets: watched for password changes
		byObject[o] = cache.ByObject{Namespaces: only}
	}
	var lock resourcelock.Interface
	if o.LeaderElection {
		if lock, err = leaseLock(cfg, o); err != nil {
			return err
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:                       hookServer,
		Scheme:                              scheme,
		Logger:                              o.Log,
		Cache:                               cache.Options{ByObject: byObject},
		Metrics:                             metricsserver.Options{BindAddress: bindaddr.Normalize(orDisabled(o.MetricsBindAddress))},
		Controller:                          crconfig.Controller{SkipNameValidation: &o.SeveralInProcess},
		HealthProbeBindAddress:              bindaddr.Normalize(orDisabled(o.HealthBindAddress)),
		LeaderElection:                      o.LeaderElection,
		LeaderElectionID:                    LeaseName,
		LeaderElectionNamespace:             o.Namespace,
		LeaderElectionReleaseOnCancel:       true,
		LeaderElectionResourceLockInterface: lock,
		LeaseDuration:                       durationOr(o.LeaseDuration, DefaultLeaseDuration),
		RenewDeadline:                       durationOr(o.RenewDeadline, DefaultRenewDeadline),
		RetryPeriod:                         durationOr(o.RetryPeriod, DefaultRetryPeriod),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if withWebhook {
		// Live reads, not the cache: objects applied together (a pool, then the advertisement
		// naming it, in one kubectl apply) arrive faster than a cache learns of them.
		mgr.GetWebhookServer().Register(ironwebhook.Path, &webhook.Admission{Handler: &ironwebhook.Validator{
			Reader: mgr.GetAPIReader(), Namespace: o.Namespace, Log: o.Log.WithName("webhook")}})
		o.Log.Info("serving the validating webhook", "port", o.WebhookPort, "path", ironwebhook.Path)
	}
	if o.WebhookMode == "onlywebhook" {
		return mgr.Start(ctx)
	}
	c := New(mgr.GetClient(), Options{Namespace: o.Namespace, LBClass: o.LBClass, Log: o.Log.WithName("allocator"),
		Recorder: mgr.GetEventRecorder("ironlb-controller"), Metrics: NewMetrics(o.Registry)})
	if err := c.SetupWithManager(mgr); err != nil {
		return err
	}
	o.Log.Info("starting controller", "namespace", o.Namespace, "lbClass", o.LBClass, "leaderElection", o.LeaderElection)
	return mgr.Start(ctx)
}

// leaseLock is controller-runtime's Lease lock but with LeaderIdentity, so that a restarted pod
// leads again at once.
func leaseLock(cfg *rest.Config, o RunOptions) (resourcelock.Interface, error) {
	id := o.LeaderIdentity
	if id == "" {
		id = LeaderIdentity("", "")
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	// One hung request must not cost the lease: client-go's advice, as controller-runtime does.
	cfg.Timeout = max(*durationOr(o.RenewDeadline, DefaultRenewDeadline)/2, time.Second)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("leader election client: %w", err)
	}
	return resourcelock.New(resourcelock.LeasesResourceLock, o.Namespace, LeaseName, cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: id})
}

// LeaseName is the Lease the controller replicas elect their leader with.
const LeaseName = "ironlb-controller"

func orDisabled(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func durationOr(d, def time.Duration) *time.Duration {
	if d == 0 {
		return &def
	}
	return &d
}
