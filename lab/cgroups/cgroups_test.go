package cgroups

import (
	"testing"
)

// A container's PID is this host's when its cgroup names the container.
func TestNames(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		cgroup string
		want   bool
	}{
		{"12:memory:/docker/" + id + "\n11:cpu,cpuacct:/docker/" + id + "\n", true},
		{"0::/system.slice/docker-" + id + ".scope\n", true},
		{"0::/kubelet.slice/kubelet-kubepods.slice/docker/" + id + "/init.scope\n", true},
		{"9:name=systemd:/\n0::/\n", false},
		{"0::/docker/" + id[:63] + "\n", false},
		{"0::/docker/" + id + "0\n", false},
		{"0::/user.slice/" + id[:12] + "-x.scope\n", false},
		{"garbage", false},
		{"", false},
	} {
		if got := Names(tc.cgroup, id); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.cgroup, got, tc.want)
		}
	}
	if Names("0::/docker/\n", "") {
		t.Error("an empty ID is named")
	}
}

// A container that is not there has no processes (Names decides which are; TestNames).
func TestProcesses(t *testing.T) {
	pids, err := Processes("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil || len(pids) != 0 {
		t.Errorf("processes of a container that is not there: %v, %v", pids, err)
	}
}
