# Sourced by the scripts that build Kubernetes commands from source (k8s-bins.sh, and
# lab/kind/build/node-image.sh for kubelet and kubeadm): k8s_ldflags VERSION prints the linker
# flags that stamp VERSION into the binaries, as Kubernetes' own build does (`kubectl version`,
# the API server's /version and kubeadm's checks read it), with a fixed build date.
k8s_ldflags() {
	local version=$1 minor flags="-s -w" pkg
	minor=$(echo "$version" | cut -d. -f2)
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	printf '%s' "$flags"
}
