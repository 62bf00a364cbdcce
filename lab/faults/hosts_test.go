package faults

import (
	"context"
	"strings"
	"testing"

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
	for _, k := range []string{scenario.FaultKillSpeaker, scenario.FaultRestartAPIServer, scenario.FaultPartition, scenario.FaultNetem, KindKillPod} {
		_, err := l.Apply(ctx, nil, scenario.Fault{Kind: k, Target: "worker"})
		if err == nil || !strings.Contains(err.Error(), "fault "+k+" cannot be done on the kind provider") {
			t.Errorf("%s on containers: %v", k, err)
		}
	}
	if len(h.calls) != len(want) {
		t.Fatalf("a refused fault reached the hosts: %q", h.calls)
	}
}
