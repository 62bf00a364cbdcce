package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/faults"
	"github.com/ironlb/ironlb/lab/process"
)

// printPods lists pods with their node, IP, phase, readiness, restarts and, for process pods,
// the PIDs of their containers.
func printPods(w io.Writer, pods []corev1.Pod, containers []process.Record) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "NAMESPACE\tPOD\tNODE\tIP\tPHASE\tREADY\tRESTARTS\tPID")
	for _, p := range pods {
		ready, restarts := 0, int32(0)
		for _, c := range p.Status.ContainerStatuses {
			if c.Ready {
				ready++
			}
			restarts += c.RestartCount
		}
		var pids []string
		for _, r := range containers {
			c, ok := faults.ParseContainerRecord(r.Name)
			if ok && c.Node == p.Spec.NodeName && c.Namespace == p.Namespace && c.Pod == p.Name && r.Alive() {
				pids = append(pids, strconv.Itoa(r.PID))
			}
		}
		pid := "-" // echo server in the node agent
		if len(pids) > 0 {
			pid = strings.Join(pids, ",")
		}
		node, ip := p.Spec.NodeName, p.Status.PodIP
		if node == "" {
			node = "<unscheduled>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\n", p.Namespace, p.Name, node, ip, p.Status.Phase,
			ready, len(p.Spec.Containers), restarts, pid)
	}
}

// NewStatusCommand returns `ironlab status`.
func NewStatusCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a lab's processes, whether its API server answers, and its pods (with PIDs of process pods)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, err := findLab(name)
			if err != nil {
				return err
			}
			state := labDir(s, name)
			recs, err := process.List(controlplane.RunDir(state))
			if err != nil || len(recs) == 0 {
				fmt.Fprintf(s.Out, "lab %q is not up\n", name)
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COMPONENT\tPID\tSTATE\tLOG")
			var containers []process.Record
			for _, r := range recs {
				if strings.HasPrefix(r.Name, "pod.") {
					containers = append(containers, r)
					continue
				}
				st := "running"
				if !r.Alive() {
					st = "gone"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s/%s.log\n", r.Name, r.PID, st, controlplane.LogDir(state), r.Name)
			}
			tw.Flush()
			cfg, err := clientcmd.BuildConfigFromFlags("", controlplane.KubeconfigPath(state))
			if err != nil {
				return fmt.Errorf("read kubeconfig: %w", err)
			}
			cfg.Timeout = 3 * time.Second
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			body, err := kubernetes.NewForConfigOrDie(cfg).Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			if err != nil {
				fmt.Fprintf(s.Out, "\nAPI server %s: not ready: %v\n", cfg.Host, err)
				return nil
			}
			fmt.Fprintf(s.Out, "\nAPI server %s: %s\n", cfg.Host, body)
			pods, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("list pods: %w", err)
			}
			fmt.Fprintln(s.Out)
			printPods(s.Out, pods.Items, containers)
			return nil
		},
	}
	nameFlag(cmd, &name)
	return cmd
}
