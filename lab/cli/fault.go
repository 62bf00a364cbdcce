package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/process"
)

// NewFaultCommand returns `ironlab fault KIND TARGET`.
func NewFaultCommand(s Streams) *cobra.Command {
	var name, mode string
	cmd := &cobra.Command{
		Use:   "fault node-down|node-up HOST | kill-pod NAMESPACE/POD[/CONTAINER]",
		Short: "Break or mend part of a lab, by hand (node-down: its links cut and its processes frozen, stopped or killed; kill-pod: SIGKILL a process pod's containers)",
		Long: `Break or mend part of a lab.

  node-down HOST   cut the host's switch ports, and with --mode
                     freeze (default): freeze its node agent, kube-proxy and process pods (SIGSTOP),
                                       as a hung machine;
                     stop:   shut the node down: its pods' containers get SIGTERM and their grace
                             period, then the agent and kube-proxy stop; then the links go down;
                     kill:   a hard failure: links down and every process of the node SIGKILLed.
  node-up HOST     mend it: thaw frozen processes, or start the node agent and kube-proxy again
                   (the agent starts the node's pods again), and bring the links up.
  kill-pod NS/POD[/CONTAINER]  SIGKILL a process pod's containers (the agent restarts them).`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("ironlab fault needs root")
			}
			kind, host := args[0], args[1]
			l := netns.Lab{Prefix: name}
			recs, err := process.List(controlplane.RunDir(StateDir(name)))
			if err != nil || len(recs) == 0 {
				return fmt.Errorf("lab %q is not up", name)
			}
			switch kind {
			case "node-down":
				if err := nodeDown(l, StateDir(name), recs, host, mode); err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s is down (%s): links cut, node agent, kube-proxy and process pods %s\n", host, mode,
					map[string]string{"freeze": "frozen", "stop": "stopped", "kill": "killed"}[mode])
			case "node-up":
				restarted, err := nodeUp(l, StateDir(name), recs, host)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s is up again%s\n", host, restarted)
			case "kill-pod":
				n, err := killPod(recs, host)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "killed %d container process(es) of %s (SIGKILL); the node agent restarts them with back-off\n", n, host)
			default:
				return fmt.Errorf("unknown fault %q: known faults: node-down, node-up, kill-pod", kind)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", DefaultLabName, "lab name")
	cmd.Flags().StringVar(&mode, "mode", "freeze", "node-down: freeze, stop or kill the node's processes")
	return cmd
}

// nodeProcess reports whether a recorded process runs in a host: its node agent, kube-proxy, or
// a container of its process pods.
func nodeProcess(r process.Record, host string) bool {
	return r.Name == "node-"+host || r.Name == "kube-proxy-"+host || strings.HasPrefix(r.Name, "pod."+host+".")
}

func nodeDown(l netns.Lab, state string, recs []process.Record, host, mode string) error {
	run := controlplane.RunDir(state)
	switch mode {
	case "freeze":
		if err := setLinks(l, host, false); err != nil {
			return err
		}
		return signalHost(recs, host, syscall.SIGSTOP)
	case "kill":
		if err := setLinks(l, host, false); err != nil {
			return err
		}
		// The agent first, so that it does not restart the containers killed after it.
		slices.SortStableFunc(recs, func(a, b process.Record) int {
			return boolRank(b.Name == "node-"+host) - boolRank(a.Name == "node-"+host)
		})
		n := 0
		for _, r := range recs {
			if nodeProcess(r, host) && r.Alive() {
				if strings.HasPrefix(r.Name, "pod.") {
					_ = syscall.Kill(-r.PID, syscall.SIGKILL) // the container's whole process group
				}
				if err := process.Kill(run, r); err != nil {
					return err
				}
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("no running node processes of %q", host)
		}
		return nil
	case "stop":
		// The agent stops its pods with their grace periods before it exits.
		for _, r := range recs {
			if r.Name == "node-"+host {
				if err := process.Stop(run, r, 2*time.Minute); err != nil {
					return err
				}
			}
		}
		after, _ := process.List(run)
		for _, r := range after {
			if nodeProcess(r, host) {
				if err := process.Stop(run, r, 5*time.Second); err != nil {
					return err
				}
			}
		}
		return setLinks(l, host, false)
	}
	return fmt.Errorf("--mode %q: want freeze, stop or kill", mode)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nodeUp thaws a frozen node, or starts a stopped one's agent and kube-proxy again.
func nodeUp(l netns.Lab, state string, recs []process.Record, host string) (string, error) {
	run, logs := controlplane.RunDir(state), controlplane.LogDir(state)
	alive := false
	for _, r := range recs {
		alive = alive || (r.Name == "node-"+host && r.Alive())
	}
	msg := ""
	if alive {
		if err := signalHost(recs, host, syscall.SIGCONT); err != nil {
			return "", err
		}
	} else {
		for _, n := range []string{"node-" + host, "kube-proxy-" + host} {
			if _, err := process.Restart(run, logs, n); err != nil {
				return "", err
			}
		}
		msg = ": node agent and kube-proxy started again (the agent starts the node's pods)"
	}
	return msg, setLinks(l, host, true)
}

// setLinks brings every switch port of a host down or up (the host's side stays as it is, as
// when a cable is pulled). Switch ports carry the alias HOST:IFACE.
func setLinks(l netns.Lab, host string, up bool) error {
	if _, err := os.Stat(l.Path(host)); err != nil {
		return fmt.Errorf("no host %q in lab %q", host, l.Prefix)
	}
	n := 0
	err := l.Do(nsbackend.SwitchHost, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, link := range links {
			if !strings.HasPrefix(link.Attrs().Alias, host+":") {
				continue
			}
			if up {
				err = netlink.LinkSetUp(link)
			} else {
				err = netlink.LinkSetDown(link)
			}
			if err != nil {
				return fmt.Errorf("set %s (%s): %w", link.Attrs().Name, link.Attrs().Alias, err)
			}
			n++
		}
		return nil
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("host %q has no switch ports", host)
	}
	return err
}

// signalHost signals the lab processes that run in a host: its node agent, kube-proxy and the
// containers of its process pods.
func signalHost(recs []process.Record, host string, sig syscall.Signal) error {
	n := 0
	for _, r := range recs {
		if nodeProcess(r, host) && r.Alive() {
			if err := syscall.Kill(r.PID, sig); err != nil {
				return fmt.Errorf("signal %s: %w", r.Name, err)
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no running node processes of %q", host)
	}
	return nil
}

// killPod sends SIGKILL to the running container processes of a process pod, given as
// NAMESPACE/POD or NAMESPACE/POD/CONTAINER.
func killPod(recs []process.Record, target string) (int, error) {
	parts := strings.Split(target, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("kill-pod %q: want NAMESPACE/POD or NAMESPACE/POD/CONTAINER", target)
	}
	n := 0
	for _, r := range recs {
		c, ok := parseContainerRecord(r.Name)
		if !ok || c.namespace != parts[0] || c.pod != parts[1] || (len(parts) == 3 && c.container != parts[2]) || !r.Alive() {
			continue
		}
		if err := syscall.Kill(-r.PID, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return n, fmt.Errorf("kill %s: %w", r.Name, err)
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("no running container process of %s (only process pods have processes; see ironlab status)", target)
	}
	return n, nil
}

// containerRecord is what the name of a process pod container's record says.
type containerRecord struct{ node, namespace, pod, container string }

// parseContainerRecord reads pod.NODE.NAMESPACE.POD.CONTAINER (node, namespace and container
// names have no dots; a pod name may).
func parseContainerRecord(name string) (containerRecord, bool) {
	rest, ok := strings.CutPrefix(name, "pod.")
	if !ok {
		return containerRecord{}, false
	}
	f := strings.SplitN(rest, ".", 3)
	i := strings.LastIndexByte(rest, '.')
	if len(f) != 3 || i <= len(f[0])+len(f[1])+2 {
		return containerRecord{}, false
	}
	return containerRecord{node: f[0], namespace: f[1], pod: rest[len(f[0])+len(f[1])+2 : i], container: rest[i+1:]}, true
}
