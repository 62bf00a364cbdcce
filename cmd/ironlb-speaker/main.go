// Command ironlb-speaker is the per-node agent: it announces the load-balancer addresses its node
// owns in layer 2 mode (ARP/NDP), with liveness from a gossip membership among the speakers, and
// reports the configuration and its announcements per node.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/impl/layer2"
	"github.com/ironlb/ironlb/impl/speaker"
)

// version is set by the build: `make build` and `make images` pass -ldflags "-X main.version=$(git describe ...)".
var version = "devel"

func main() {
	var o speaker.RunOptions
	var logLevel, keyPath string
	flag.StringVar(&o.Namespace, "namespace", "metallb-system", "namespace of the configuration")
	flag.StringVar(&o.Node, "node-name", os.Getenv("NODE_NAME"), "this node's name (default $NODE_NAME)")
	flag.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	flag.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":7472", "Prometheus metrics address (0 disables; the manifests bind the pod's address)")
	flag.StringVar(&o.HealthBindAddress, "health-bind-address", ":7473", "health probe address, /healthz and /readyz (0 disables)")
	flag.StringVar(&o.LBClass, "lb-class", "", "serve Services of this spec.loadBalancerClass")
	flag.StringVar(&o.MemberBindAddr, "ml-bind-addr", os.Getenv("ML_BIND_ADDR"), "address the gossip membership binds to, the node's (default $ML_BIND_ADDR); empty disables the membership (liveness from Node conditions alone)")
	flag.IntVar(&o.MemberPort, "ml-bind-port", 7946, "gossip membership port")
	flag.StringVar(&keyPath, "ml-secret-key-path", os.Getenv("ML_SECRET_KEY_PATH"), "file with the membership's shared secret (default $ML_SECRET_KEY_PATH)")
	flag.StringVar(&o.MemberLabels, "ml-labels", "app.kubernetes.io/name=ironlb,app.kubernetes.io/component=speaker", "labels of the speaker pods to join")
	flag.DurationVar(&o.ProbeInterval, "ml-probe-interval", 50*time.Millisecond, "gossip probe interval: shorter detects dead nodes faster, with more false alarms under load")
	flag.DurationVar(&o.ProbeTimeout, "ml-probe-timeout", 25*time.Millisecond, "gossip probe timeout (a LAN round trip is well under a millisecond)")
	flag.StringVar(&o.ExcludeL2Path, "excludel2-path", layer2.DefaultExcludeL2Path, "MetalLB's excludel2.yaml (ConfigMap metallb-excludel2): regexes of interfaces not to answer on, on top of the defaults; a missing file means the defaults alone")
	flag.DurationVar(&o.GratuitousRefresh, "gratuitous-refresh", 0, "keep sending gratuitous ARP/NA at this period while an address is owned (0: only at takeover)")
	flag.DurationVar(&o.Handover, "handover", time.Second, "on SIGTERM, keep answering this long after leaving the membership")
	flag.BoolVar(&o.Layer2, "layer2", true, "answer ARP/NDP for the addresses of L2Advertisements this node is elected for (false: no raw sockets, no membership)")
	flag.BoolVar(&o.BGP, "bgp", true, "run BGP sessions from BGPPeers (with BFD from their BFDProfiles)")
	flag.DurationVar(&o.BGPWithdrawWait, "bgp-withdraw-wait", time.Second, "on SIGTERM, wait this long after withdrawing BGP routes before closing the sessions (sessions with graceful restart close at once, keeping their routes at the peers)")
	flag.DurationVar(&o.LeftGrace, "ml-left-grace", 5*time.Second, "a speaker that left politely (restarting) keeps its addresses this long before the others take them over")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fail("--log-level %q: %v", logLevel, err)
	}
	if !o.Layer2 && !o.BGP {
		fail("--layer2=false and --bgp=false: nothing to announce with")
	}
	if o.Node == "" {
		fail("no node name: set --node-name or NODE_NAME (the DaemonSet sets it from spec.nodeName)")
	}
	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctrllog.SetLogger(log)
	o.Log = log
	log.Info("starting ironlb-speaker", "version", version)
	if keyPath != "" {
		key, err := os.ReadFile(keyPath)
		if err != nil {
			fail("--ml-secret-key-path: %v", err)
		}
		o.MemberKey = []byte(strings.TrimSpace(string(key)))
	}
	cfg, err := config.GetConfig()
	if err != nil {
		fail("no Kubernetes API to talk to (in-cluster config, --kubeconfig or $KUBECONFIG): %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := speaker.Run(ctx, cfg, o); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ironlb-speaker: "+format+"\n", args...)
	os.Exit(1)
}
