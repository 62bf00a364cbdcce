package cli

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/process"
)

// NewFaultCommand returns `ironlab fault KIND TARGET`.
func NewFaultCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "fault node-down|node-up HOST | kill-pod NAMESPACE/POD[/CONTAINER]",
		Short: "Break or mend part of a lab, by hand (node-down: its links cut and its processes frozen; kill-pod: SIGKILL a process pod's containers)",
		Args:  cobra.ExactArgs(2),
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
				if err := setLinks(l, host, false); err != nil {
					return err
				}
				if err := signalHost(recs, host, syscall.SIGSTOP); err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s is down: links cut, node agent, kube-proxy and process pods frozen\n", host)
			case "node-up":
				if err := signalHost(recs, host, syscall.SIGCONT); err != nil {
					return err
				}
				if err := setLinks(l, host, true); err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s is up again\n", host)
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
	return cmd
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
		if (r.Name == "node-"+host || r.Name == "kube-proxy-"+host || strings.HasPrefix(r.Name, "pod."+host+".")) && r.Alive() {
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
