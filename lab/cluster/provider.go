package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"

	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
	"github.com/ironlb/ironlb/lab/kind"
	"github.com/ironlb/ironlb/lab/kind/engine"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// Provider makes a lab's hosts and the network between them, as Kind's providers make its nodes
// with docker, podman or nerdctl. The one here builds them as network namespaces on this host;
// everything above the network (control plane, node agents, routers, the load balancer) is the
// same whatever the provider.
type Provider interface {
	// Name names the provider (netns).
	Name() string
	// Create builds every host and link of the topology, for lab name.
	Create(top *topology.Topology, name string, progress func(string)) error
	// Delete removes every host and link of lab name, also after a failed Create or a crash, and
	// nothing of another lab.
	Delete(name string) error
	// Exists says whether anything of lab name's hosts is there.
	Exists(name string) (bool, error)
}

func defaultProvider() Provider { return netnsProvider{} }

// The providers by name.
const (
	ProviderNetns = "netns"
	ProviderKind  = "kind"
)

// KindOptions are the kind provider's settings (ironlab's --kind-engine and --kind-node-image).
type KindOptions struct {
	// Engine is the Docker engine: "" or own (the lab's own, started and stopped by it), host
	// (the host's, at DOCKER_HOST or Docker's default socket), or unix:///PATH (lab/kind/engine).
	Engine string
	// NodeImage is Kind's node image; default the one `make kind-node-image` builds in the lab's
	// own engine, Kind's kindest/node in another.
	NodeImage string
}

// ProviderNamed is the provider of a name (--provider): netns (default) or kind, with kind's
// settings; they are refused for netns.
func ProviderNamed(name string, k KindOptions) (Provider, error) {
	switch name {
	case "", ProviderNetns:
		if (k.Engine != "" && k.Engine != "own") || k.NodeImage != "" {
			return nil, fmt.Errorf("--kind-engine and --kind-node-image are for --provider kind")
		}
		return netnsProvider{}, nil
	case ProviderKind:
		socket, err := engine.Parse(k.Engine, os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("--kind-engine: %w", err)
		}
		return kindProvider{engine: socket, nodeImage: k.NodeImage}, nil
	}
	return nil, fmt.Errorf("provider %q: want netns or kind", name)
}

// providerOf is the provider that made lab name, from its record.
func providerOf(name string) Provider {
	dir, _ := Dir(name)
	if rec, err := state.Read(dir); err == nil && rec.Provider == ProviderKind {
		return kindProvider{engine: rec.KindEngine, nodeImage: rec.KindNodeImage}
	}
	return defaultProvider()
}

// netnsProvider: every host a network namespace, every network a bridge (lab/backend/netns).
type netnsProvider struct{}

func (netnsProvider) Name() string { return ProviderNetns }

func (netnsProvider) Create(top *topology.Topology, name string, progress func(string)) error {
	nw := nsbackend.New(top)
	nw.Lab = Net(name)
	nw.Progress = progress
	return nw.Create()
}

func (netnsProvider) Delete(name string) error { return Net(name).Teardown() }

func (netnsProvider) Exists(name string) (bool, error) {
	nss, err := Net(name).Namespaces()
	return len(nss) > 0, err
}

// kindProvider: the Kubernetes nodes a Kind cluster, the clients containers on its network
// (lab/kind). Create is not used: Up brings a Kind lab up whole (upKind), control plane and all.
type kindProvider struct {
	// engine is the socket of a Docker engine that runs already, "" for the lab's own
	// (engine.Use); nodeImage Kind's node image, "" for the default.
	engine, nodeImage string
}

func (kindProvider) Name() string { return ProviderKind }

func (kindProvider) Create(*topology.Topology, string, func(string)) error {
	return fmt.Errorf("the kind provider brings its cluster up whole (cluster.Up)")
}

// Delete removes the Kind cluster, the clients and the names of their namespaces.
func (p kindProvider) Delete(name string) error {
	engine.Use(p.engine)
	dir, _ := Dir(name)
	// The engine's namespace outlives the lab (other labs, an engine not the lab's own): the
	// partition and loss tables of the lab's faults go first.
	var errs []error
	if engine.Running() {
		if err := Faults(&Lab{Name: name, Dir: dir, Net: Net(name), Provider: ProviderKind}).ClearSwitch(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("lab %s: its fault tables in the Docker engine's namespace: %w", name, err))
		}
	}
	errs = append(errs, kind.Delete(name, state.KindKubeconfigPath(dir), func(string) {}), Net(name).Teardown())
	return errors.Join(errs...)
}

func (p kindProvider) Exists(name string) (bool, error) {
	engine.Use(p.engine)
	if kind.Exists(name) {
		return true, nil
	}
	nss, err := Net(name).Namespaces()
	return len(nss) > 0, err
}
