package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/faults"
)

// NewFaultCommand returns `ironlab fault KIND TARGET`.
func NewFaultCommand(s Streams) *cobra.Command {
	var name, mode, loss, delay, period string
	var flaps int
	cmd := &cobra.Command{
		Use:   "fault KIND [TARGET...]",
		Short: "Break or mend part of a lab by hand: nodes, links, netem, partitions, speakers, the controller, the API server",
		Long: `Break or mend part of a lab, by hand (the scenario runner uses the same faults).

  node-down HOST          cut the host's switch ports, and with --mode
                            freeze (default): its node agent, kube-proxy and process pods frozen
                                    (SIGSTOP), as a hung machine;
                            kill:   every process of the node SIGKILLed (a hard failure);
                            stop:   a clean shutdown: pods get SIGTERM and their grace period.
  node-up HOST            mend it: thaw, or start the node agent and kube-proxy again (the agent
                          starts the node's pods), and bring the links up.
  router-down|router-up HOST   the same for a router (its daemons, when it runs any).
  link-down|link-up HOST[:IFACE]   one host's switch port(s) down or up (the cable pulled).
  link-flap HOST[:IFACE]  down and up --flaps times, each cycle --period long.
  netem HOST[:IFACE]      --loss 10% and/or --delay 50ms on the host's links, both ways.
  netem-clear HOST[:IFACE]
  partition A,B C,D       hosts A and B stop reaching C and D (and back) on the switch.
  partition-heal          remove every partition.
  kill-pod NS/POD[/CONTAINER]   SIGKILL a process pod's containers (the agent restarts them).
  kill-speaker NODE       SIGKILL the speaker on NODE; restart-speaker NODE: SIGTERM it (the
                          process restarts in its pod); graceful-restart-speaker NODE: delete its pod.
  restart-controller      delete the controller pod(s) (the Deployment makes new ones).
  restart-apiserver       stop the API server (SIGTERM) and start it again.
  apiserver-down          stop the API server and leave it stopped (what speakers and the
                          controller do without it); apiserver-up starts it again.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("ironlab fault needs root")
			}
			name, err := findLab(name)
			if err != nil {
				return err
			}
			f := faults.New(name, labDir(s, name))
			ctx := cmd.Context()
			target := func() (string, error) {
				if len(args) < 2 {
					return "", fmt.Errorf("fault %s needs a target: see ironlab fault --help", args[0])
				}
				return args[1], nil
			}
			msg, err := runFault(ctx, f, args[0], target, args, faultOptions{mode: mode, loss: loss, delay: delay, period: period, flaps: flaps})
			if err != nil {
				return err
			}
			fmt.Fprintln(s.Out, msg)
			return nil
		},
	}
	nameFlag(cmd, &name)
	cmd.Flags().StringVar(&mode, "mode", "freeze", "node-down, router-down: freeze, stop or kill")
	cmd.Flags().StringVar(&loss, "loss", "", "netem: packet loss, e.g. 10%")
	cmd.Flags().StringVar(&delay, "delay", "", "netem: added delay, e.g. 50ms")
	cmd.Flags().StringVar(&period, "period", "2s", "link-flap: one down/up cycle")
	cmd.Flags().IntVar(&flaps, "flaps", 3, "link-flap: cycles")
	return cmd
}

type faultOptions struct {
	mode, loss, delay, period string
	flaps                     int
}

func runFault(ctx context.Context, f faults.Lab, kind string, target func() (string, error), args []string, o faultOptions) (string, error) {
	hostIface := func() (string, string, error) {
		t, err := target()
		host, iface, _ := strings.Cut(t, ":")
		return host, iface, err
	}
	clientset := func() (kubernetes.Interface, error) {
		rc, err := clientcmd.BuildConfigFromFlags("", controlplane.KubeconfigPath(f.State))
		if err != nil {
			return nil, fmt.Errorf("lab %q: %w", f.Net.Prefix, err)
		}
		return kubernetes.NewForConfig(rc)
	}
	switch kind {
	case "node-down", "router-down":
		host, err := target()
		if err != nil {
			return "", err
		}
		if err := f.HostDown(host, o.mode); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s is down (%s): links cut, processes %s", host, o.mode,
			map[string]string{"freeze": "frozen", "stop": "stopped", "kill": "killed"}[o.mode]), nil
	case "node-up", "router-up":
		host, err := target()
		if err != nil {
			return "", err
		}
		m, err := f.HostUp(host)
		return host + " is up again" + m, err
	case "link-down", "link-up":
		host, iface, err := hostIface()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: links %s", args[1], strings.TrimPrefix(kind, "link-")), f.Links(host, iface, kind == "link-up")
	case "link-flap":
		host, iface, err := hostIface()
		if err != nil {
			return "", err
		}
		p, err := time.ParseDuration(o.period)
		if err != nil {
			return "", fmt.Errorf("--period: %w", err)
		}
		return fmt.Sprintf("%s flapped %d times", args[1], o.flaps), f.Flap(ctx, host, iface, o.flaps, p)
	case "netem":
		host, iface, err := hostIface()
		if err != nil {
			return "", err
		}
		loss, delay, err := faults.ParseNetem(o.loss, o.delay)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: loss %.1f%%, delay %s", args[1], loss, delay), f.Netem(host, iface, loss, delay)
	case "netem-clear":
		host, iface, err := hostIface()
		if err != nil {
			return "", err
		}
		return args[1] + ": netem removed", f.NetemClear(host, iface)
	case "partition":
		if len(args) != 3 {
			return "", fmt.Errorf("partition takes two groups: partition A,B C,D")
		}
		return fmt.Sprintf("partitioned %s from %s", args[1], args[2]), f.Partition(ctx, strings.Split(args[1], ","), strings.Split(args[2], ","))
	case "partition-heal":
		return "partitions healed", f.Heal(ctx)
	case "kill-pod":
		t, err := target()
		if err != nil {
			return "", err
		}
		n, err := f.SignalPod(t, syscall.SIGKILL)
		return fmt.Sprintf("killed %d container process(es) of %s (SIGKILL); the node agent restarts them with back-off", n, t), err
	case "kill-speaker", "restart-speaker", "graceful-restart-speaker":
		node, err := target()
		if err != nil {
			return "", err
		}
		cs, err := clientset()
		if err != nil {
			return "", err
		}
		p, err := faults.SpeakerPod(ctx, cs, node)
		if err != nil {
			return "", err
		}
		switch kind {
		case "kill-speaker":
			_, err = f.SignalPod(p.Namespace+"/"+p.Name, syscall.SIGKILL)
		case "restart-speaker":
			_, err = f.SignalPod(p.Namespace+"/"+p.Name, syscall.SIGTERM)
		default:
			err = faults.DeletePod(ctx, cs, p)
		}
		return fmt.Sprintf("%s: %s/%s on %s", kind, p.Namespace, p.Name, node), err
	case "restart-controller":
		cs, err := clientset()
		if err != nil {
			return "", err
		}
		pods, err := faults.ControllerPods(ctx, cs)
		if err != nil {
			return "", err
		}
		for i := range pods {
			if err := faults.DeletePod(ctx, cs, &pods[i]); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("deleted %d controller pod(s)", len(pods)), nil
	case "restart-apiserver":
		return "kube-apiserver restarted", f.RestartAPIServer()
	case "apiserver-down":
		return "kube-apiserver stopped (ironlab fault apiserver-up starts it)", f.StopAPIServer()
	case "apiserver-up":
		started, err := f.StartAPIServer()
		if err == nil && !started {
			return "kube-apiserver was running", nil
		}
		return "kube-apiserver started", err
	}
	return "", fmt.Errorf("unknown fault %q: see ironlab fault --help", kind)
}
