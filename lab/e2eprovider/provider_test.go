package e2eprovider

import (
	"context"
	"net"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/topology"
)

func TestNodeOf(t *testing.T) {
	ready := []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	for _, tc := range []struct {
		name string
		node corev1.Node
		want support.Node
	}{
		{"control plane, ready", corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "control-plane", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
			Status: corev1.NodeStatus{Conditions: ready, Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "control-plane"}, {Type: corev1.NodeInternalIP, Address: "172.18.0.2"}, {Type: corev1.NodeInternalIP, Address: "fc00::2"}}},
		}, support.Node{Name: "control-plane", Cluster: "l2", Role: "control-plane", State: "Ready", IP: net.ParseIP("172.18.0.2")}},
		{"worker, not ready", corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "worker"},
			Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}},
		}, support.Node{Name: "worker", Cluster: "l2", Role: "worker", State: "NotReady"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := nodeOf(tc.node, "l2")
			if got.Name != tc.want.Name || got.Cluster != tc.want.Cluster || got.Role != tc.want.Role || got.State != tc.want.State || !got.IP.Equal(tc.want.IP) {
				t.Fatalf("nodeOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestIsKubernetesNode(t *testing.T) {
	top := &topology.Topology{Nodes: []topology.Node{{Name: "control-plane", Kind: "control-plane"}, {Name: "worker", Kind: "worker"}, {Name: "client", Kind: "client"}, {Name: "tor", Kind: "router"}}}
	for host, want := range map[string]bool{"control-plane": true, "worker": true, "client": false, "tor": false, "nosuch": false} {
		if got := isKubernetesNode(top, host); got != want {
			t.Errorf("isKubernetesNode(%q) = %v, want %v", host, got, want)
		}
	}
}

// What cannot work says so before anything is made, naming what to do.
func TestCreateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *Provider
		args []string
		want string
	}{
		{"arguments", New(), []string{"--retain"}, "takes no arguments"},
		{"another Kubernetes", New().WithVersion("v1.30.0").(*Provider), nil, "runs Kubernetes " + controlplane.KubernetesVersion},
		{"no binary at the path", New().WithPath("/nonexistent/ironlab").(*Provider), nil, "WithPath"},
		{"a topology that is not there", New().WithPath("/proc/self/exe").WithOpts(Topology("/nonexistent.yaml")).(*Provider), nil, "nonexistent.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.p.Create(context.Background(), tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestOptionsAndDefaults(t *testing.T) {
	p := New()
	if p.impl != install.IronLB {
		t.Fatalf("default implementation %q, want %q", p.impl, install.IronLB)
	}
	var lines []string
	p.WithName("dep").WithOpts(Impl(install.None), Topology("t.yaml"), Progress(func(s string) { lines = append(lines, s) }))
	p.progress("x")
	if p.name != "dep" || p.impl != install.None || p.topology != "t.yaml" || len(lines) != 1 {
		t.Fatalf("options not applied: %+v, progress lines %q", p, lines)
	}
	// Before Create there is nothing to hand out, and no call fails with a panic.
	if p.GetKubeconfig() != "" || p.KubernetesRestConfig() != nil || p.GetKubectlContext() != "" || p.Lab() != nil {
		t.Fatal("a provider before Create hands out a lab")
	}
	for name, err := range map[string]error{
		"StopNode":   p.StopNode(context.Background(), &support.Node{Name: "worker"}),
		"AddNode":    p.AddNode(context.Background(), nil),
		"RemoveNode": p.RemoveNode(context.Background(), &support.Node{Name: "worker"}),
		"ExportLogs": p.ExportLogs(context.Background(), t.TempDir()),
	} {
		if err == nil {
			t.Errorf("%s before Create: no error", name)
		}
	}
	if err := p.StopNode(context.Background(), &support.Node{Name: "worker"}, "hard"); err == nil || !strings.Contains(err.Error(), "mode=kill") {
		t.Errorf("StopNode with a bad argument: %v", err)
	}
}

func TestHostProvider(t *testing.T) {
	p := New().WithPath("/proc/self/exe").WithOpts(HostProvider("docker"), Topology("../../topologies/l2.yaml")).(*Provider)
	if _, err := p.Create(context.Background()); err == nil || !strings.Contains(err.Error(), `provider "docker"`) {
		t.Fatalf("Create with provider docker: %v", err)
	}
}
