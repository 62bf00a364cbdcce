// Package state owns where labs keep their state: one directory per lab under a fixed root, the
// lab's record in it (lab.json: its topology, implementation, nodes, when it was made), the list
// of labs, and which lab a command means when it is not named. Every other package gets a lab's
// directory from here; what lies inside it (run/, logs/, kubeconfig, ...) is the control plane's
// (lab/controlplane) and the node agent's.
//
// The root does not depend on the working directory, so that every command finds every lab
// wherever it runs. It is /var/lib/ironlab for root, as container engines keep their state
// (/var/lib/docker, /var/lib/containerd, /var/lib/containers): on disk, not in /run, because a
// lab's etcd alone takes over 100 MiB and /run is a tmpfs in memory, often capped at 10-20% of
// it. Labs need root for their network; a user without root (a control plane alone) gets
// $XDG_STATE_HOME/ironlab, ~/.local/state/ironlab by default, as rootless Podman keeps its state
// under the user's home. $IRONLAB_STATE_DIR overrides both (tests, labs of a CI job).
//
// Older ironlab versions kept a lab's state in .ironlab/NAME under the directory `ironlab up`
// ran in (LegacyRoot). Those labs are still found there, by name and from that directory only,
// so that they can be used and torn down (`ironlab down --name NAME`); a new `ironlab up` puts
// nothing there.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EnvRoot names the variable that overrides the state root.
const EnvRoot = "IRONLAB_STATE_DIR"

// SystemRoot is the state root of labs made by root.
const SystemRoot = "/var/lib/ironlab"

// LegacyRoot is where ironlab versions before the fixed root kept labs: relative to the
// directory `ironlab up` ran in.
const LegacyRoot = ".ironlab"

// recordFile is the lab's record in its directory.
const recordFile = "lab.json"

// Root is the state root of this process: $IRONLAB_STATE_DIR (made absolute), SystemRoot for
// root, $XDG_STATE_HOME/ironlab or ~/.local/state/ironlab for other users.
func Root() string {
	return root(os.Getenv, os.Geteuid(), os.UserHomeDir)
}

func root(getenv func(string) string, euid int, home func() (string, error)) string {
	if d := getenv(EnvRoot); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	if euid == 0 {
		return SystemRoot
	}
	if x := getenv("XDG_STATE_HOME"); filepath.IsAbs(x) { // the spec ignores a relative one
		return filepath.Join(x, "ironlab")
	}
	h, err := home()
	if err != nil || h == "" {
		return filepath.Join(os.TempDir(), "ironlab-"+strconv.Itoa(euid))
	}
	return filepath.Join(h, ".local", "state", "ironlab")
}

// Dir is the state directory of lab name under root.
func Dir(root, name string) string { return filepath.Join(root, name) }

// Locate is the state directory of lab name: under root; or, when there is none there but the
// working directory holds one of an older ironlab (LegacyRoot), that one (absolute), with legacy
// set; or, for a lab that does not exist, the one under root.
func Locate(root, name string) (dir string, legacy bool) {
	dir = Dir(root, name)
	if _, err := os.Stat(dir); err == nil {
		return dir, false
	}
	old, err := filepath.Abs(Dir(LegacyRoot, name))
	if err != nil {
		return dir, false
	}
	if st, err := os.Stat(old); err == nil && st.IsDir() {
		return old, true
	}
	return dir, false
}

// Record is what a lab's directory says about it. `ironlab up` writes it before it creates
// anything, so a lab that failed half-way has one too.
type Record struct {
	Name string `json:"name"`
	// Topology is the topology file (absolute); empty for a control plane alone.
	Topology string `json:"topology,omitempty"`
	// Implementation is the load balancer installed: ironlb, metallb or none.
	Implementation string `json:"implementation,omitempty"`
	// Nodes counts the lab's Kubernetes nodes.
	Nodes int `json:"nodes"`
	// Created is when `ironlab up` started.
	Created time.Time `json:"created"`
	// Version is the version of the ironlab that made the lab.
	Version string `json:"version,omitempty"`
	// Provider made the lab's hosts: netns (empty, the default) or kind.
	Provider string `json:"provider,omitempty"`
	// NodeHosts maps the Kubernetes node names of a kind lab to the topology's hosts
	// (l2-worker is worker); a netns lab's nodes are named as its hosts.
	NodeHosts map[string]string `json:"nodeHosts,omitempty"`
	// KindEngine is the socket of the Docker engine a kind lab runs in when it is not the lab's
	// own (lab/kind/engine); KindNodeImage is its Kind node image.
	KindEngine    string `json:"kindEngine,omitempty"`
	KindNodeImage string `json:"kindNodeImage,omitempty"`
}

// The layout of a lab's directory: these functions are the one place that spells it (the
// control plane, node agents, routers and the CLI all ask them).

// RunDir holds the pid files of the lab's processes.
func RunDir(dir string) string { return filepath.Join(dir, "run") }

// LogDir holds one log per process.
func LogDir(dir string) string { return filepath.Join(dir, "logs") }

// KubeconfigPath is the lab's admin kubeconfig.
func KubeconfigPath(dir string) string { return filepath.Join(dir, "kubeconfig") }

// InLabKubeconfigPath is the admin kubeconfig that reaches the API server at its address inside
// the lab (for programs run in a lab host, such as make conformance's e2e.test).
func InLabKubeconfigPath(dir string) string {
	return filepath.Join(KubeconfigsDir(dir), "admin-in-lab.kubeconfig")
}

// KindKubeconfigPath is the kubeconfig Kind writes for a lab on the kind provider (and locks);
// the lab's own (KubeconfigPath) names the forwarded loopback port instead.
func KindKubeconfigPath(dir string) string { return filepath.Join(dir, "kind-kubeconfig") }

// KubeconfigsDir holds the kubeconfigs of the lab's components and nodes.
func KubeconfigsDir(dir string) string { return filepath.Join(dir, "kubeconfigs") }

// PKIDir holds the lab's certificate authority, certificates and keys.
func PKIDir(dir string) string { return filepath.Join(dir, "pki") }

// EtcdDir is etcd's data directory.
func EtcdDir(dir string) string { return filepath.Join(dir, "etcd") }

// PodDir is where a process pod's volumes go (by the pod's UID).
func PodDir(dir, uid string) string { return filepath.Join(dir, "pods", uid) }

// ImagesPath is the lab's image map: which container images run which binaries (a JSON list of
// topology.Image, resolved). `ironlab up` writes it and the node agents read it when they start.
func ImagesPath(dir string) string { return filepath.Join(dir, "images.json") }

// RouterDir is where a lab router keeps its configuration, sockets and rib.json.
func RouterDir(dir, router string) string { return filepath.Join(dir, "routers", router) }

// Write makes a lab's directory and writes its record.
func Write(dir string, r Record) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make the lab's state directory: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, recordFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the lab's record: %w", err)
	}
	return nil
}

// Read reads a lab's record.
func Read(dir string) (Record, error) {
	var r Record
	data, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, recordFile), err)
	}
	return r, nil
}

// Lab is one lab found under a root.
type Lab struct {
	Name string
	Dir  string
	// Record is nil when the directory has none (a lab of an older ironlab) or it is unreadable.
	Record *Record
	// Modified is the directory's modification time, the lab's age when it has no record.
	Modified time.Time
}

// List returns the labs under root (every directory there), by name. A root that does not
// exist holds no labs.
func List(root string) ([]Lab, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	var labs []Lab
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		l := Lab{Name: e.Name(), Dir: filepath.Join(root, e.Name())}
		if info, err := e.Info(); err == nil {
			l.Modified = info.ModTime()
		}
		if r, err := Read(l.Dir); err == nil {
			l.Record = &r
		}
		labs = append(labs, l)
	}
	return labs, nil // os.ReadDir sorts by name
}

// Names are the names of labs.
func Names(labs []Lab) []string {
	out := make([]string, len(labs))
	for i, l := range labs {
		out[i] = l.Name
	}
	return out
}

// Known are the names of every lab this process can find: under root, and of an older ironlab
// in the working directory's LegacyRoot.
func Known(root string) []string {
	var names []string
	for _, r := range []string{root, LegacyRoot} {
		labs, _ := List(r)
		names = append(names, Names(labs)...)
	}
	return names
}

// ErrNoLab is returned by Choose when no lab is named and none is up.
var ErrNoLab = errors.New("no lab is up")

// ErrSeveralLabs is returned by Choose when no lab is named and several are up.
var ErrSeveralLabs = errors.New("several labs are up")

// Choose is the lab a command acts on: the one named (--name), whether it is up or not (the
// command says so), or else the only lab up. labs are the names of the labs up.
func Choose(named string, labs []string) (string, error) {
	if named != "" {
		return named, nil
	}
	switch len(labs) {
	case 0:
		return "", ErrNoLab
	case 1:
		return labs[0], nil
	}
	sorted := slices.Sorted(slices.Values(labs))
	return "", fmt.Errorf("%w (%s): name one with --name", ErrSeveralLabs, strings.Join(sorted, ", "))
}
