//go:build tools

// Package agnhost pins the programs of Kubernetes' end-to-end suite that `make conformance` runs:
// agnhost, the image of every pod the LoadBalancer specs make (registry.k8s.io/e2e-test-images/
// agnhost, mapped by a `build: agnhost` image entry), and e2e.test, built from e2e_test.go beside
// this file. lab/controlplane/build/lab-bins.sh builds both into the lab cache; `go install
// ...@v1.37.2` cannot (k8s.io/kubernetes' go.mod replaces its staging modules).
package agnhost

import (
	_ "k8s.io/kubernetes/test/images/agnhost"
)
