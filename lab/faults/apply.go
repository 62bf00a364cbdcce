package faults

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/lab/scenario"
)

// KindKillPod is a fault of `ironlab fault` only: SIGKILL to a process pod's containers
// (Target NAMESPACE/POD[/CONTAINER]).
const KindKillPod = "kill-pod"

// Apply does one fault, for `ironlab fault` and for the scenario runner alike: f.Target is
// resolved already (a host, HOST:IFACE, or for kill-pod a pod), and defaults are set (Mode, Flaps,
// Period). cs reaches the lab's API server: the speaker and controller faults find their pods
// with it, and the API server faults wait until it is ready again. It says what it did.
func (l Lab) Apply(ctx context.Context, cs kubernetes.Interface, f scenario.Fault) (string, error) {
	host, iface, _ := strings.Cut(f.Target, ":")
	_, sw := l.Hosts.(Switch)
	if l.Hosts != nil && !OnContainers(f.Kind, sw) {
		return "", fmt.Errorf("fault %s cannot be done on the %s provider yet (its hosts are containers, their processes not the lab's): use the netns provider", f.Kind, l.Hosts.Provider())
	}
	switch f.Kind {
	case scenario.FaultKillSpeaker, scenario.FaultRestartSpeaker, scenario.FaultGracefulSpeaker, scenario.FaultRestartController,
		scenario.FaultAPIServerUp, scenario.FaultRestartAPIServer:
		if cs == nil {
			return "", fmt.Errorf("fault %s needs the lab's API server, and its kubeconfig could not be read", f.Kind)
		}
	}
	needs := func(what string) error {
		if f.Target == "" {
			return fmt.Errorf("fault %s needs %s", f.Kind, what)
		}
		return nil
	}
	switch f.Kind {
	case scenario.FaultNodeDown, scenario.FaultRouterDown:
		if err := needs("a host"); err != nil {
			return "", err
		}
		if err := l.HostDown(host, f.Mode); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s down (%s): links cut, processes %s", host, f.Mode,
			map[string]string{"freeze": "frozen", "stop": "stopped", "kill": "killed"}[f.Mode]), nil
	case scenario.FaultNodeUp, scenario.FaultRouterUp:
		if err := needs("a host"); err != nil {
			return "", err
		}
		msg, err := l.HostUp(host)
		return host + " up" + msg, err
	case scenario.FaultLinkDown, scenario.FaultLinkUp:
		if err := needs("HOST[:IFACE]"); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s links %s", f.Target, strings.TrimPrefix(f.Kind, "link-")), l.Links(host, iface, f.Kind == scenario.FaultLinkUp)
	case scenario.FaultLinkFlap:
		if err := needs("HOST[:IFACE]"); err != nil {
			return "", err
		}
		period, err := time.ParseDuration(f.Period)
		if err != nil {
			return "", fmt.Errorf("link-flap period %q: %w", f.Period, err)
		}
		return fmt.Sprintf("%s flapped %d times", f.Target, f.Flaps), l.Flap(ctx, host, iface, f.Flaps, period)
	case scenario.FaultNetem:
		if err := needs("HOST[:IFACE]"); err != nil {
			return "", err
		}
		loss, delay, err := ParseNetem(f.Loss, f.Delay)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: loss %s%%, delay %s", f.Target, strconv.FormatFloat(loss, 'f', -1, 64), delay), l.Netem(host, iface, loss, delay)
	case scenario.FaultNetemClear:
		if err := needs("HOST[:IFACE]"); err != nil {
			return "", err
		}
		return f.Target + ": netem removed", l.NetemClear(host, iface)
	case scenario.FaultPartition:
		if len(f.Groups) != 2 || len(f.Groups[0]) == 0 || len(f.Groups[1]) == 0 {
			return "", errors.New("a partition takes two groups of hosts (partition A,B C,D)")
		}
		return fmt.Sprintf("partition %v | %v", f.Groups[0], f.Groups[1]), l.Partition(ctx, f.Groups[0], f.Groups[1])
	case scenario.FaultPartitionHeal:
		return "partitions healed", l.Heal(ctx)
	case KindKillPod:
		if err := needs("NAMESPACE/POD[/CONTAINER]"); err != nil {
			return "", err
		}
		n, err := l.signalPod(ctx, cs, f.Target, syscall.SIGKILL)
		return fmt.Sprintf("killed %d container process(es) of %s (SIGKILL); the node agent restarts them with back-off", n, f.Target), err
	case scenario.FaultKillSpeaker, scenario.FaultRestartSpeaker, scenario.FaultGracefulSpeaker:
		if err := needs("a node"); err != nil {
			return "", err
		}
		node := l.nodeName(host)
		p, err := SpeakerPod(ctx, cs, node)
		if err != nil {
			return "", err
		}
		switch f.Kind {
		case scenario.FaultKillSpeaker:
			_, err = l.signalPod(ctx, cs, p.Namespace+"/"+p.Name, syscall.SIGKILL)
		case scenario.FaultRestartSpeaker:
			_, err = l.signalPod(ctx, cs, p.Namespace+"/"+p.Name, syscall.SIGTERM)
		default:
			start := time.Now()
			if err := DeletePod(ctx, cs, p); err != nil {
				return "", err
			}
			np, err := WaitReplaced(ctx, cs, []corev1.Pod{*p}, node)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("deleted %s/%s on %s; %s ready %s later", p.Namespace, p.Name, host, np.Name, time.Since(start).Round(time.Millisecond)), nil
		}
		return fmt.Sprintf("%s %s/%s on %s", f.Kind, p.Namespace, p.Name, host), err
	case scenario.FaultRestartController:
		pods, err := ControllerPods(ctx, cs)
		if err != nil {
			return "", err
		}
		start := time.Now()
		for i := range pods {
			if err := DeletePod(ctx, cs, &pods[i]); err != nil {
				return "", err
			}
		}
		np, err := WaitReplaced(ctx, cs, pods, "")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("deleted controller pod %s; %s ready %s later", pods[0].Name, np.Name, time.Since(start).Round(time.Millisecond)), nil
	case scenario.FaultAPIServerDown:
		start := time.Now()
		if err := l.StopAPIServer(); err != nil {
			return "", err
		}
		return fmt.Sprintf("kube-apiserver stopped (took %s)", time.Since(start).Round(time.Millisecond)), nil
	case scenario.FaultAPIServerUp:
		start := time.Now()
		started, err := l.StartAPIServer()
		if err != nil {
			return "", err
		}
		if err := WaitAPIReady(ctx, cs); err != nil {
			return "", err
		}
		if !started {
			return "kube-apiserver was running", nil
		}
		return fmt.Sprintf("kube-apiserver started, ready after %s", time.Since(start).Round(time.Millisecond)), nil
	case scenario.FaultRestartAPIServer:
		if err := l.RestartAPIServer(); err != nil {
			return "", err
		}
		start := time.Now()
		if err := WaitAPIReady(ctx, cs); err != nil {
			return "", err
		}
		return fmt.Sprintf("kube-apiserver restarted, ready again after %s", time.Since(start).Round(time.Millisecond)), nil
	}
	return "", fmt.Errorf("unknown fault %q: want one of %s, %s", f.Kind, strings.Join(scenario.FaultKinds, ", "), KindKillPod)
}

// NodeNamer is what Hosts implement where Kubernetes names a host's node otherwise (Kind: the
// topology's worker is node LAB-worker).
type NodeNamer interface {
	NodeName(host string) string
}

// nodeName is host's Kubernetes node name.
func (l Lab) nodeName(host string) string {
	if nn, ok := l.Hosts.(NodeNamer); ok {
		return nn.NodeName(host)
	}
	return host
}

// signalPod signals a pod's container processes: the lab's process pods by their records, or,
// where the hosts are containers, the node runtime's containers by their cgroups.
func (l Lab) signalPod(ctx context.Context, cs kubernetes.Interface, target string, sig syscall.Signal) (int, error) {
	if l.Hosts != nil {
		return SignalContainers(ctx, cs, target, sig)
	}
	return l.SignalPod(target, sig)
}

// OnContainers says whether a fault can be done where the hosts are containers (Hosts): the
// host and link faults, those through the API server, the pods' (their containers' processes are
// found by cgroup), and, where the hosts meet on a switch the lab can filter (sw: Switch),
// partitions and loss.
func OnContainers(kind string, sw bool) bool {
	switch kind {
	case scenario.FaultNodeDown, scenario.FaultNodeUp, scenario.FaultRouterDown, scenario.FaultRouterUp,
		scenario.FaultLinkDown, scenario.FaultLinkUp, scenario.FaultLinkFlap,
		scenario.FaultGracefulSpeaker, scenario.FaultRestartController,
		scenario.FaultKillSpeaker, scenario.FaultRestartSpeaker, KindKillPod:
		return true
	case scenario.FaultPartition, scenario.FaultPartitionHeal, scenario.FaultNetem, scenario.FaultNetemClear:
		return sw
	}
	return false
}

// WaitAPIReady waits until the API server's /readyz answers ok.
func WaitAPIReady(ctx context.Context, cs kubernetes.Interface) error {
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver not ready again: %w", err)
	}
	return nil
}
