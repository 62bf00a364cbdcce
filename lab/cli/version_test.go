package cli

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/ironlb/ironlb/lab/controlplane"
)

func TestVersionLine(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "d528a17bea4d2673a707a75d68e0d974388ca7b5"}, {Key: "vcs.modified", Value: "true"}}
	tail := " " + runtime.GOOS + "/" + runtime.GOARCH + ", control plane Kubernetes " + controlplane.KubernetesVersion
	for _, tc := range []struct {
		name    string
		version string
		bi      *debug.BuildInfo
		want    string
	}{
		{"make build: git describe", "d528a17-dirty", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"ironlab d528a17-dirty (commit d528a17bea4d-dirty) go1.26.8"},
		{"go build, the version stamped from git", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261202021832-d528a17bea4d+dirty"}, Settings: vcs},
			"ironlab v0.0.0-20261202021832-d528a17bea4d+dirty go1.26.8"},
		{"the commit alone", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"ironlab devel-d528a17bea4d-dirty go1.26.8"},
		{"a release", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"}},
			"ironlab v0.3.0 go1.26.8"},
		{"-buildvcs=false", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"ironlab (devel) go1.26.8"},
		{"no build information", "", nil, "ironlab (devel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionLine(tc.version, tc.bi); got != tc.want+tail {
				t.Errorf("versionLine = %q, want %q", got, tc.want+tail)
			}
		})
	}
}
