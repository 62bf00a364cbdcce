package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/faults"
	"github.com/ironlb/ironlb/lab/scenario"
)

// faultTimeout bounds `ironlab fault`: the faults that wait for a pod to be replaced or the API
// server to be ready give up after it.
const faultTimeout = 3 * time.Minute

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
			if lab, err := cluster.Open(name); err == nil {
				f = cluster.Faults(lab) // a kind lab's hosts are containers
			}
			ctx := cmd.Context()
			flt := scenario.Fault{Kind: args[0], Mode: mode, Loss: loss, Delay: delay, Flaps: flaps, Period: period}
			switch {
			case flt.Kind == scenario.FaultPartition:
				if len(args) != 3 {
					return fmt.Errorf("partition takes two groups: partition A,B C,D")
				}
				flt.Groups = [][]string{strings.Split(args[1], ","), strings.Split(args[2], ",")}
			case len(args) > 2:
				return fmt.Errorf("fault %s takes one target, not %d: see ironlab fault --help", args[0], len(args)-1)
			case len(args) == 2:
				flt.Target = args[1]
			}
			// The network and host faults need no API server; the others say so without one.
			var cs kubernetes.Interface
			if rc, err := clientcmd.BuildConfigFromFlags("", controlplane.KubeconfigPath(f.State)); err == nil {
				if c, err := kubernetes.NewForConfig(rc); err == nil {
					cs = c
				}
			}
			// Faults that wait (for a replaced pod, a ready API server) give up in the end.
			ctx, cancel := context.WithTimeout(ctx, faultTimeout)
			defer cancel()
			msg, err := f.Apply(ctx, cs, flt)
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
