//go:build linux

package speaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/bfd"
	"github.com/ironlb/ironlb/impl/bgp"
	"github.com/ironlb/ironlb/impl/config/fromapi"
	"github.com/ironlb/ironlb/impl/internal/apidial"
	"github.com/ironlb/ironlb/impl/internal/bindaddr"
	"github.com/ironlb/ironlb/impl/layer2"
	"github.com/ironlb/ironlb/impl/members"
)

// RunOptions configure a speaker process.
type RunOptions struct {
	Namespace, Node, LBClass string
	MetricsBindAddress       string // "" or "0" disables
	// HealthBindAddress serves /healthz (the process answers) and /readyz (its caches are
	// synced) for the kubelet's probes; "" or "0" disables.
	HealthBindAddress string
	Log               logr.Logger
	// Registry receives the Prometheus metrics; nil means controller-runtime's registry, which
	// the metrics endpoint serves.
	Registry prometheus.Registerer
	// SeveralInProcess allows more than one speaker in a process (tests); controller-runtime
	// otherwise refuses a second controller of the same name.
	SeveralInProcess bool

	// The gossip membership: bound to MemberBindAddr:MemberPort (no address: no membership),
	// encrypted with MemberKey, joining the speaker pods with MemberLabels.
	MemberBindAddr string
	MemberPort     int
	MemberKey      []byte
	MemberLabels   string
	ProbeInterval  time.Duration
	ProbeTimeout   time.Duration
	LeftGrace      time.Duration

	// Layer2 answers ARP/NDP for the addresses this node is elected for (off: BGP only, no raw
	// sockets, no L2Advertisement is announced).
	Layer2            bool
	GratuitousRefresh time.Duration
	ExcludeL2Path     string // MetalLB's excludel2.yaml (interfaces not answered on)

	// BGP runs BGP sessions from BGPPeers (off: layer 2 only). BGPWithdrawWait is how long a
	// stopping speaker waits after withdrawing its routes before it closes the sessions.
	BGP             bool
	BGPWithdrawWait time.Duration
	// Handover is how long a stopping speaker keeps answering after it left the membership.
	Handover time.Duration
}

// Run runs a speaker until ctx ends, then leaves the membership politely and keeps answering for
// Handover before it goes quiet. The others count a member that left as alive for LeftGrace: a
// restarted speaker is back within it and nothing moves (no client sees another MAC address, so
// no connection in flight is lost); a speaker that does not come back is taken over after it,
// while its node, up and running kube-proxy, keeps serving the clients that know its address.
func Run(ctx context.Context, cfg *rest.Config, o RunOptions) error {
	// Lists and watches wait for an API server that restarts instead of growing client-go's back-off.
	cfg = apidial.Apply(cfg)
	scheme, err := ironscheme.New()
	if err != nil {
		return err
	}
	byObject := map[client.Object]cache.ByObject{}
	for _, obj := range append(fromapi.NamespacedObjects(), &v1beta1.ServiceL2Status{}, &v1beta1.ServiceBGPStatus{}) {
		byObject[obj] = cache.ByObject{Namespaces: map[string]cache.Config{o.Namespace: {}}}
	}
	reg := o.Registry
	if reg == nil {
		reg = metrics.Registry
	}
	metricsAddr, healthAddr := bindaddr.Normalize(o.MetricsBindAddress), bindaddr.Normalize(o.HealthBindAddress)
	if metricsAddr == "" {
		metricsAddr = "0"
	}
	if healthAddr == "" {
		healthAddr = "0"
	}
	// Secrets are read one by one, uncached, and only those a BGPPeer names: the speaker may get
	// Secrets, never list or watch them.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Logger: o.Log, Cache: cache.Options{ByObject: byObject},
		Client:  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Metrics: metricsserver.Options{BindAddress: metricsAddr}, HealthProbeBindAddress: healthAddr,
		Controller: crconfig.Controller{SkipNameValidation: &o.SeveralInProcess}})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	// The announcer and the manager outlive ctx by the handover.
	life, end := context.WithCancel(context.Background())
	defer end()
	if err := addHealthChecks(life, mgr); err != nil {
		return err
	}
	var ann *layer2.Announcer
	annDone := make(chan error, 1)
	if o.Layer2 {
		if ann, err = layer2.New(layer2.Options{Log: o.Log.WithName("layer2"), Registry: reg, Refresh: o.GratuitousRefresh, ExcludeL2Path: o.ExcludeL2Path}); err != nil {
			return err
		}
		go func() { annDone <- ann.Run(life) }()
	}

	var mem *lateMembers
	switch {
	case !o.Layer2:
		o.Log.Info("layer 2 off: no membership (it only elects layer 2 owners)")
	case o.MemberBindAddr != "":
		sel, err := labels.Parse(o.MemberLabels)
		if err != nil {
			return fmt.Errorf("--ml-labels: %w", err)
		}
		// Started by the first valid configuration: a speaker that cannot announce must not be
		// elected for addresses.
		mem = &lateMembers{changes: make(chan struct{}, 1), start: func() (*members.Members, error) {
			m, err := members.Start(members.Config{Node: o.Node, BindAddr: o.MemberBindAddr, Port: o.MemberPort, SecretKey: o.MemberKey,
				ProbeInterval: o.ProbeInterval, ProbeTimeout: o.ProbeTimeout, LeftGrace: o.LeftGrace, Log: o.Log.WithName("members")})
			if err != nil {
				return nil, err
			}
			// One join pass before the first plan: a speaker that planned alone would elect
			// itself for every address until the others' gossip reached it.
			known := joinOnce(life, mgr.GetAPIReader(), m, o, sel, nil)
			go joinLoop(life, mgr.GetAPIReader(), m, o, sel, known)
			go func() { // a healed partition or a refuted suspicion: the segment may know another MAC
				for {
					select {
					case <-life.Done():
						return
					case <-m.Healed():
						ann.Reannounce(life)
					}
				}
			}()
			return m, nil
		}}
	default:
		o.Log.Info("no membership address: liveness comes from the Node conditions alone (slower failover)")
	}
	s := &Speaker{Client: mgr.GetClient(), Namespace: o.Namespace, Node: o.Node, LBClass: o.LBClass, Log: o.Log.WithName("speaker"),
		Recorder: mgr.GetEventRecorder("ironlb-speaker")}
	if ann != nil {
		s.Announcer = ann
	}
	var sessions *bgp.Manager
	if o.BGP {
		slogger := slog.New(logr.ToSlogHandler(o.Log.WithName("bgp")))
		var bfdSrv *bfd.Server
		sessions = bgp.NewManager(slogger, bgp.NewMetrics(reg), nil, nil)
		bfdSrv, err = bfd.Listen(life, slogger.With("component", "bfd"), bfd.NewMetrics(reg), func(e bfd.Event) {
			// Only a session that was up and went down says the path failed; one that never
			// came up (the peer runs no BFD) leaves BGP alone.
			switch {
			case e.New == bfd.Up:
				sessions.BFDChanged(e.Peer, true)
			case e.Old == bfd.Up:
				sessions.BFDChanged(e.Peer, false)
			}
		})
		if err != nil {
			o.Log.Error(err, "no BFD: BGP sessions fall back to their hold timers")
		} else {
			sessions.SetBFD(bfdSessions{srv: bfdSrv})
			defer bfdSrv.Close()
		}
		s.BGP = sessions
	}
	if mem != nil {
		s.Members = mem
		s.Join = func(context.Context) error { return mem.Join(life) }
	}
	if err := s.SetupWithManager(mgr); err != nil {
		return err
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(life) }()
	o.Log.Info("speaker running", "node", o.Node, "namespace", o.Namespace, "membership", mem != nil, "mode", modes(o))
	select {
	case err := <-mgrDone:
		return err
	case err := <-annDone:
		return err
	case <-ctx.Done():
	}
	// From here on no change announces anything or starts a session.
	s.Close()
	if sessions != nil {
		o.Log.Info("stopping: withdrawing BGP routes (sessions with graceful restart keep them)", "node", o.Node, "wait", o.BGPWithdrawWait)
		sessions.Shutdown(o.BGPWithdrawWait)
	}
	if ann == nil {
		end()
		return nil
	}
	o.Log.Info("stopping: handing addresses over", "node", o.Node, "owned", ann.Owned(), "handover", o.Handover)
	if mem != nil {
		if err := mem.Leave(500 * time.Millisecond); err != nil {
			o.Log.Error(err, "leave the membership")
		}
	}
	time.Sleep(o.Handover)
	end()
	<-annDone
	return nil
}

// modes names what the speaker announces with: layer2, bgp or layer2+bgp.
func modes(o RunOptions) string {
	var m []string
	if o.Layer2 {
		m = append(m, "layer2")
	}
	if o.BGP {
		m = append(m, "bgp")
	}
	return strings.Join(m, "+")
}

// addHealthChecks gives the manager's probe endpoint its checks: /healthz answers while the
// process serves HTTP; /readyz once the caches (configuration, Services, EndpointSlices, Nodes)
// have synced, so that a rolling update of the DaemonSet waits for each new speaker to know what
// to announce before it replaces the next.
func addHealthChecks(ctx context.Context, mgr ctrl.Manager) error {
	var synced atomic.Bool
	go func() {
		if mgr.GetCache().WaitForCacheSync(ctx) {
			synced.Store(true)
		}
	}()
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("caches", func(*http.Request) error {
		if !synced.Load() {
			return errors.New("caches not synced yet")
		}
		return nil
	})
}

// joinLoop joins the other speakers (found by their pods' labels) every few seconds, so
// that a speaker started first, or cut off for a while, finds the others again; while the API
// server cannot be read, at the addresses they last had (joinTargets).
func joinLoop(ctx context.Context, r client.Reader, mem *members.Members, o RunOptions, sel labels.Selector, known map[string]string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
		known = joinOnce(ctx, r, mem, o, sel, known)
	}
}

// joinOnce joins the speakers that are not alive in the membership yet (memberlist exchanges the
// whole member list while joining, so on return the membership knows whom they know) and returns
// the addresses it knows by node.
func joinOnce(ctx context.Context, r client.Reader, mem *members.Members, o RunOptions, sel labels.Selector, known map[string]string) map[string]string {
	var pods corev1.PodList
	// Bounded: while the API server is away the list fails within this, and the speakers are
	// joined at the addresses they last had (the API client would otherwise wait for it).
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := r.List(lctx, &pods, client.InNamespace(o.Namespace), client.MatchingLabelsSelector{Selector: sel})
	cancel()
	var addrs []string
	addrs, known = joinTargets(known, pods.Items, err, o.Node, o.MemberPort, mem.Alive())
	if len(addrs) > 0 {
		if n, err := mem.Join(addrs); err != nil && n == 0 {
			o.Log.V(1).Info("join speakers", "addresses", addrs, "error", err.Error())
		}
	}
	return known
}

// lateMembers is the gossip membership, started when the speaker first has a valid configuration
// (Join) and never before.
type lateMembers struct {
	start   func() (*members.Members, error)
	changes chan struct{}

	mu sync.Mutex
	m  *members.Members
}

// Join starts the membership once; its changes are forwarded until ctx ends.
func (l *lateMembers) Join(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m != nil {
		return nil
	}
	m, err := l.start()
	if err != nil {
		return err
	}
	l.m = m
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.Changes():
				select {
				case l.changes <- struct{}{}:
				default:
				}
			}
		}
	}()
	return nil
}

func (l *lateMembers) started() *members.Members {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m
}

// Alive is nobody before Join (the speaker announces nothing before it either).
func (l *lateMembers) Alive() map[string]bool {
	if m := l.started(); m != nil {
		return m.Alive()
	}
	return map[string]bool{}
}

func (l *lateMembers) Changes() <-chan struct{} { return l.changes }

// Leave leaves the membership if it was joined.
func (l *lateMembers) Leave(timeout time.Duration) error {
	if m := l.started(); m != nil {
		return m.Leave(timeout)
	}
	return nil
}
