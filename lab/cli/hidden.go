package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/container"
	"github.com/ironlb/ironlb/lab/kind"
	"github.com/ironlb/ironlb/lab/kind/engine"
	"github.com/ironlb/ironlb/lab/kind/kindnet"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/router"
)

// newNSExecCommand is `ironlab __nsexec NSPATH -- CMD...`: the lab starts its processes in a
// host's namespace through it (the process keeps the PID, so it is recorded as itself).
func newNSExecCommand() *cobra.Command {
	return &cobra.Command{
		Use:    cluster.CmdNSExec + " NSPATH -- CMD...",
		Hidden: true,
		Args:   cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			return netns.ExecIn(args[0], args[1:])
		},
	}
}

// newContainerCommand is `ironlab __container [--netns P] [--mount ro|rw:SRC:DST]... [--dir D] -- CMD...`:
// the node agent starts each container of a process pod through it, in a new mount namespace.
func newContainerCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "__container ARGS -- CMD...",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			spec, err := container.ParseArgs(args)
			if err != nil {
				return err
			}
			return container.Exec(spec, os.Environ())
		},
	}
}

// newForwardCommand is `ironlab __forward LISTEN NSPATH TARGET`: the host's loopback way into a
// lab's API server.
func newForwardCommand() *cobra.Command {
	return &cobra.Command{
		Use:    cluster.CmdForward + " LISTEN NSPATH TARGET",
		Hidden: true,
		Args:   cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			err := netns.Forward(args[0], args[1], args[2])
			if err == nil {
				err = errors.New("forwarder stopped")
			}
			return err
		},
	}
}

// newRouterCommand is `ironlab __router CONFIG.json`: a lab router of type gobgp, started in the
// router's namespace by `ironlab up`.
func newRouterCommand() *cobra.Command {
	return &cobra.Command{
		Use:    cluster.CmdRouter + " CONFIG",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var c router.Config
			if err := json.Unmarshal(data, &c); err != nil {
				return fmt.Errorf("router config %s: %w", args[0], err)
			}
			c.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return router.Run(ctx, c)
		},
	}
}

// newKindnetCommand is `ironlab __kindnet`: the pod network of the Kind provider's clusters, run
// by a DaemonSet from the ironlab image (lab/kind/kindnet). It needs NODE_NAME (the downward
// API), the node's network (hostNetwork, NET_ADMIN) and its /etc/cni/net.d.
func newKindnetCommand() *cobra.Command {
	confDir := "/etc/cni/net.d"
	cmd := &cobra.Command{
		Use:    kind.CmdKindnet,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			node := os.Getenv("NODE_NAME")
			if node == "" {
				return errors.New("NODE_NAME is not set: the DaemonSet sets it from spec.nodeName")
			}
			rc, err := rest.InClusterConfig()
			if err != nil {
				return fmt.Errorf("in-cluster configuration: %w", err)
			}
			cs, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			return kindnet.Run(ctx, cs, node, confDir, kindnet.Netlink{}, 10*time.Second, log)
		},
	}
	cmd.Flags().StringVar(&confDir, "cni-conf-dir", confDir, "where the CNI configuration is written")
	return cmd
}

// newKindEngineCommand is `ironlab __kind-engine start|stop|run`: the Kind provider's Docker
// engine (lab/kind/engine), by hand and for `make kind-node-image`. start prints DOCKER_HOST;
// stop refuses while a lab's containers are in it, or with --if-idle leaves it running then;
// `run -- CMD ARGS` runs CMD ARGS DOCKER_HOST with the engine started and locked, so no lab's
// down stops it meanwhile, and stops it after unless a lab uses it.
func newKindEngineCommand() *cobra.Command {
	ifIdle := false
	cmd := &cobra.Command{
		Use:       kind.CmdEngine + " start|stop|run -- CMD ARGS",
		Hidden:    true,
		Args:      cobra.MinimumNArgs(1),
		ValidArgs: []string{"start", "stop", "run"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "run" && len(args) > 1 {
				return fmt.Errorf("%s %s: no arguments after it", kind.CmdEngine, args[0])
			}
			switch args[0] {
			case "run":
				if len(args) < 2 {
					return fmt.Errorf("%s run: the command to run is missing", kind.CmdEngine)
				}
				self, err := os.Executable()
				if err != nil {
					return err
				}
				progress := func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) }
				// Interrupted, the command is ended and the engine stopped as after its end.
				ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				return kind.WithEngine(self, progress, func(host string) error {
					c := exec.CommandContext(ctx, args[1], append(args[2:], host)...)
					c.WaitDelay = 10 * time.Second
					c.Stdin, c.Stdout, c.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
					if err := c.Run(); err != nil {
						return fmt.Errorf("%s: %w", strings.Join(args[1:], " "), err)
					}
					return nil
				})
			case "start":
				unlock, err := engine.Lock()
				if err != nil {
					return err
				}
				defer unlock()
				if err := engine.Start(kind.Runtime(""), func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) }); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), engine.Host())
				return nil
			case "stop":
				err := kind.StopEngine()
				if errors.Is(err, kind.ErrEngineInUse) && ifIdle {
					return nil
				}
				return err
			}
			return fmt.Errorf("%s %s: want start, stop or run", kind.CmdEngine, args[0])
		},
	}
	cmd.Flags().BoolVar(&ifIdle, "if-idle", false, "stop: leave an engine that labs use running, without an error")
	return cmd
}

// newEchoCommand is `ironlab __echo`: the echo server of a Kind lab's Deployments (lab/kind).
func newEchoCommand() *cobra.Command {
	return &cobra.Command{
		Use:    kind.CmdEcho,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return kind.Echo(ctx)
		},
	}
}

// newHoldCommand is `ironlab __hold`: a Kind lab's client container runs it, to hold its
// network namespace until it is stopped.
func newHoldCommand() *cobra.Command {
	return &cobra.Command{
		Use:    kind.CmdHold,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
}
