// Package e2e is IronLB's deploy end-to-end suite, written with sigs.k8s.io/e2e-framework as a
// user's own suite would be: an ironlab lab (topologies/l2.yaml, no load balancer) from the
// framework's cluster provider (lab/e2eprovider), IronLB installed with `helm install` from
// charts/ironlb and run from the images of `make images`, then a LoadBalancer Service that must
// get an address from the pool and answer a client on the segment, also after the node that
// announces it dies. It needs root and the control plane (`make test` gives both).
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	apimachinerywait "k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/e2e-framework/klient/decoder"
	"sigs.k8s.io/e2e-framework/klient/k8s"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"
	"sigs.k8s.io/e2e-framework/klient/wait"
	"sigs.k8s.io/e2e-framework/klient/wait/conditions"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/envfuncs"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/support"
	"sigs.k8s.io/e2e-framework/third_party/helm"

	"github.com/ironlb/ironlb/lab/e2eprovider"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/labbin"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/state"
)

const (
	labName   = "deploy"
	namespace = "metallb-system"
	root      = "../../.."
)

var (
	testenv env.Environment
	lab     *e2eprovider.Provider
	helmBin string
	// skip says why the suite cannot run here (no root, no control plane, -short).
	skip string
)

func TestMain(m *testing.M) {
	flag.Parse()
	switch {
	case testing.Short():
		skip = "-short: the deploy suite brings a lab up"
	case os.Geteuid() != 0:
		skip = "the deploy suite needs root (a lab's network namespaces): run `sudo make test`; CI runs it as root"
	case os.Getenv("KUBEBUILDER_ASSETS") == "":
		skip = "KUBEBUILDER_ASSETS is not set: run `make test`, which builds the control plane"
	}
	if skip != "" {
		os.Exit(m.Run())
	}
	os.Exit(run(m))
}

func say(s string) { fmt.Fprintln(os.Stderr, "deploy e2e:", s) }

func run(m *testing.M) int {
	release, err := labbin.Exclusive(say)
	if err != nil {
		say(err.Error())
		return 1
	}
	defer release()
	tmp, err := os.MkdirTemp("", "ironlb-deploy-e2e-")
	if err != nil {
		say(err.Error())
		return 1
	}
	// The suite's lab keeps its state apart from the host's labs.
	if err := os.Setenv(state.EnvRoot, filepath.Join(tmp, "state")); err != nil {
		say(err.Error())
		return 1
	}
	say("building ironlab, IronLB's images and helm")
	ironlab, err := labbin.Build(root, filepath.Join(tmp, "bin"))
	if err == nil {
		helmBin = filepath.Join(tmp, "bin", "helm")
		build := exec.Command("go", "build", "-o", helmBin, "helm.sh/helm/v3/cmd/helm")
		build.Dir = root
		if out, berr := build.CombinedOutput(); berr != nil {
			err = fmt.Errorf("build helm: %w\n%s", berr, out)
		}
	}
	if err != nil {
		say(err.Error())
		return 1
	}
	lab = e2eprovider.New().WithPath(ironlab).(*e2eprovider.Provider)
	testenv = env.NewWithConfig(envconf.New())
	// No load balancer from the lab: the suite installs IronLB itself, from the chart.
	testenv.Setup(envfuncs.CreateClusterWithConfig(lab, labName, filepath.Join(root, "topologies", "l2.yaml"),
		e2eprovider.Impl(install.None), e2eprovider.Progress(say)))
	var destroyErr error
	testenv.Finish(func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		if dir := os.Getenv("IRONLB_E2E_LOGS"); dir != "" && lab.Lab() != nil {
			if err := lab.ExportLogs(ctx, filepath.Join(dir, labName)); err != nil {
				say(err.Error())
			}
		}
		destroyErr = lab.Destroy(ctx)
		return ctx, destroyErr
	})
	code := testenv.Run(m)
	if destroyErr != nil {
		say(fmt.Sprintf("the lab did not go down: %v (its state is kept in %s)", destroyErr, tmp))
		return 1
	}
	_ = os.RemoveAll(tmp)
	return code
}

// The chart installs into a cluster with nothing of IronLB, and everything it deploys runs.
func TestDeploy(t *testing.T) {
	if skip != "" {
		t.Skip(skip)
	}
	chart, err := filepath.Abs(filepath.Join(root, "charts", "ironlb"))
	if err != nil {
		t.Fatal(err)
	}
	install := features.New("helm install").
		Assess("helm install --wait from charts/ironlb succeeds", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			if err := helm.New(cfg.KubeconfigFile()).WithPath(helmBin).RunInstall(helm.WithContext(ctx),
				helm.WithName("ironlb"), helm.WithNamespace(namespace), helm.WithChart(chart),
				helm.WithArgs("--create-namespace"), helm.WithWait(), helm.WithTimeout("3m")); err != nil {
				t.Fatalf("helm install: %v", err)
			}
			return ctx
		}).
		Assess("MetalLB's CRDs are served", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			r := clientOf(t, cfg)
			if err := apiextensionsv1.AddToScheme(r.GetScheme()); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"ipaddresspools.metallb.io", "l2advertisements.metallb.io", "bgppeers.metallb.io", "bgpadvertisements.metallb.io", "servicel2statuses.metallb.io"} {
				crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
				if err := waitFor(conditions.New(r).ResourceMatch(crd, func(o k8sObject) bool {
					for _, c := range o.(*apiextensionsv1.CustomResourceDefinition).Status.Conditions {
						if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
							return true
						}
					}
					return false
				}), 30*time.Second); err != nil {
					t.Fatalf("CRD %s not established: %v", name, err)
				}
			}
			return ctx
		}).
		Assess("the controller is available and a speaker runs on every node", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			r := clientOf(t, cfg)
			if err := waitFor(conditions.New(r).DeploymentAvailable("ironlb-controller", namespace), time.Minute); err != nil {
				t.Fatalf("deployment %s/ironlb-controller: %v", namespace, err)
			}
			var nodes corev1.NodeList
			if err := r.List(ctx, &nodes); err != nil {
				t.Fatal(err)
			}
			ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ironlb-speaker", Namespace: namespace}}
			if err := waitFor(conditions.New(r).ResourceMatch(ds, func(o k8sObject) bool {
				s := o.(*appsv1.DaemonSet).Status
				return s.DesiredNumberScheduled == int32(len(nodes.Items)) && s.NumberReady == s.DesiredNumberScheduled
			}), time.Minute); err != nil {
				t.Fatalf("daemonset %s/ironlb-speaker: want a ready speaker on each of %d nodes: %v (status %+v)", namespace, len(nodes.Items), err, ds.Status)
			}
			return ctx
		}).Feature()

	service := features.New("a LoadBalancer Service").
		Setup(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			r := clientOf(t, cfg)
			// The scenarios' pool: the addresses topologies/l2.yaml leaves free, in layer 2.
			if err := decoder.DecodeEachFile(ctx, os.DirFS(filepath.Join(root, "scenarios", "manifests")), "l2-pool.yaml", decoder.CreateHandler(r)); err != nil {
				t.Fatalf("create the pool (scenarios/manifests/l2-pool.yaml): %v", err)
			}
			for _, o := range echo("web") {
				if err := r.Create(ctx, o); err != nil {
					t.Fatalf("create %T web: %v", o, err)
				}
			}
			if err := waitFor(conditions.New(r).DeploymentAvailable("web", "default"), 2*time.Minute); err != nil {
				t.Fatalf("deployment default/web: %v", err)
			}
			return ctx
		}).
		Assess("it gets an address from the pool", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}}
			if err := waitFor(conditions.New(clientOf(t, cfg)).ResourceMatch(svc, func(o k8sObject) bool {
				return len(o.(*corev1.Service).Status.LoadBalancer.Ingress) > 0
			}), 30*time.Second); err != nil {
				t.Fatalf("service default/web has no address: %v", err)
			}
			ip := svc.Status.LoadBalancer.Ingress[0].IP
			if !strings.HasPrefix(ip, "172.18.255.") {
				t.Fatalf("service default/web got %s, not an address of lab-pool (172.18.255.200-250)", ip)
			}
			return context.WithValue(ctx, addressKey{}, ip)
		}).
		Assess("a client on the segment is answered by its pods", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			ip := ctx.Value(addressKey{}).(string)
			// kube-proxy programs the address within a second or so of the Service's update.
			node, _, err := firstAnswer(ip, 10*time.Second, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("http://%s/ answered from a pod on %s", ip, node)
			return ctx
		}).
		Assess("when the node that announces it dies, another takes the address over", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			ip := ctx.Value(addressKey{}).(string)
			owner := announcer(ctx, t, cfg, "")
			if err := lab.StopNode(ctx, &support.Node{Name: owner}); err != nil {
				t.Fatal(err)
			}
			// The chart's speakers must see the death and answer ARP from a survivor: the
			// scenarios measure how fast (l2-node-failure bounds it at 1 s); here a bound of
			// 3 s, which a speaker that never takes over (or one of MetalLB's seconds) fails.
			node, took, err := firstAnswer(ip, 3*time.Second, owner)
			if err != nil {
				t.Fatalf("after %s went down: %v", owner, err)
			}
			t.Logf("%s killed: http://%s/ answered again after %s, from a pod on %s", owner, ip, took.Round(time.Millisecond), node)
			if now := announcer(ctx, t, cfg, owner); now == owner {
				t.Fatalf("ServiceL2Status still names %s", owner)
			}
			return context.WithValue(ctx, ownerKey{}, owner)
		}).
		Teardown(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			owner, _ := ctx.Value(ownerKey{}).(string)
			if owner == "" {
				return ctx
			}
			started := time.Now()
			if err := lab.StartNode(ctx, &support.Node{Name: owner}); err != nil {
				t.Fatal(err)
			}
			// The node's agent runs again: it renews the node's Lease (every 2 s). Its Ready
			// condition says nothing yet: the node controller takes 40 s to doubt a node.
			lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: owner, Namespace: corev1.NamespaceNodeLease}}
			if err := waitFor(conditions.New(clientOf(t, cfg)).ResourceMatch(lease, func(o k8sObject) bool {
				rt := o.(*coordinationv1.Lease).Spec.RenewTime
				return rt != nil && rt.After(started)
			}), 30*time.Second); err != nil {
				t.Fatalf("node %s: its Lease was not renewed after StartNode: %v", owner, err)
			}
			t.Logf("%s started again: its Lease renewed %s later", owner, lease.Spec.RenewTime.Sub(started).Round(time.Millisecond))
			return ctx
		}).Feature()

	testenv.Test(t, install, service)
}

type (
	addressKey struct{}
	ownerKey   struct{}
)

func clientOf(t *testing.T, cfg *envconf.Config) *resources.Resources {
	t.Helper()
	c, err := cfg.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	return c.Resources()
}

// echo is a Deployment of the lab's echo server, one pod per worker, behind a LoadBalancer
// Service with externalTrafficPolicy Local: only a node with a pod may announce it, so the pods
// left after a node dies still answer through the new owner.
func echo(name string) []k8sObject {
	labels := map[string]string{"app": name}
	replicas := int32(3)
	return []k8sObject{
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
							RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
								LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: "kubernetes.io/hostname"}}}},
						// An image the lab maps to nothing runs its echo server on 8080.
						Containers: []corev1.Container{{Name: "echo", Image: scenario.EchoImage}},
					},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.ServiceSpec{
				Type:                  corev1.ServiceTypeLoadBalancer,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
				Selector:              labels,
				Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
			},
		},
	}
}

// firstAnswer sends GETs to http://ip/ from the lab's client every 50 ms until one is answered
// by a pod on a node other than not, within bound; it returns that node and how long it took.
func firstAnswer(ip string, bound time.Duration, not string) (string, time.Duration, error) {
	start := time.Now()
	var last error
	for time.Since(start) < bound {
		body, err := lab.Lab().Net.HTTPGet("client", "http://"+ip+"/", 300*time.Millisecond)
		if err == nil {
			node := field(body, "node=")
			if node != "" && node != not {
				return node, time.Since(start), nil
			}
			err = fmt.Errorf("answer %q", strings.TrimSpace(body))
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return "", 0, fmt.Errorf("http://%s/ from the client: no answer from a pod (not on %q) within %s; last: %v", ip, not, bound, last)
}

func field(body, key string) string {
	for _, f := range strings.Fields(body) {
		if v, ok := strings.CutPrefix(f, key); ok {
			return v
		}
	}
	return ""
}

// announcer is the node the ServiceL2Status of default/web names, once it names one other than
// not (MetalLB's CRD, which IronLB writes too).
func announcer(ctx context.Context, t *testing.T, cfg *envconf.Config, not string) string {
	t.Helper()
	r := clientOf(t, cfg)
	var node string
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("metallb.io/v1beta1")
	list.SetKind("ServiceL2StatusList")
	err := wait.For(func(ctx context.Context) (bool, error) {
		if err := r.WithNamespace(namespace).List(ctx, list, resources.WithLabelSelector("metallb.io/service-name=web")); err != nil {
			return false, nil
		}
		for _, it := range list.Items {
			if n, _, _ := unstructured.NestedString(it.Object, "status", "node"); n != "" && n != not {
				node = n
				return true, nil
			}
		}
		return false, nil
	}, wait.WithTimeout(30*time.Second), wait.WithContext(ctx), wait.WithInterval(200*time.Millisecond), wait.WithImmediate())
	if err != nil {
		t.Fatalf("no ServiceL2Status for default/web names a node (other than %q): %v", not, err)
	}
	return node
}

type k8sObject = k8s.Object

// waitFor polls cond every 200 ms, from now, until timeout (the framework's default waits 5 s
// before its first look).
func waitFor(cond apimachinerywait.ConditionWithContextFunc, timeout time.Duration) error {
	return wait.For(cond, wait.WithTimeout(timeout), wait.WithInterval(200*time.Millisecond), wait.WithImmediate())
}
