package clusterdns

import (
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestServiceIP(t *testing.T) {
	for _, tc := range []struct{ cidr, want, err string }{
		{"10.96.0.0/16", "10.96.0.10", ""},
		{"10.96.5.7/16", "10.96.0.10", ""},
		{"fd00:10:96::/112", "fd00:10:96::a", ""},
		{"10.96.0.0/29", "", "no tenth address"},
		{"10.96.0.0", "", "service range"},
	} {
		got, err := ServiceIP(tc.cidr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ServiceIP(%s) = %v, %v; want error %q", tc.cidr, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ServiceIP(%s) = %v, %v; want %s", tc.cidr, got, err, tc.want)
		}
	}
}

// The manifest is valid YAML throughout, names the image the lab maps, and puts kube-dns where
// the kubelets' resolv.conf points.
func TestManifest(t *testing.T) {
	data := string(Manifest(netip.MustParseAddr("10.96.0.10"), "cluster.local"))
	kinds := map[string]bool{}
	for _, doc := range strings.Split(data, "\n---\n") {
		var obj struct {
			Kind string `json:"kind"`
			Spec struct {
				ClusterIP string `json:"clusterIP"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("document does not parse: %v\n%s", err, doc)
		}
		kinds[obj.Kind] = true
		if obj.Kind == "Service" && obj.Spec.ClusterIP != "10.96.0.10" {
			t.Errorf("kube-dns clusterIP = %q, want 10.96.0.10", obj.Spec.ClusterIP)
		}
	}
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service"} {
		if !kinds[k] {
			t.Errorf("manifest has no %s", k)
		}
	}
	for _, want := range []string{"image: " + Image, "kubernetes cluster.local in-addr.arpa"} {
		if !strings.Contains(data, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
}
