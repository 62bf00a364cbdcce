package node

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// resolvConf returns the /etc/resolv.conf the kubelet gives a pod, and false when the pod keeps
// the node's (dnsPolicy Default, a hostNetwork pod without ClusterFirstWithHostNet, or a cluster
// without DNS, where the kubelet falls back to Default as well). clusterDNS is the kubelet's
// --cluster-dns, domain its --cluster-domain.
func resolvConf(p *corev1.Pod, clusterDNS, domain string) (string, bool) {
	var servers, searches, options []string
	switch policy := p.Spec.DNSPolicy; {
	case policy == corev1.DNSNone:
	case policy == corev1.DNSDefault, clusterDNS == "":
		return "", false
	case p.Spec.HostNetwork && policy != corev1.DNSClusterFirstWithHostNet:
		return "", false
	default: // ClusterFirst (also the empty policy), ClusterFirstWithHostNet
		servers = []string{clusterDNS}
		searches = []string{p.Namespace + ".svc." + domain, "svc." + domain, domain}
		options = []string{"ndots:5"}
	}
	if c := p.Spec.DNSConfig; c != nil {
		servers = appendNew(servers, c.Nameservers...)
		searches = appendNew(searches, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			// An option given again replaces the default (ndots:2 over ndots:5).
			options = slices.DeleteFunc(options, func(x string) bool { n, _, _ := strings.Cut(x, ":"); return n == o.Name })
			options = append(options, opt)
		}
	}
	var b strings.Builder
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String(), true
}

func appendNew(list []string, more ...string) []string {
	for _, m := range more {
		if !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}

// podHostname is the host name of a pod's containers: spec.hostname, else the pod's name cut to
// 63 characters (a DNS label), as the kubelet gives it.
func podHostname(p *corev1.Pod) string {
	h := p.Spec.Hostname
	if h == "" {
		h = p.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// etcHosts is the /etc/hosts the kubelet writes for a pod on the pod network: localhost, the
// IPv6 names, the pod's own addresses under its host name (and FQDN when it has a subdomain),
// then spec.hostAliases.
func etcHosts(p *corev1.Pod, ips []string, hostname, domain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	names := hostname
	if p.Spec.Subdomain != "" {
		names = fmt.Sprintf("%s.%s.%s.svc.%s\t%s", hostname, p.Spec.Subdomain, p.Namespace, domain, hostname)
	}
	for _, ip := range ips {
		fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	}
	if len(p.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range p.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}
