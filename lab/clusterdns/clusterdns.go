// Package clusterdns is the lab's cluster DNS: CoreDNS as a process pod in kube-system behind the
// Service kube-dns, as kubeadm and Kind deploy it, for topologies that set defaults.clusterDNS.
// Kubernetes' e2e specs reach Services by name, so `make conformance` needs it. The package is
// pure: it renders the manifest and picks the Service address; lab/cluster applies it.
package clusterdns

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"text/template"
)

// Image is the image the Deployment names; a lab maps it to CoreDNS built by make lab-bins.
const (
	Image  = "registry.k8s.io/coredns/coredns:v1.14.7"
	Build  = "coredns" // lab/images' build of it
	Domain = "cluster.local"
)

//go:embed coredns.yaml.tmpl
var manifest string

var tmpl = template.Must(template.New("coredns").Parse(manifest))

// ServiceIP is the tenth address of the Service range, as kubeadm gives kube-dns (10.96.0.10).
func ServiceIP(serviceCIDR string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("cluster DNS: service range %q: %w", serviceCIDR, err)
	}
	a := p.Masked().Addr()
	for range 10 {
		a = a.Next()
	}
	if !p.Contains(a) {
		return netip.Addr{}, fmt.Errorf("cluster DNS: service range %s has no tenth address for kube-dns", serviceCIDR)
	}
	return a, nil
}

// Manifest renders CoreDNS's objects: its ServiceAccount and RBAC, the Corefile, the Deployment
// and the Service kube-dns at serviceIP.
func Manifest(serviceIP netip.Addr, domain string) []byte {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, map[string]string{"IP": serviceIP.String(), "Domain": domain, "Image": Image}); err != nil {
		panic(err) // the template is fixed and its data are strings
	}
	return b.Bytes()
}
