package topology

import (
	"errors"
	"github.com/ironlb/ironlb/lab/internal/wantfile"
	"os"
	"path/filepath"
	"testing"
)

func TestShippedTopologies(t *testing.T) {
	files, _ := filepath.Glob("../../topologies/*.yaml")
	if len(files) < 2 {
		t.Fatalf("found %d topologies", len(files))
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestL2Defaults(t *testing.T) {
	top, err := Load("../../topologies/l2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"control-plane": "172.18.0.2", "worker": "172.18.0.3", "worker2": "172.18.0.4", "worker3": "172.18.0.5", "client": "172.18.0.6"}
	for _, n := range top.Nodes {
		if len(n.Networks) != 1 || n.Networks[0].Address != want[n.Name] || n.Networks[0].Interface != "eth0" {
			t.Errorf("%s: %+v, want %s on eth0", n.Name, n.Networks, want[n.Name])
		}
		if n.Networks[0].Address6 == "" {
			t.Errorf("%s has no IPv6 address", n.Name)
		}
	}
	if top.Nodes[1].PodCIDR != "10.244.2.0/24" || top.Nodes[4].PodCIDR != "" {
		t.Errorf("pod CIDRs: worker %q, client %q", top.Nodes[1].PodCIDR, top.Nodes[4].PodCIDR)
	}
	if top.Defaults.KubeProxyMode != "nftables" || top.Defaults.ServiceCIDR != DefaultServiceCIDR {
		t.Errorf("defaults = %+v", top.Defaults)
	}
}

// TestInvalid checks that each file of testdata/invalid fails with the problems its "# want:"
// lines name, exactly.
func TestInvalid(t *testing.T) {
	wantfile.Check(t, "testdata/invalid", 10, func(b []byte) error { _, err := Parse(b); return err }, wantfile.As[Problems](ErrInvalid))
}

// FuzzParse: the parser never panics, and what it accepts validates again unchanged.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../topologies/l2.yaml", "../../topologies/bgp.yaml"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("apiVersion: lab.ironlb.io/v1alpha1\nkind: Topology\nname: x\nnetworks: [{name: a, subnet: 10.0.0.0/30}]\nnodes: [{name: c, kind: control-plane}, {name: w, kind: worker}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if ps := Validate(top); len(ps) > 0 {
			t.Fatalf("accepted topology fails validation again: %v", ps)
		}
	})
}

// TestSchemaIsFresh keeps topologies/topology.schema.json equal to what the types generate
// (`make generate` rewrites it).
func TestSchemaIsFresh(t *testing.T) {
	wantfile.Fresh(t, "../../topologies/topology.schema.json", Schema)
}

func TestMatchImage(t *testing.T) {
	images := []Image{
		{Image: "quay.io/metallb/controller:v0.15.2", GoInstall: "go.universe.tf/metallb/controller@v0.15.2"},
		{Image: "ghcr.io/ironlb/ironlb-controller", Path: "/bin/c"},
		{Image: "localhost:5000/app", Path: "/bin/app"},
	}
	for _, tc := range []struct {
		ref, want string
	}{
		{"quay.io/metallb/controller:v0.15.2", "go.universe.tf/metallb/controller@v0.15.2"},
		{"quay.io/metallb/controller:v0.14.0", ""}, // a tagged entry matches that tag only
		{"ghcr.io/ironlb/ironlb-controller:latest", "/bin/c"},
		{"ghcr.io/ironlb/ironlb-controller@sha256:abcd", "/bin/c"},
		{"ghcr.io/ironlb/ironlb-controller", "/bin/c"},
		{"localhost:5000/app:1", "/bin/app"}, // the registry port is not a tag
		{"localhost:5000/other", ""},
		{"nginx", ""},
	} {
		im, ok := MatchImage(images, tc.ref)
		got := im.Path + im.GoInstall
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("MatchImage(%q) = %q, %v; want %q", tc.ref, got, ok, tc.want)
		}
	}
}

// TestReferenceIsFresh keeps docs/reference/topology.md equal to what the types generate.
func TestReferenceIsFresh(t *testing.T) {
	wantfile.Fresh(t, "../../docs/reference/topology.md", ReferenceDoc)
}

func TestNodeNetworks(t *testing.T) {
	top := &Topology{Nodes: []Node{
		{Name: "cp", Kind: KindControlPlane, Networks: []Attachment{{Network: "kind"}}},
		{Name: "w", Kind: KindWorker, Networks: []Attachment{{Network: "kind"}, {Network: "storage"}}},
		{Name: "r", Kind: KindRouter, Networks: []Attachment{{Network: "kind"}, {Network: "outside"}}},
		{Name: "c", Kind: KindClient, Networks: []Attachment{{Network: "outside"}}},
	}}
	got := top.NodeNetworks()
	if len(got) != 2 || !got["kind"] || !got["storage"] || got["outside"] {
		t.Fatalf("NodeNetworks() = %v, want kind and storage", got)
	}
}
