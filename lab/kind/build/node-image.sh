#!/usr/bin/env bash
# Builds a Kind node image without a registry: `make kind-node-image`.
#   node-image.sh DOCKER_HOST
# Kind's own node images (kindest/node) are pulled from Docker Hub; where none can be pulled the
# Kind provider uses this one, ironlab/kind-node:<kubernetes version>, made from:
# - Debian bookworm from its mirror (debootstrap --variant=minbase), with systemd, containerd and
#   runc, and the tools kind's base image has (iptables, nftables, conntrack, iproute2, ...);
# - kind's base files (images/base/files of sigs.k8s.io/kind, the version in go.mod): the
#   entrypoint, containerd's configuration, the kubelet and containerd units;
# - kubelet and kubeadm built from source (lab/kind/build/node, the same Kubernetes as the lab's
#   control plane), kubectl from the control plane's build;
# - the CNI plugins from Debian (ptp, host-local, loopback, portmap);
# - the images kubeadm runs (API server, controller manager, scheduler, kube-proxy, etcd,
#   CoreDNS, pause), built from the same binaries by lab/kind/build/images and imported into
#   containerd at boot, before the kubelet starts (ironlab-preload.service);
# - ironlab-runc as containerd's runc (lab/kind/runcspec says why).
# Everything is cached under ${IRONLAB_CACHE:-$HOME/.cache/ironlab}/kind/; a finished image is
# not built again while its inputs are unchanged.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
export DOCKER_HOST=$1
log() { printf 'kind-node-image: %s\n' "$*" >&2; }
# Debian's client, whose API version is the engine's, when there is one.
[ -x /usr/bin/docker ] && docker() { /usr/bin/docker "$@"; }

k8s_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/node/go.mod")
kind_version=$(cd "$repo" && go list -m -f '{{.Version}}' sigs.k8s.io/kind)
kind_dir=$(cd "$repo" && go list -m -f '{{.Dir}}' sigs.k8s.io/kind)
cache=${IRONLAB_CACHE:-$HOME/.cache/ironlab}
work="$cache/kind"
tag="ironlab/kind-node:$k8s_version"
mkdir -p "$work"

k8s_assets=$("$repo/lab/controlplane/build/k8s-bins.sh" | tail -n1)
coredns=$("$repo/lab/controlplane/build/lab-bins.sh" coredns | tail -n1)

# 1. kubelet and kubeadm, once per go.sum.
bins="$work/bin-$k8s_version"
stamp=$(cat "$here/node/go.sum" <(go env GOVERSION) | sha256sum | cut -c1-16)
if [ "$(cat "$bins/.stamp" 2>/dev/null)" != "$stamp" ]; then
	log "building kubelet and kubeadm $k8s_version (about 5 minutes on 2 cores)"
	rm -rf "$bins.tmp" && mkdir -p "$bins.tmp"
	# shellcheck source=../../controlplane/build/k8s-ldflags.sh
	. "$repo/lab/controlplane/build/k8s-ldflags.sh"
	ldflags=$(k8s_ldflags "$k8s_version")
	(cd "$here/node" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bins.tmp/" \
		k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm)
	echo "$stamp" >"$bins.tmp/.stamp"
	rm -rf "$bins" && mv "$bins.tmp" "$bins"
fi

# ironlab-runc, from this checkout every time (seconds).
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$work/ironlab-runc" ./cmd/ironlab-runc)

# 2. Debian's root file system, once.
base="$work/rootfs-bookworm"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,dbus,containerd,runc,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,containernetworking-plugins
if [ "$(cat "$base.done" 2>/dev/null)" != "$packages" ]; then
	log "debootstrap bookworm (minbase + $packages) from $mirror: a few minutes"
	# --one-file-system: a debootstrap that was killed may have left /proc or /dev mounted in it
	rm -rf --one-file-system "$base" "$base.done"
	debootstrap --variant=minbase --include="$packages" bookworm "$base" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ log "debootstrap failed: see $work/debootstrap.log"; exit 1; }
	rm -rf "$base"/var/cache/apt/archives/*.deb "$base"/var/lib/apt/lists/*
	echo "$packages" >"$base.done"
fi

# Nothing changed since the image was built: keep it. The stamp covers every input: this
# script, the image builder, Debian's packages, kind's version, and every binary that goes in.
stamp=$( (cat "$0" "$here"/images/*.go "$here"/pause/*.go; echo "$packages $kind_version $k8s_version"
	cat "$work/ironlab-runc" "$bins/kubelet" "$bins/kubeadm" "$k8s_assets"/* "$coredns") | sha256sum | cut -c1-16)
if [ "$(docker image inspect --format '{{index .Config.Labels "lab.ironlb.io/stamp"}}' "$tag" 2>/dev/null)" = "$stamp" ]; then
	log "up to date: $tag (stamp $stamp)"
	echo "$tag"
	exit 0
fi

# 3. The node's root: Debian + kind's base files + Kubernetes + images.
root="$work/node-rootfs"
rm -rf --one-file-system "$root" && cp -a "$base" "$root"
f="$kind_dir/images/base/files"
install -d -m 0755 "$root/kind/bin" "$root/etc/containerd" "$root/etc/kubernetes/manifests" "$root/opt/cni/bin" "$root/kind/images"
install -m 0755 "$f"/usr/local/bin/* "$root/usr/local/bin/"
install -m 0755 "$f"/kind/bin/* "$root/kind/bin/"
install -m 0644 "$f"/etc/crictl.yaml "$root/etc/"
install -m 0644 "$f"/etc/default/kubelet "$root/etc/default/"
install -m 0644 "$f"/etc/sysctl.d/* "$root/etc/sysctl.d/"
install -m 0644 "$f"/etc/systemd/system/*.service "$f"/etc/systemd/system/*.slice "$root/etc/systemd/system/"
install -d "$root/etc/systemd/system/kubelet.service.d"
install -m 0644 "$f"/etc/systemd/system/kubelet.service.d/* "$root/etc/systemd/system/kubelet.service.d/"
# containerd: kind's configuration, without the fuse-overlayfs snapshotter (rootless only), with
# ironlab-runc as the runtime's binary.
sed -e '/^\[proxy_plugins\]/,/^  address = /d' -e '/^# fuse-overlayfs/d' "$f/etc/containerd/config.toml" >"$root/etc/containerd/config.toml"
sed -i 's#^    SystemdCgroup = true#    SystemdCgroup = true\n    BinaryName = "/usr/local/bin/ironlab-runc"#' "$root/etc/containerd/config.toml"
for b in containerd containerd-shim-runc-v2 ctr; do ln -sf "/usr/bin/$b" "$root/usr/local/bin/$b"; done
chroot "$root" ctr oci spec |
	jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
	jq 'del(.process.rlimits)' >"$root/etc/containerd/cri-base.json"
for p in host-local loopback ptp portmap; do cp "$root/usr/lib/cni/$p" "$root/opt/cni/bin/"; done
install -m 0755 "$bins/kubelet" "$bins/kubeadm" "$k8s_assets/kubectl" "$root/usr/bin/"
install -m 0755 "$work/ironlab-runc" "$root/usr/local/bin/"
echo "$k8s_version" >"$root/kind/version"
# systemd as kind's base image sets it up.
find "$root/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
	"$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
	"$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>"$root/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$root/sbin/init"
cat >"$root/etc/systemd/system/ironlab-preload.service" <<'UNIT'
[Unit]
Description=Import the images of /kind/images into containerd before the kubelet starts
After=containerd.service
Requires=containerd.service
Before=kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for i in /kind/images/*.tar; do ctr --namespace k8s.io images import --no-unpack "$i" || exit 1; done'

[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service ironlab-preload.service >/dev/null 2>&1
chroot "$root" systemctl mask systemd-binfmt.service >/dev/null 2>&1

log "building the control plane's images into $root/kind/images"
tar -C "$base" -cf "$work/debian-base.tar" .
(cd "$repo" && go run ./lab/kind/build/images -out "$root/kind/images" -version "$k8s_version" \
	-bins "$k8s_assets" -kubeadm "$bins/kubeadm" -coredns "$coredns" -base "$work/debian-base.tar")
rm -f "$work/debian-base.tar"

log "importing $tag into Docker"
tar -C "$root" -c . | docker import \
	--change 'ENV container=docker' --change "LABEL lab.ironlb.io/stamp=$stamp" \
	--change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' - "$tag" >/dev/null
rm -rf --one-file-system "$root"
# The image this one replaces lost its tag: remove it (and any other untagged one built here),
# or every rebuild leaves about 850 MB behind in the engine.
docker image prune -f --filter "label=lab.ironlb.io/stamp" >/dev/null
log "done: $tag (kind $kind_version base files)"
echo "$tag"
