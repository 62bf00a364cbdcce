package cli

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/portforward"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// NewPortForwardCommand returns `ironlab port-forward svc/NAME [LOCAL:]PORT`.
func NewPortForwardCommand(s Streams) *cobra.Command {
	var name, from, address string
	cmd := &cobra.Command{
		Use:   "port-forward svc/NAME [LOCAL:]PORT",
		Short: "Reach a LoadBalancer Service's address from the host (a browser), through a lab client",
		Long: `Listen on the host's loopback and forward each connection to a LoadBalancer Service's
external address, dialled from inside a lab host (by default the topology's first client), so
that a browser on the host can use the Service as a client of the lab would: through IronLB's
(or MetalLB's) announcement, kube-proxy and the pods. Nothing is routed from the host into the
lab. PORT is the Service's port; LOCAL the port on 127.0.0.1 (default the same; 0 picks one).

  sudo ironlab port-forward svc/web 8080:80     # then open http://127.0.0.1:8080/`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := portforward.ParseTarget(args[0])
			if err != nil {
				return err
			}
			ports, err := portforward.ParsePorts(args[1])
			if err != nil {
				return err
			}
			return forward(cmd.Context(), s, forwardSpec{lab: name, from: from, address: address, target: target, ports: ports,
				listening: func(ln net.Addr, upstream, from string, _ int) {
					fmt.Fprintf(s.Out, "Forwarding from %s -> %s (Service %s, from lab host %s); Ctrl-C ends it\n", ln, upstream, target, from)
				}})
		},
	}
	nameFlag(cmd, &name)
	cmd.Flags().StringVar(&from, "from", "", "the lab host the connections leave from (default: the topology's first client)")
	cmd.Flags().StringVar(&address, "address", "127.0.0.1", "the host address to listen on (loopback by default; other addresses expose the Service beyond this machine)")
	return cmd
}

// forwardSpec is one port-forward: a Service's port, reached from a lab host, on a host address.
type forwardSpec struct {
	lab, from, address string
	target             portforward.Target
	ports              portforward.Ports
	// listening is told the listener's address, the upstream address and the lab host once
	// connections are accepted.
	listening func(ln net.Addr, upstream, from string, remotePort int)
}

// forward serves a port-forward until ctx ends (port-forward and open).
func forward(ctx context.Context, s Streams, f forwardSpec) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("ironlab needs root to forward a port (it dials from inside a lab namespace): run it with sudo")
	}
	name, err := findLab(f.lab)
	if err != nil {
		return err
	}
	dir := labDir(s, name)
	from := f.from
	if from == "" {
		if from, err = firstClient(dir); err != nil {
			return fmt.Errorf("lab %q: %w (name a host with --from)", name, err)
		}
	}
	rc, err := clientcmd.BuildConfigFromFlags("", controlplane.KubeconfigPath(dir))
	if err != nil {
		return fmt.Errorf("lab %q: %w", name, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	addr, remote, err := serviceAddress(ctx, cs, f.target, f.ports.Remote)
	if err != nil {
		return err
	}
	upstream := net.JoinHostPort(addr.String(), strconv.Itoa(remote))
	ln, err := net.Listen("tcp", net.JoinHostPort(f.address, strconv.Itoa(f.ports.Local)))
	if err != nil {
		return fmt.Errorf("listen on %s:%d: %w", f.address, f.ports.Local, err)
	}
	lab := labNet(name)
	dial := func(ctx context.Context) (net.Conn, error) {
		var c net.Conn
		err := lab.Do(from, func() error {
			d := net.Dialer{Timeout: 5 * time.Second}
			var err error
			c, err = d.DialContext(ctx, "tcp", upstream)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("dial %s from lab host %s: %w", upstream, from, err)
		}
		return c, nil
	}
	f.listening(ln.Addr(), upstream, from, remote)
	return portforward.Serve(ctx, ln, dial, func(err error) { fmt.Fprintf(s.Err, "port-forward: %v\n", err) })
}

// firstClient is the first host of kind client in the lab's topology.
func firstClient(dir string) (string, error) {
	rec, err := state.Read(dir)
	if err != nil {
		return "", fmt.Errorf("read the lab's record: %w", err)
	}
	if rec.Topology == "" {
		return "", fmt.Errorf("it was brought up without a topology, so it has no client host")
	}
	top, err := topology.Load(rec.Topology)
	if err != nil {
		return "", err
	}
	for _, n := range top.Nodes {
		if n.Kind == topology.KindClient {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("topology %s has no client host", rec.Topology)
}

// serviceAddress is the first load-balancer address of the Service and the port to forward: port,
// or when it is 0 the Service's first TCP port.
func serviceAddress(ctx context.Context, cs kubernetes.Interface, t portforward.Target, port int) (netip.Addr, int, error) {
	svc, err := cs.CoreV1().Services(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("service %s: %w", t, err)
	}
	if port == 0 {
		for _, p := range svc.Spec.Ports {
			if p.Protocol == corev1.ProtocolTCP || p.Protocol == "" {
				port = int(p.Port)
				break
			}
		}
		if port == 0 {
			return netip.Addr{}, 0, fmt.Errorf("service %s has no TCP port to forward", t)
		}
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			return a, port, nil
		}
	}
	return netip.Addr{}, 0, fmt.Errorf("service %s (type %s) %w: `ironlab kubectl -- get svc -n %s %s` shows its EXTERNAL-IP", t, svc.Spec.Type, portforward.ErrNoAddress, t.Namespace, t.Name)
}
