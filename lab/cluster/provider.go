package cluster

import (
	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
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

// netnsProvider: every host a network namespace, every network a bridge (lab/backend/netns).
type netnsProvider struct{}

func (netnsProvider) Name() string { return "netns" }

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
