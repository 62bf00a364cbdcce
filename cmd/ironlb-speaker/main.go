// Command ironlb-speaker is the per-node agent. Today it validates the configuration and reports
// it per node (ConfigurationState); Layer 2 and BGP announcement are being built on top.
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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ironlb/ironlb/impl/config/fromapi"
	"github.com/ironlb/ironlb/impl/controller"
	"github.com/ironlb/ironlb/impl/speaker"
)

func main() {
	var ns, node, logLevel, metricsAddr, lbClass string
	flag.StringVar(&ns, "namespace", "metallb-system", "namespace of the configuration")
	flag.StringVar(&node, "node-name", os.Getenv("NODE_NAME"), "this node's name (default $NODE_NAME)")
	flag.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":7472", "Prometheus metrics address (0 disables)")
	flag.StringVar(&lbClass, "lb-class", "", "serve Services of this spec.loadBalancerClass")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fail("--log-level %q: %v", logLevel, err)
	}
	if node == "" {
		fail("no node name: set --node-name or NODE_NAME (the DaemonSet sets it from spec.nodeName)")
	}
	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctrllog.SetLogger(log)
	cfg, err := config.GetConfig()
	if err != nil {
		fail("no Kubernetes API to talk to (in-cluster config, --kubeconfig or $KUBECONFIG): %v", err)
	}
	scheme, err := controller.Scheme()
	if err != nil {
		fail("%v", err)
	}
	byObject := map[client.Object]cache.ByObject{}
	for _, o := range fromapi.NamespacedObjects() {
		byObject[o] = cache.ByObject{Namespaces: map[string]cache.Config{ns: {}}}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Logger: log, Cache: cache.Options{ByObject: byObject},
		Metrics: metricsserver.Options{BindAddress: metricsAddr}})
	if err != nil {
		fail("create manager: %v", err)
	}
	s := &speaker.Speaker{Client: mgr.GetClient(), Namespace: ns, Node: node, Log: log.WithName("speaker")}
	if err := s.SetupWithManager(mgr); err != nil {
		fail("%v", err)
	}
	log.Info("starting speaker", "node", node, "namespace", ns, "lbClass", lbClass,
		"announcing", "none yet: this build validates and reports the configuration per node")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := mgr.Start(ctx); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ironlb-speaker: "+format+"\n", args...)
	os.Exit(1)
}
