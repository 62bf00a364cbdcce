// Package deploy holds IronLB's installation manifests: the generated CRDs (crds/) and the
// native manifest (namespace, RBAC, controller Deployment, webhook). They are embedded so that
// tools such as the lab install exactly what this repository ships.
package deploy

import (
	"bytes"
	"embed"
	"io/fs"
	"slices"
)

//go:embed crds/*.yaml ironlb-native.yaml
var files embed.FS

// Manifests returns every manifest as one multi-document YAML stream: the CRDs, then the native
// manifest.
func Manifests() []byte {
	crds, _ := fs.Glob(files, "crds/*.yaml")
	slices.Sort(crds)
	var b bytes.Buffer
	for _, name := range append(crds, "ironlb-native.yaml") {
		data, err := files.ReadFile(name)
		if err != nil {
			panic(err) // embedded at build time: cannot happen
		}
		b.WriteString("---\n")
		b.Write(data)
		b.WriteString("\n")
	}
	return b.Bytes()
}
