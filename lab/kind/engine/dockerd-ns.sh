#!/bin/sh
# Prepares the namespaces of the Kind provider's Docker engine, then runs the daemon: ironlab
# starts it as
#   unshare --net --mount --propagation private -- sh dockerd-ns.sh dockerd ARGS...
# so that the daemon's bridges, firewall rules and mounts stay out of the host's. In the new
# mount namespace:
# - a fresh sysfs, of the new network namespace (Kind's nodes see their own interfaces there);
# - the host's cgroup hierarchies, v1 and the v2 one at /sys/fs/cgroup/unified, moved over from
#   the old /sys (the kubelet in the nodes needs them; without the unified one it fails on missing
#   kubepods paths);
# - an empty /run/containerd, so that the daemon starts a containerd of its own (with its state
#   under its exec root) instead of sharing a system containerd whose socket is there;
# and the new network namespace's loopback up: published ports (the API servers') are on its
# 127.0.0.1, and ironlab forwards the host's to them.
set -eu
ip link set lo up
held=$(mktemp -d)
mount --rbind /sys/fs/cgroup "$held"
mount -t sysfs sysfs /sys
mount --move "$held" /sys/fs/cgroup
rmdir "$held"
if [ -d /run/containerd ]; then mount -t tmpfs -o mode=0711 tmpfs /run/containerd; fi
exec "$@"
