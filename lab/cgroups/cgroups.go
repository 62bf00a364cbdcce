// Package cgroups finds a container's processes on this host by its ID: a container runtime
// (Docker, containerd under a Kind node's kubelet) names each container's cgroup after it, and
// the kernel shows every process's cgroups in /proc/PID/cgroup, whatever PID namespace the
// process is in. Names is pure; Processes reads /proc.
package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Names says whether the contents of a /proc/PID/cgroup name container id: an element of a
// cgroup path is the ID (cgroupfs: /docker/ID, .../kubepods/besteffort/podUID/ID) or holds it
// (systemd: docker-ID.scope, cri-containerd-ID.scope). IDs shorter than 12 characters name
// nothing.
func Names(cgroup, id string) bool {
	if len(id) < 12 {
		return false
	}
	for _, line := range strings.Split(cgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, el := range strings.Split(parts[2], "/") {
			if el == id || strings.Contains(el, "-"+id+".") {
				return true
			}
		}
	}
	return false
}

// Processes are the PIDs on this host whose cgroups name container id.
func Processes(id string) ([]int, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup"))
		if err != nil || !Names(string(b), id) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}
