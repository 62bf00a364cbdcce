package images

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/lab/controlplane"
)

// Build is a program the lab builds from a wrapper module of this repository,
// lab/controlplane/build/NAME (go.mod, go.sum, tools.go), with lab/controlplane/build/lab-bins.sh
// (make lab-bins): for commands that go install cannot build, such as Traefik, whose go.mod has
// replace directives that Go applies only in the main module. A topology names it in an image
// entry's build field.
type Build struct {
	// Name is the wrapper's directory, the binary's name and the build field's value.
	Name string
	// Module and Version are what the wrapper's go.mod requires (a test keeps them equal).
	Module, Version string
	// ColdBuild is how long a first build takes on this project's 2-core machine, for the
	// message that asks for one.
	ColdBuild string
}

// builds is every program make lab-bins builds: the one table of them.
func builds() []Build {
	return []Build{
		{Name: "traefik", Module: "github.com/traefik/traefik/v3", Version: "v3.6.12", ColdBuild: "about 10 minutes"},
		{Name: "coredns", Module: "github.com/coredns/coredns", Version: "v1.14.7", ColdBuild: "about 5 minutes"},
		// agnhost's wrapper also builds e2e.test (E2ETestPath). Its own module, pinned to the
		// control plane's Kubernetes: the e2e suite needs modules the control plane does not,
		// and the control plane's go.sum (its build stamp) stays as it is.
		{Name: "agnhost", Module: "k8s.io/kubernetes", Version: controlplane.KubernetesVersion, ColdBuild: "about 3 minutes after make k8s-bins"},
	}
}

// LookupBuild returns the build of a name.
func LookupBuild(name string) (Build, bool) {
	i := slices.IndexFunc(builds(), func(b Build) bool { return b.Name == name })
	if i < 0 {
		return Build{}, false
	}
	return builds()[i], true
}

// BuildNames lists the names a topology's build field may take.
func BuildNames() []string {
	var out []string
	for _, b := range builds() {
		out = append(out, b.Name)
	}
	return out
}

// Path is where lab-bins.sh puts the binary: cacheDir/NAME/VERSION/NAME (cacheDir is the lab's
// cache, controlplane.CacheDir(), beside k8s/VERSION).
func (b Build) Path(cacheDir string) string {
	return filepath.Join(cacheDir, b.Name, b.Version, b.Name)
}

// E2ETestPath is where lab-bins.sh puts e2e.test, Kubernetes' network e2e specs, which agnhost's
// wrapper module builds beside agnhost.
func E2ETestPath(cacheDir string) string {
	b, _ := LookupBuild("agnhost")
	return filepath.Join(filepath.Dir(b.Path(cacheDir)), "e2e.test")
}

// buildPath resolves a build entry to its binary, which must have been built: building it is
// make lab-bins' job (it needs this repository's wrapper module, and minutes).
func buildPath(name, cacheDir string) (string, error) {
	b, ok := LookupBuild(name)
	if !ok {
		return "", fmt.Errorf("build %q: no such program (make lab-bins builds %s)", name, strings.Join(BuildNames(), ", "))
	}
	p := b.Path(cacheDir)
	if err := executable(p); err != nil {
		return "", fmt.Errorf("%s %s is not built (%w): run `make lab-bins` in the IronLB repository (or lab/controlplane/build/lab-bins.sh %s) once; a cold build takes %s",
			b.Name, b.Version, err, b.Name, b.ColdBuild)
	}
	return p, nil
}
