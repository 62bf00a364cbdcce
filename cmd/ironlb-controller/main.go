// Command ironlb-controller assigns addresses from IPAddressPools to LoadBalancer Services.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/impl/controller"
)

// version is set by the build: `make build` and `make images` pass -ldflags "-X main.version=$(git describe ...)".
var version = "devel"

func main() {
	var (
		o        controller.RunOptions
		logLevel string
		webhook  string
	)
	flag.StringVar(&o.Namespace, "namespace", "metallb-system", "namespace of the configuration (IPAddressPool, ...)")
	flag.StringVar(&o.LBClass, "lb-class", "", "serve Services of this spec.loadBalancerClass (empty: Services without a class)")
	flag.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	flag.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":7472", "Prometheus metrics address (0 disables)")
	flag.StringVar(&o.HealthBindAddress, "health-bind-address", ":7473", "health probe address (0 disables)")
	flag.StringVar(&webhook, "webhook-mode", "enabled", "enabled, disabled or onlywebhook")
	flag.IntVar(&o.WebhookPort, "webhook-port", 9443, "port of the validating webhook")
	flag.StringVar(&o.WebhookCertDir, "webhook-cert-dir", "", "directory with tls.crt and tls.key (default: made and kept in a Secret)")
	flag.DurationVar(&o.WebhookCertLifetime, "webhook-cert-lifetime", 0, "lifetime of the webhook's CA and serving certificate, renewed at two thirds of it (0: 8760h, a year)")
	flag.BoolVar(&o.LeaderElection, "leader-elect", true, "elect one active replica with a Lease")
	flag.DurationVar(&o.LeaseDuration, "lease-duration", controller.DefaultLeaseDuration, "leader lease duration: a standby takes over after at most this (plus --retry-period)")
	flag.DurationVar(&o.RenewDeadline, "renew-deadline", controller.DefaultRenewDeadline, "how long the leader keeps retrying to renew its lease before it gives up leading (< --lease-duration)")
	flag.DurationVar(&o.RetryPeriod, "retry-period", controller.DefaultRetryPeriod, "how often leader election acts (renewal, acquisition attempts)")
	flag.StringVar(&o.LeaderIdentity, "leader-identity", controller.LeaderIdentity(os.Getenv("POD_NAME"), os.Getenv("POD_UID")),
		"who this replica is in the leader Lease (default: $POD_NAME_$POD_UID, so that a restarted pod leads again at once; else hostname_random)")
	removeFinalizers := flag.Bool("remove-finalizers", false, "remove the "+controller.Finalizer+" finalizer from the Services of this controller (--namespace, --lb-class) and exit, to uninstall; refused while a controller holds the leader Lease")
	qps := flag.Float64("kube-api-qps", 200, "queries per second to the API server")
	burst := flag.Int("kube-api-burst", 400, "burst of queries to the API server")
	// --kubeconfig is registered by controller-runtime's config package (GetConfig reads it).
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fail("--log-level %q: %v", logLevel, err)
	}
	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	o.Log = log
	log.Info("starting ironlb-controller", "version", version)
	ctrllog.SetLogger(log) // controller-runtime's own packages log through this
	o.WebhookMode = webhook
	cfg, err := config.GetConfig()
	if err != nil {
		fail("no Kubernetes API to talk to (in-cluster config, --kubeconfig or $KUBECONFIG): %v", err)
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := controller.Run
	if *removeFinalizers {
		run = controller.RemoveFinalizers
	}
	if err := run(ctx, cfg, o); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ironlb-controller: "+format+"\n", args...)
	os.Exit(1)
}
