package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/process"
)

// TestUpDown brings up the real control plane on loopback and checks that each component does its
// job: the API server serves, the controller-manager turns a Deployment into Pods, the scheduler
// binds them to a Node; then Down leaves no process behind.
func TestUpDown(t *testing.T) {
	bins := os.Getenv("KUBEBUILDER_ASSETS")
	if bins == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`, which builds the control plane")
	}
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var steps []string
	res, err := Up(ctx, Config{Name: "cptest", StateDir: state, BinDir: bins, AdvertiseAddress: "192.0.2.1",
		Progress: func(s string) { steps = append(steps, s) }})
	t.Cleanup(func() {
		if err := Down(state); err != nil {
			t.Errorf("Down: %v", err)
		}
		if left, _ := process.List(RunDir(state)); len(left) != 0 {
			t.Errorf("processes left after Down: %+v", left)
		}
	})
	if err != nil {
		for _, c := range Components {
			if data, _ := os.ReadFile(filepath.Join(LogDir(state), c+".log")); len(data) > 0 {
				t.Logf("%s.log:\n%s", c, tail(data, 2000))
			}
		}
		t.Fatalf("Up: %v", err)
	}
	if len(steps) < 3 {
		t.Errorf("progress lines = %v", steps)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", res.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.Major != "1" || v.Minor != "37" {
		t.Fatalf("server version = %+v, %v", v, err)
	}

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker"}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node.Status = corev1.NodeStatus{
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}},
		Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")},
		Capacity:    corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")},
	}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Tolerate the not-ready taint the node-lifecycle controller may add to a node without kubelet.
	replicas := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "echo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "echo"}},
				Spec: corev1.PodSpec{
					Containers:  []corev1.Container{{Name: "echo", Image: "echo"}},
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		bound := 0
		if err == nil {
			for _, p := range pods.Items {
				if p.Spec.NodeName == "worker" {
					bound++
				}
			}
		}
		if bound == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 2 pods created by the controller-manager and bound by the scheduler, have %d bound (%v)", bound, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
