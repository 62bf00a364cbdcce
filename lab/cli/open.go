package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/portforward"
)

// NewOpenCommand returns `ironlab open svc/NAME [PORT]`.
func NewOpenCommand(s Streams) *cobra.Command {
	var name, from, path string
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "open svc/NAME [PORT]",
		Short: "Open a LoadBalancer Service in the host's browser (a port-forward on a free loopback port)",
		Long: `Forward a free port on the host's loopback to a LoadBalancer Service's address, dialled from a
lab client (as ironlab port-forward does), and open it in the browser of the person at the
keyboard: $BROWSER, or xdg-open; under sudo as the user who ran sudo. PORT is the Service's port
(default its first TCP port); https for 443 and 8443. Without a graphical session, or with
--no-browser, the URL is printed to open by hand. It serves until Ctrl-C.

  sudo ironlab open svc/web
  sudo ironlab open --name ing svc/traefik 80 --path /dashboard/`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := portforward.ParseTarget(args[0])
			if err != nil {
				return err
			}
			ports := portforward.Ports{}
			if len(args) == 2 {
				p, err := portforward.ParsePorts(args[1])
				if err != nil {
					return err
				}
				ports.Remote = p.Remote // the local port is always a free one
			}
			ctx := cmd.Context()
			return forward(ctx, s, forwardSpec{lab: name, from: from, address: "127.0.0.1", target: target, ports: ports,
				listening: func(ln net.Addr, upstream, from string, remote int) {
					url := portforward.URL(ln, remote, path)
					fmt.Fprintf(s.Out, "%s -> %s (Service %s, from lab host %s); Ctrl-C ends it\n", url, upstream, target, from)
					if noBrowser {
						return
					}
					if err := openBrowser(ctx, url); err != nil {
						fmt.Fprintf(s.Err, "open %s yourself: %v\n", url, err)
					}
				}})
		},
	}
	nameFlag(cmd, &name)
	cmd.Flags().StringVar(&from, "from", "", "the lab host the connections leave from (default: the topology's first client)")
	cmd.Flags().StringVar(&path, "path", "/", "the path to open")
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "print the URL, start no browser")
	return cmd
}

// openBrowser starts the browser in the background; it fails only when none can be started or
// it exits with an error at once.
func openBrowser(ctx context.Context, url string) error {
	argv, err := portforward.Browser(os.Getenv, exec.LookPath, os.Geteuid(), url)
	if err != nil {
		return err
	}
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if err := c.Start(); err != nil {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done: // xdg-open hands the URL over and exits
		if err != nil {
			return fmt.Errorf("%s: %w", argv[0], err)
		}
	case <-time.After(2 * time.Second): // a browser that stays: it has the page
	}
	return nil
}
