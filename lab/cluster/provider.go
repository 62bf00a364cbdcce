package cluster

import (
	"fmt"

	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
	"github.com/ironlb/ironlb/lab/kind"
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

// ProviderNamed is the provider of a name (--provider): netns (default) or kind.
func ProviderNamed(name string) (Provider, error) {
	switch name {
	case "", ProviderNetns:
		return netnsProvider{}, nil
	case ProviderKind:
		return kindProvider{}, nil
	}
	return nil, fmt.Errorf("provider %q: want netns or kind", name)
}

// providerOf is the provider that made lab name, from its record.
func providerOf(name string) Provider {
	dir, _ := Dir(name)
	if rec, err := state.Read(dir); err == nil && rec.Provider == ProviderKind {
		return kindProvider{}
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
type kindProvider struct{}

func (kindProvider) Name() string { return ProviderKind }

func (kindProvider) Create(*topology.Topology, string, func(string)) error {
	return fmt.Errorf("the kind provider brings its cluster up whole (cluster.Up)")
}

// Delete removes the Kind cluster, the clients and the names of their namespaces.
func (kindProvider) Delete(name string) error {
	dir, _ := Dir(name)
	err := kind.Delete(name, state.KindKubeconfigPath(dir), func(string) {})
	if terr := Net(name).Teardown(); terr != nil && err == nil {
		err = terr
	}
	return err
}

func (kindProvider) Exists(name string) (bool, error) {
	if kind.Exists(name) {
		return true, nil
	}
	nss, err := Net(name).Namespaces()
	return len(nss) > 0, err
}
