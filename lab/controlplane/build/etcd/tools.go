//go:build tools

// Package etcd pins the etcd server that the lab and the integration tests run.
// Nothing here is compiled into IronLB; lab/controlplane/build/k8s-bins.sh builds it.
package etcd

import (
	_ "go.etcd.io/etcd/server/v3"
)
