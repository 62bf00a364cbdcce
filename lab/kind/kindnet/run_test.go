package kindnet

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

type fakeRoutes struct{ rs []Route }

func (f *fakeRoutes) List() ([]Route, error) { return slices.Clone(f.rs), nil }
func (f *fakeRoutes) Replace(r Route) error {
	f.rs = slices.DeleteFunc(f.rs, func(x Route) bool { return x.Dst == r.Dst })
	f.rs = append(f.rs, r)
	return nil
}
func (f *fakeRoutes) Delete(r Route) error {
	f.rs = slices.DeleteFunc(f.rs, func(x Route) bool { return x == r })
	return nil
}

// A node comes, one moves, one goes: the routes follow; the configuration is written once.
func TestSync(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	routes := &fakeRoutes{}
	self := Node{Name: "w1", PodCIDRs: []netip.Prefix{pfx("10.244.1.0/24")}, Addresses: []netip.Addr{ip("172.18.0.3")}}
	w2 := Node{Name: "w2", PodCIDRs: []netip.Prefix{pfx("10.244.2.0/24")}, Addresses: []netip.Addr{ip("172.18.0.4")}}
	w3 := Node{Name: "w3", PodCIDRs: []netip.Prefix{pfx("10.244.3.0/24")}, Addresses: []netip.Addr{ip("172.18.0.5")}}
	steps := []struct {
		nodes []Node
		want  []Route
	}{
		{[]Node{self, w2}, []Route{{pfx("10.244.2.0/24"), ip("172.18.0.4")}}},
		{[]Node{self, w2, w3}, []Route{{pfx("10.244.2.0/24"), ip("172.18.0.4")}, {pfx("10.244.3.0/24"), ip("172.18.0.5")}}},
		{[]Node{self, {Name: "w3", PodCIDRs: w3.PodCIDRs, Addresses: []netip.Addr{ip("172.18.0.9")}}}, []Route{{pfx("10.244.3.0/24"), ip("172.18.0.9")}}},
		{[]Node{self}, nil},
	}
	for i, s := range steps {
		if err := sync("w1", dir, s.nodes, routes, log); err != nil {
			t.Fatal(err)
		}
		got, _ := routes.List()
		slices.SortFunc(got, func(a, b Route) int { return a.Dst.Addr().Compare(b.Dst.Addr()) })
		if len(got) != len(s.want) || (len(got) > 0 && !reflect.DeepEqual(got, s.want)) {
			t.Fatalf("step %d: routes %v, want %v", i, got, s.want)
		}
	}
	conf, err := os.ReadFile(filepath.Join(dir, ConfFile))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Conf(self.PodCIDRs)
	if string(conf) != string(want) {
		t.Fatalf("configuration %s", conf)
	}
}
