#!/usr/bin/env bash
# Builds, once and through the Go module proxy, the programs that lab process pods run and that
# come from a wrapper module beside this script (the control plane is k8s-bins.sh's):
#   traefik   Traefik, the ingress controller of topologies/ingress.yaml (`build: traefik`)
#   coredns   CoreDNS, the cluster DNS of topologies with defaults.clusterDNS (`build: coredns`)
#   agnhost   Kubernetes' e2e test image (`build: agnhost`), and beside it e2e.test, Kubernetes'
#             network e2e specs (make conformance)
# Each goes to ${IRONLAB_CACHE:-$HOME/.cache/ironlab}/NAME/<version>/NAME, where <version> is the
# one the wrapper's go.mod requires: the path lab/images resolves a topology's `build: NAME` entry
# to (lab/images has a test that runs `lab-bins.sh --print` and compares).
#
# usage: lab-bins.sh [--print] [NAME...]   (no NAME: every wrapper; --print: the paths, no build)
#
# As k8s-bins.sh: a finished directory carries a stamp of the wrapper's go.sum and the Go version,
# a build goes into a temporary directory renamed only when complete, and a second run with the
# same stamp does nothing. Prints the binaries' paths, one a line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${IRONLAB_CACHE:-$HOME/.cache/ironlab}
all=(traefik coredns agnhost)

log() { printf 'lab-bins: %s\n' "$*" >&2; }

print=false
names=()
for a in "$@"; do
	case "$a" in
	--print) print=true ;;
	-*) log "unknown flag $a (usage: lab-bins.sh [--print] [NAME...])"; exit 2 ;;
	*) names+=("$a") ;;
	esac
done
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

# The wrapper's main package (the one import of tools.go) and the version its go.mod requires
# (its first one-line require).
pkg_of() { awk '$1=="_" {gsub(/"/, "", $2); print $2; exit}' "$here/$1/tools.go"; }
version_of() { awk '$1=="require" && NF==3 {print $3; exit}' "$here/$1/go.mod"; }

# Extra link flags per wrapper: the version the program reports.
ldflags_of() {
	case "$1" in
	traefik) echo "-X github.com/traefik/traefik/v3/pkg/version.Version=$2" ;;
	agnhost) # the version stamp of Kubernetes' own builds, so e2e.test reports v1.37.2
		local minor pkg out=""
		minor=$(echo "$2" | cut -d. -f2)
		for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			out+=" -X $pkg.gitVersion=$2 -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
		done
		echo "$out"
		;;
	esac
}

build() {
	local name=$1 pkg version dest bin stamp tmp start
	pkg=$(pkg_of "$name")
	version=$(version_of "$name")
	[ -n "$pkg" ] && [ -n "$version" ] || { log "$name: no package in tools.go or no require line in go.mod"; exit 1; }
	dest="$cache/$name/$version"
	bin="$dest/$name"
	if $print; then
		echo "$bin"
		if [ -f "$here/$name/e2e_test.go" ]; then echo "$dest/e2e.test"; fi
		return
	fi
	# The wrapper's own compiled code counts too: agnhost's e2e_test.go, the e2e main (tools.go is
	# never compiled: its build tag is tools).
	local tests=()
	for f in "$here/$name"/*_test.go; do [ -f "$f" ] && tests+=("$f"); done
	stamp=$(cat "$here/$name/go.sum" "${tests[@]}" <(go env GOVERSION) | sha256sum | cut -c1-16)
	if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] && [ -x "$bin" ]; then
		log "up to date: $name $version (stamp $stamp)"
		echo "$bin"
		return
	fi
	mkdir -p "$cache/$name"
	tmp=$(mktemp -d "$cache/$name/.build-$version.XXXXXX")
	chmod 755 "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	log "building $name $version ($pkg) into $dest"
	log "a cold build takes minutes on 2 cores (Traefik about 10, CoreDNS 2, agnhost and e2e.test 1-3 after make k8s-bins); later runs reuse it"
	start=$(date +%s)
	(
		cd "$here/$name"
		go mod download
		CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $(ldflags_of "$name" "$version")" -o "$tmp/$name" "$pkg"
		# A wrapper with a test main (agnhost's: Kubernetes' e2e suite) builds that too.
		if [ -f e2e_test.go ]; then
			CGO_ENABLED=0 go test -c -trimpath -ldflags "-s -w $(ldflags_of "$name" "$version")" -o "$tmp/e2e.test" .
		fi
	) || { log "$name build failed"; exit 1; }
	echo "$stamp" >"$tmp/.stamp"
	rm -rf "$dest.old"
	[ -d "$dest" ] && mv "$dest" "$dest.old"
	mv "$tmp" "$dest"
	rm -rf "$dest.old"
	trap - EXIT
	log "$name done in $(($(date +%s) - start))s"
	echo "$bin"
}

for n in "${names[@]}"; do
	[ -f "$here/$n/tools.go" ] || { log "no wrapper module $here/$n (known: ${all[*]})"; exit 2; }
	build "$n"
done
