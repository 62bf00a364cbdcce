#!/usr/bin/env bash
# Builds the lab's control plane from source through the Go module proxy, once:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubectl
# into ${IRONLAB_CACHE:-$HOME/.cache/ironlab}/k8s/<version>/ and prints that directory as its last line.
# The wrapper modules beside this script pin every version with go.sum. A finished directory carries a
# stamp of those go.sum files; a build goes into a temporary directory that is renamed only when complete,
# so an interrupted build never looks finished. A second run with the same stamp does nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/kubernetes/go.mod")
etcd_version=$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3" {print $3}' "$here/etcd/go.mod")
cache=${IRONLAB_CACHE:-$HOME/.cache/ironlab}
dest="$cache/k8s/$k8s_version"
stamp=$(cat "$here/kubernetes/go.sum" "$here/etcd/go.sum" <(go env GOVERSION) | sha256sum | cut -c1-16)
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl)

log() { printf 'k8s-bins: %s\n' "$*" >&2; }

complete() {
	[ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] || return 1
	for b in "${bins[@]}"; do [ -x "$dest/$b" ] || return 1; done
}

if complete; then
	log "up to date: kubernetes $k8s_version, etcd $etcd_version (stamp $stamp)"
	echo "$dest"
	exit 0
fi

mkdir -p "$cache/k8s"
tmp=$(mktemp -d "$cache/k8s/.build-$k8s_version.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# go build -v prints each package as it compiles; count them against the total for a progress line.
progress() {
	local total=$1 what=$2 n=0 line
	while IFS= read -r line; do
		case "$line" in
		*:*) printf '%s\n' "$line" >&2 ;; # compiler diagnostics pass through
		*)
			n=$((n + 1))
			if [ -t 2 ]; then
				printf '\rk8s-bins: %s: %d/%d packages' "$what" "$n" "$total" >&2
			elif [ $((n % 200)) -eq 0 ]; then
				log "$what: $n/$total packages"
			fi
			;;
		esac
	done
	[ -t 2 ] && printf '\n' >&2
	return 0
}

k8s_cmds=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
	k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
# shellcheck source=k8s-ldflags.sh
. "$here/k8s-ldflags.sh"
ldflags=$(k8s_ldflags "$k8s_version")

log "building kubernetes $k8s_version and etcd $etcd_version into $dest"
log "a cold build takes 15-20 minutes on 2 cores; later runs reuse it"
start=$(date +%s)

cd "$here/kubernetes"
go mod download
total=$(go list -deps "${k8s_cmds[@]}" | wc -l)
# One go build for every command, so the packages they share compile once.
CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$tmp/" "${k8s_cmds[@]}" 2>&1 |
	progress "$total" "kubernetes"
[ "${PIPESTATUS[0]}" -eq 0 ] || { log "kubernetes build failed"; exit 1; }

cd "$here/etcd"
go mod download
total=$(go list -deps go.etcd.io/etcd/server/v3 | wc -l)
CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3 2>&1 |
	progress "$total" "etcd"
[ "${PIPESTATUS[0]}" -eq 0 ] || { log "etcd build failed"; exit 1; }

for b in "${bins[@]}"; do [ -x "$tmp/$b" ] || { log "missing $b after build"; exit 1; }; done
echo "$stamp" >"$tmp/.stamp"
rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mv "$tmp" "$dest"
rm -rf "$dest.old"
trap - EXIT
log "done in $(($(date +%s) - start))s"
echo "$dest"
