package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/controlplane"
)

// NewVersionCommand returns `ironlab version`.
func NewVersionCommand(s Streams, version string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ironlab's version, the Go it was built with, and the Kubernetes version of its control plane",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			bi, _ := debug.ReadBuildInfo()
			fmt.Fprintln(s.Out, versionLine(version, bi))
		},
	}
}

// buildVersion is ironlab's version: the one the build set (`make build`: -ldflags -X
// main.version=`git describe --tags --always --dirty`), else the main module's from the build
// information (go build stamps it from git unless -buildvcs=false), else the commit alone, else
// "(devel)".
func buildVersion(version string, bi *debug.BuildInfo) string {
	if version != "" {
		return version
	}
	if bi == nil {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	if rev, dirty := vcs(bi); rev != "" {
		return "devel-" + rev + dirty
	}
	return "(devel)"
}

// vcs is the commit the binary was built from (12 characters), and "-dirty" when the tree had
// changes; "" when the build did not record it.
func vcs(bi *debug.BuildInfo) (rev, dirty string) {
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
			if len(rev) > 12 {
				rev = rev[:12]
			}
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	return rev, dirty
}

// versionLine is what `ironlab version` prints.
func versionLine(version string, bi *debug.BuildInfo) string {
	parts := []string{"ironlab", buildVersion(version, bi)}
	if bi != nil {
		if rev, dirty := vcs(bi); rev != "" && !strings.Contains(parts[1], rev) {
			parts = append(parts, "(commit "+rev+dirty+")")
		}
		parts = append(parts, bi.GoVersion)
	}
	parts = append(parts, runtime.GOOS+"/"+runtime.GOARCH+",", "control plane Kubernetes "+controlplane.KubernetesVersion)
	return strings.Join(parts, " ")
}
