package kindnet

import (
	"bytes"

	"encoding/json"
	"net/netip"
	"reflect"
	"sigs.k8s.io/yaml"
	"testing"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func TestPlan(t *testing.T) {
	nodes := []Node{
		{Name: "kind-control-plane", PodCIDRs: []netip.Prefix{pfx("10.244.0.0/24"), pfx("fd00:10:244::/64")}, Addresses: []netip.Addr{ip("172.18.0.2"), ip("fc00::2")}},
		{Name: "kind-worker", PodCIDRs: []netip.Prefix{pfx("10.244.1.0/24")}, Addresses: []netip.Addr{ip("172.18.0.3")}},
		{Name: "kind-worker2", PodCIDRs: []netip.Prefix{pfx("10.244.2.0/24")}, Addresses: []netip.Addr{ip("172.18.0.4")}},
		{Name: "kind-worker3"}, // no range yet
		{Name: "kind-worker4", PodCIDRs: []netip.Prefix{pfx("fd00:10:244:4::/64")}, Addresses: []netip.Addr{ip("172.18.0.6")}}, // no address of the family
	}
	for _, tc := range []struct {
		self       string
		wantConf   bool
		wantRoutes []Route
	}{
		{"kind-worker", true, []Route{{pfx("10.244.0.0/24"), ip("172.18.0.2")}, {pfx("10.244.2.0/24"), ip("172.18.0.4")}, {pfx("fd00:10:244::/64"), ip("fc00::2")}}},
		{"kind-control-plane", true, []Route{{pfx("10.244.1.0/24"), ip("172.18.0.3")}, {pfx("10.244.2.0/24"), ip("172.18.0.4")}}},
		{"kind-worker3", false, []Route{{pfx("10.244.0.0/24"), ip("172.18.0.2")}, {pfx("10.244.1.0/24"), ip("172.18.0.3")}, {pfx("10.244.2.0/24"), ip("172.18.0.4")}, {pfx("fd00:10:244::/64"), ip("fc00::2")}}},
	} {
		t.Run(tc.self, func(t *testing.T) {
			conf, routes, err := Plan(tc.self, nodes)
			if err != nil {
				t.Fatal(err)
			}
			if (conf != nil) != tc.wantConf {
				t.Fatalf("conf %s, want one: %v", conf, tc.wantConf)
			}
			if !reflect.DeepEqual(routes, tc.wantRoutes) {
				t.Fatalf("routes %v\nwant   %v", routes, tc.wantRoutes)
			}
		})
	}
}

func TestConf(t *testing.T) {
	b, err := Conf([]netip.Prefix{pfx("10.244.1.7/24"), pfx("fd00:10:244:1::/64")})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		CNIVersion string `json:"cniVersion"`
		Plugins    []struct {
			Type string `json:"type"`
			IPAM struct {
				Type   string                `json:"type"`
				Ranges [][]map[string]string `json:"ranges"`
				Routes []map[string]string   `json:"routes"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Plugins) != 2 || c.Plugins[0].Type != "ptp" || c.Plugins[1].Type != "portmap" || c.Plugins[0].IPAM.Type != "host-local" {
		t.Fatalf("plugins: %s", b)
	}
	if got := c.Plugins[0].IPAM.Ranges; len(got) != 2 || got[0][0]["subnet"] != "10.244.1.0/24" || got[1][0]["subnet"] != "fd00:10:244:1::/64" {
		t.Fatalf("ranges (masked, one set per family): %v", got)
	}
	if got := c.Plugins[0].IPAM.Routes; len(got) != 2 || got[0]["dst"] != "0.0.0.0/0" || got[1]["dst"] != "::/0" {
		t.Fatalf("routes: %v", got)
	}
	if _, err := Conf([]netip.Prefix{{}}); err == nil {
		t.Fatal("an invalid range gives a configuration")
	}
}

func TestDiff(t *testing.T) {
	a := Route{pfx("10.244.1.0/24"), ip("172.18.0.3")}
	b := Route{pfx("10.244.2.0/24"), ip("172.18.0.4")}
	moved := Route{pfx("10.244.2.0/24"), ip("172.18.0.9")}
	add, del := Diff([]Route{a, b}, []Route{a, moved})
	if !reflect.DeepEqual(add, []Route{moved}) || !reflect.DeepEqual(del, []Route{b}) {
		t.Fatalf("add %v del %v", add, del)
	}
	if add, del := Diff([]Route{a}, []Route{a}); add != nil || del != nil {
		t.Fatalf("nothing to do: add %v del %v", add, del)
	}
}

func TestManifestDecodes(t *testing.T) {
	m := Manifest("ghcr.io/ironlb/ironlab:latest", "__kindnet")
	for i, doc := range bytes.Split(m, []byte("\n---\n")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil || obj["kind"] == nil {
			t.Fatalf("document %d: %v (%s)", i, err, doc)
		}
	}
}
