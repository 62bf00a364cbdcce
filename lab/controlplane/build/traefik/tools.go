//go:build tools

// Package traefik pins the Traefik command that the lab runs as a process pod (the image
// traefik:v3.6.12 of topologies/ingress.yaml, mapped by its `build: traefik` entry). Nothing here
// is compiled into IronLB; lab/controlplane/build/lab-bins.sh builds it into the lab's cache.
//
// Traefik v3.6.12, not the newer v3.7: the module proxy this project builds through refuses (403)
// modules that v3.7's binary needs.
package traefik

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
