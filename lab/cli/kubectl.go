package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/controlplane"
)

// NewKubectlCommand returns `ironlab kubectl -- ARGS`: the lab's kubectl with its kubeconfig.
func NewKubectlCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "kubectl -- ARGS...",
		Short: "Run kubectl (the one built with the control plane) against a lab",
		RunE: func(_ *cobra.Command, args []string) error {
			name, err := findLab(name)
			if err != nil {
				return err
			}
			kc := controlplane.KubeconfigPath(labDir(s, name))
			if _, err := os.Stat(kc); err != nil {
				return fmt.Errorf("lab %q is not up (no %s): `ironlab get labs` lists the labs", name, kc)
			}
			c := exec.Command(filepath.Join(controlplane.BinDir(), "kubectl"), args...)
			c.Env = append(os.Environ(), "KUBECONFIG="+kc)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, s.Out, s.Err
			if err := passExit(c.Run()); err != nil {
				if _, ok := err.(exitStatus); ok {
					return err
				}
				return fmt.Errorf("kubectl: %w", err)
			}
			return nil
		},
	}
	nameFlag(cmd, &name)
	return cmd
}

// NewLogsCommand returns `ironlab logs COMPONENT`.
func NewLogsCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "logs COMPONENT | NAMESPACE/POD[/CONTAINER]",
		Short: "Print a lab component's log (etcd, kube-apiserver, node-worker, ...) or a process pod container's",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name, err := findLab(name)
			if err != nil {
				return err
			}
			logDir := controlplane.LogDir(labDir(s, name))
			path := filepath.Join(logDir, args[0]+".log")
			if parts := strings.Split(args[0], "/"); len(parts) == 2 || len(parts) == 3 {
				pattern := fmt.Sprintf("pod.*.%s.%s.*.log", parts[0], parts[1])
				if len(parts) == 3 {
					pattern = fmt.Sprintf("pod.*.%s.%s.%s.log", parts[0], parts[1], parts[2])
				}
				matches, _ := filepath.Glob(filepath.Join(logDir, pattern))
				switch {
				case len(matches) == 0:
					return fmt.Errorf("no container log for %s in lab %q (only process pods have logs; echo pods log nothing)", args[0], name)
				case len(matches) > 1:
					return fmt.Errorf("pod %s has %d containers: name one, %s/CONTAINER", args[0], len(matches), args[0])
				}
				path = matches[0]
			}
			f, err := os.Open(path)
			if err != nil {
				files, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
				return fmt.Errorf("no log for %q in lab %q (have: %v)", args[0], name, files)
			}
			defer f.Close()
			_, err = io.Copy(s.Out, f)
			return err
		},
	}
	nameFlag(cmd, &name)
	return cmd
}
