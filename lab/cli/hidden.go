package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/container"
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
