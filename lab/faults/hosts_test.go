package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/scenario"
)

type fakeHosts struct{ calls []string }

func (f *fakeHosts) Down(host, mode string) error {
	f.calls = append(f.calls, "down "+host+" "+mode)
	return nil
}
func (f *fakeHosts) Up(host string) (string, error) {
	f.calls = append(f.calls, "up "+host)
	return " (started again)", nil
}
func (f *fakeHosts) Links(host, iface string, up bool) error {
	f.calls = append(f.calls, "links "+host+":"+iface+" "+map[bool]string{true: "up", false: "down"}[up])
	return nil
}
func (f *fakeHosts) Provider() string      { return "kind" }
func (f *fakeHosts) Owns(host string) bool { return host != "router1" }

// Where hosts are containers, host and link faults go to them; faults on the lab's own
// processes are refused by name, before anything is done.
func TestApplyOnContainers(t *testing.T) {
	h := &fakeHosts{}
	l := Lab{Hosts: h}
	ctx := context.Background()
	for _, f := range []scenario.Fault{
		{Kind: scenario.FaultNodeDown, Target: "worker", Mode: ModeKill},
		{Kind: scenario.FaultNodeUp, Target: "worker"},
		{Kind: scenario.FaultLinkDown, Target: "worker2:eth0"},
		{Kind: scenario.FaultLinkUp, Target: "worker2"},
	} {
		if _, err := l.Apply(ctx, nil, f); err != nil {
			t.Fatalf("%s: %v", f.Kind, err)
		}
	}
	want := []string{"down worker kill", "up worker", "links worker2:eth0 down", "links worker2: up"}
	if strings.Join(h.calls, ",") != strings.Join(want, ",") {
		t.Fatalf("calls %q, want %q", h.calls, want)
	}
	// (kill-speaker and kill-pod reach containers through the API server: TestSignalContainers.)
	for _, k := range []string{scenario.FaultRestartAPIServer, scenario.FaultAPIServerDown, scenario.FaultPartition, scenario.FaultNetem} {
		_, err := l.Apply(ctx, nil, scenario.Fault{Kind: k, Target: "worker"})
		if err == nil || !strings.Contains(err.Error(), "fault "+k+" cannot be done on the kind provider") {
			t.Errorf("%s on containers: %v", k, err)
		}
	}
	if len(h.calls) != len(want) {
		t.Fatalf("a refused fault reached the hosts: %q", h.calls)
	}
}

// fakeSwitch is a Kind-like lab's switch: a namespace of the test's own and fixed port names.
type fakeSwitch struct {
	fakeHosts
	ns    string
	ports map[string][]string
}

func (f *fakeSwitch) SwitchPorts(host, iface string) ([]string, error) {
	p, ok := f.ports[host]
	if !ok {
		return nil, fmt.Errorf("no host %q", host)
	}
	if iface != "" {
		return p[:1], nil
	}
	return p, nil
}
func (f *fakeSwitch) SwitchNS() (string, error) { return f.ns, nil }

// Where the hosts meet on a provider's switch (a Docker engine's bridges), partitions and loss
// are nftables bridge tables in that switch's namespace, named for the lab (the namespace is
// shared), and down clears the lab's tables and no one else's.
func TestPartitionAndLossOnASwitch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it makes a network namespace")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (apt-get install nftables)")
	}
	swLab := netns.Lab{Prefix: fmt.Sprintf("ft%d", os.Getpid()%10000)}
	if err := swLab.CreateNS("sw"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := swLab.Teardown(); err != nil {
			t.Error(err)
		}
	}()
	h := &fakeSwitch{ns: swLab.Path("sw"), ports: map[string][]string{"worker": {"veth1"}, "worker2": {"veth2", "veth2b"}, "control-plane": {"veth0"}}}
	l := Lab{Net: netns.Lab{Prefix: "k-1"}, Hosts: h}
	other := Lab{Net: netns.Lab{Prefix: "other"}, Hosts: h}
	ctx := context.Background()
	tables := func() string {
		t.Helper()
		var out strings.Builder
		if err := l.nftOut(ctx, &out, "list", "ruleset"); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	apply := func(l Lab, f scenario.Fault) {
		t.Helper()
		if _, err := l.Apply(ctx, nil, f); err != nil {
			t.Fatalf("%s: %v", f.Kind, err)
		}
	}
	apply(l, scenario.Fault{Kind: scenario.FaultPartition, Groups: [][]string{{"worker"}, {"worker2", "control-plane"}}})
	apply(other, scenario.Fault{Kind: scenario.FaultPartition, Groups: [][]string{{"worker"}, {"worker2"}}})
	rs := tables()
	for _, want := range []string{"table bridge ironlab_k_1_partition", `iifname "veth1" oifname { "veth0", "veth2", "veth2b" } drop`,
		`iifname { "veth0", "veth2", "veth2b" } oifname "veth1" drop`, "table bridge ironlab_other_partition"} {
		if !strings.Contains(rs, want) {
			t.Errorf("the ruleset lacks %q:\n%s", want, rs)
		}
	}
	apply(l, scenario.Fault{Kind: scenario.FaultPartitionHeal})
	if rs := tables(); strings.Contains(rs, "ironlab_k_1_partition") || !strings.Contains(rs, "ironlab_other_partition") {
		t.Errorf("heal: the lab's partition is there, or the other lab's is not:\n%s", rs)
	}

	apply(l, scenario.Fault{Kind: scenario.FaultNetem, Target: "worker2", Loss: "10%"})
	if rs := tables(); !strings.Contains(rs, "table bridge ironlab_k_1_loss_worker2") || !strings.Contains(rs, `iifname { "veth2", "veth2b" } numgen random mod 100 < 10 drop`) {
		t.Errorf("loss: the ruleset lacks worker2's rules:\n%s", rs)
	}
	if _, err := l.Apply(ctx, nil, scenario.Fault{Kind: scenario.FaultNetem, Target: "worker", Delay: "10ms"}); err == nil || !strings.Contains(err.Error(), "loss alone") {
		t.Errorf("delay on the switch: %v, want it refused", err)
	}
	apply(l, scenario.Fault{Kind: scenario.FaultNetemClear, Target: "worker2"})
	if rs := tables(); strings.Contains(rs, "ironlab_k_1_loss_worker2") {
		t.Errorf("netem-clear left the loss table:\n%s", rs)
	}
	if _, err := l.Apply(ctx, nil, scenario.Fault{Kind: scenario.FaultPartition, Groups: [][]string{{"worker"}, {"nobody"}}}); err == nil || !strings.Contains(err.Error(), `no host "nobody"`) {
		t.Errorf("a partition with an unknown host: %v", err)
	}

	apply(l, scenario.Fault{Kind: scenario.FaultPartition, Groups: [][]string{{"worker"}, {"worker2"}}})
	apply(l, scenario.Fault{Kind: scenario.FaultNetem, Target: "worker", Loss: "100%"})
	if err := l.ClearSwitch(ctx); err != nil {
		t.Fatal(err)
	}
	if rs := tables(); strings.Contains(rs, "ironlab_k_1_") || !strings.Contains(rs, "ironlab_other_partition") {
		t.Errorf("ClearSwitch: the lab's tables are there, or the other lab's is gone:\n%s", rs)
	}
	if len(h.calls) != 0 {
		t.Errorf("switch faults reached the hosts: %q", h.calls)
	}
}
