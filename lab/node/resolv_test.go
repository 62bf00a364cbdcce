package node

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResolvConf(t *testing.T) {
	two := "2"
	pod := func(policy corev1.DNSPolicy, hostNet bool, cfg *corev1.PodDNSConfig) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "p"},
			Spec: corev1.PodSpec{DNSPolicy: policy, HostNetwork: hostNet, DNSConfig: cfg}}
	}
	cluster := "search web.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		dns  string
		want string // "" for the node's
	}{
		{"default policy is ClusterFirst", pod("", false, nil), "10.96.0.10", cluster},
		{"ClusterFirst", pod(corev1.DNSClusterFirst, false, nil), "10.96.0.10", cluster},
		{"no cluster DNS: the node's", pod(corev1.DNSClusterFirst, false, nil), "", ""},
		{"Default", pod(corev1.DNSDefault, false, nil), "10.96.0.10", ""},
		{"hostNetwork ClusterFirst: the node's", pod(corev1.DNSClusterFirst, true, nil), "10.96.0.10", ""},
		{"ClusterFirstWithHostNet", pod(corev1.DNSClusterFirstWithHostNet, true, nil), "10.96.0.10", cluster},
		{"None with dnsConfig", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{Nameservers: []string{"1.2.3.4"}, Searches: []string{"example.org"},
			Options: []corev1.PodDNSConfigOption{{Name: "edns0"}}}), "10.96.0.10",
			"search example.org\nnameserver 1.2.3.4\noptions edns0\n"},
		{"dnsConfig merged, ndots replaced", pod("", false, &corev1.PodDNSConfig{Searches: []string{"svc.cluster.local", "x.org"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}}), "10.96.0.10",
			"search web.svc.cluster.local svc.cluster.local cluster.local x.org\nnameserver 10.96.0.10\noptions ndots:2\n"},
	} {
		got, ok := resolvConf(tc.pod, tc.dns, "cluster.local")
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s: got (%q, %v), want %q", tc.name, got, ok, tc.want)
		}
	}
}

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	for _, tc := range []struct {
		hostname, name, want string
	}{
		{"", "web-0", "web-0"},
		{"given", "web-0", "given"},
		{"", long, strings.Repeat("a", 62)},
	} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: corev1.PodSpec{Hostname: tc.hostname}}
		if got := podHostname(p); got != tc.want {
			t.Errorf("podHostname(%q, %q) = %q, want %q", tc.hostname, tc.name, got, tc.want)
		}
	}
}

func TestEtcHosts(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: corev1.PodSpec{Subdomain: "web",
		HostAliases: []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db", "db.local"}}}}}
	got := etcHosts(p, []string{"10.244.1.5", "fd00::5"}, "web-0", "cluster.local")
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "::1\tlocalhost ip6-localhost ip6-loopback\n",
		"10.244.1.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n", "fd00::5\tweb-0.web.shop.svc.cluster.local\tweb-0\n",
		"# Entries added by HostAliases.\n10.1.2.3\tdb\tdb.local\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
	if got := etcHosts(&corev1.Pod{}, []string{"10.244.1.6"}, "plain", "cluster.local"); !strings.HasSuffix(got, "\n10.244.1.6\tplain\n") || strings.Contains(got, "HostAliases") {
		t.Errorf("hosts file of a pod without subdomain or aliases:\n%s", got)
	}
}
