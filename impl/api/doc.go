// Package api holds IronLB's configuration API: MetalLB's own CRDs (group metallb.io), so that a
// MetalLB user's YAML applies unchanged. The Go types are in v1beta1 and v1beta2; the deepcopy
// functions and the CRD manifests (impl/deploy/crds) are generated from them by controller-gen at
// the version pinned below (`make generate`). TestGeneratedFilesAreFresh fails when they are stale.
package api

//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 object:headerFile="" crd:crdVersions=v1 paths=./... output:crd:artifacts:config=../deploy/crds
