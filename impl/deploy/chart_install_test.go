package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/controller"
	"github.com/ironlb/ironlb/impl/internal/testenv"
)

// monitoringCRDs are the Prometheus Operator's ServiceMonitor and PrometheusRule, reduced to
// their names (any spec): enough for the API server to accept what the chart renders with
// prometheus.serviceMonitor and prometheusRule on. The real schemas are the operator's to check.
const monitoringCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: prometheusrules.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: PrometheusRule, listKind: PrometheusRuleList, plural: prometheusrules, singular: prometheusrule}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

const fieldOwner = "ironlb-chart-test"

// TestChartInstalls applies each rendering of the chart (defaults, the native manifest, webhook,
// BGP, layer 2 or the speaker off, a loadBalancerClass, monitoring on, password Secrets named) to a
// real kube-apiserver, as `helm template | kubectl apply --server-side` does: first as a dry run
// (every object accepted, unknown fields refused), then for real, each object then read back.
// With the default values it then checks the RBAC with the API server's authorizer, and runs the
// controller and a speaker as their ServiceAccounts: what they do at startup must not be forbidden.
func TestChartInstalls(t *testing.T) {
	ctrllog.SetLogger(logr.Discard()) // the components' own logs go to their loggers
	cfg := testenv.Start(t)
	scheme, err := ironscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, crd := range decode(t, "monitoring CRDs", []byte(monitoringCRDs)) {
		if err := c.Create(ctx, crd); err != nil {
			t.Fatal(err)
		}
	}
	ch := loadChart(t)
	for i, v := range variations() {
		t.Run(v.name, func(t *testing.T) {
			// A namespace each: the namespaced objects of every variation are created anew. The
			// cluster-wide ones (ClusterRoles, the webhook configuration) are applied over the last.
			ns := fmt.Sprintf("ironlb-chart-%d", i)
			out, err := render(ch, ns, v.values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			objs := decode(t, v.name, []byte(out))
			if rendered(objs).find("Namespace", ns) == nil {
				if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
					t.Fatal(err)
				}
			} else if err := apply(ctx, c, rendered(objs).find("Namespace", ns).DeepCopy()); err != nil {
				t.Fatal(err)
			}
			for _, u := range objs {
				if err := apply(ctx, c, u.DeepCopy(), client.DryRunAll); err != nil {
					t.Errorf("dry run: %s %s: %v", u.GetKind(), u.GetName(), err)
				}
			}
			if t.Failed() {
				return
			}
			for _, u := range objs {
				if err := apply(ctx, c, u.DeepCopy()); err != nil {
					t.Errorf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
				}
			}
			for _, u := range objs {
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(u.GroupVersionKind())
				if err := c.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
					t.Errorf("%s %s was not created: %v", u.GetKind(), u.GetName(), err)
				}
			}
			switch v.name {
			case "defaults":
				checkAccess(t, c, ns, defaultAccess(ns))
				runController(t, c, cfg, ns)
				runSpeaker(t, c, cfg, ns)
			case "password Secrets named":
				sa := "system:serviceaccount:" + ns + ":ironlb-speaker"
				checkAccess(t, c, ns, []access{
					{sa, true, "get", "", "secrets", "", "bgp-pass"},
					{sa, false, "get", "", "secrets", "", "ironlb-webhook-server-cert"},
					{sa, false, "get", "", "secrets", "", "ironlb-memberlist"},
				})
			}
		})
	}
}

func apply(ctx context.Context, c client.Client, u *unstructured.Unstructured, opts ...client.ApplyOption) error {
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), append(opts, client.FieldOwner(fieldOwner), client.ForceOwnership)...)
}

// access is one question to the API server's authorizer: may user do verb on resource (in the
// release namespace unless cluster-wide)?
type access struct {
	user        string
	allowed     bool
	verb, group string
	resource    string
	subresource string
	name        string
}

func defaultAccess(ns string) []access {
	ctl, spk := "system:serviceaccount:"+ns+":ironlb-controller", "system:serviceaccount:"+ns+":ironlb-speaker"
	return []access{
		// The controller writes only the cleanup finalizer on a Service (patch), and its status.
		{ctl, true, "patch", "", "services", "", ""},
		{ctl, false, "update", "", "services", "", ""},
		{ctl, false, "delete", "", "services", "", ""},
		{ctl, true, "update", "", "services", "status", ""},
		{ctl, true, "patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "ironlb-validating-webhook-configuration"},
		{ctl, false, "patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "someone-elses"},
		// It renews the webhook's certificate in place, and may rewrite no other Secret.
		{ctl, true, "update", "", "secrets", "", "ironlb-webhook-server-cert"},
		{ctl, false, "update", "", "secrets", "", "bgp-pass"},
		{ctl, false, "delete", "", "secrets", "", "ironlb-webhook-server-cert"},
		{ctl, true, "create", "coordination.k8s.io", "leases", "", ""},
		// The speaker gets Secrets by name and never lists or watches them.
		{spk, true, "get", "", "secrets", "", "bgp-pass"},
		{spk, false, "list", "", "secrets", "", ""},
		{spk, false, "watch", "", "secrets", "", ""},
		{spk, false, "update", "", "services", "status", ""},
		{spk, true, "list", "discovery.k8s.io", "endpointslices", "", ""},
		{spk, true, "create", "metallb.io", "servicel2statuses", "", ""},
	}
}

func checkAccess(t *testing.T, c client.Client, ns string, want []access) {
	t.Helper()
	for _, a := range want {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   a.user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: a.verb, Group: a.group,
				Resource: a.resource, Subresource: a.subresource, Name: a.name},
		}}
		if err := c.Create(context.Background(), sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != a.allowed {
			t.Errorf("%s %s %s %s/%s %q: allowed %v, want %v", a.user, a.verb, a.group, a.resource, a.subresource, a.name, sar.Status.Allowed, a.allowed)
		}
	}
}

// logs collects what a component logs, to show when the test fails; "forbidden" in it means the
// chart's RBAC lacks something the component does.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Fprintf(&l.buf, "%s %s\n", prefix, args)
	}, funcr.Options{Verbosity: 1})
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// as is cfg acting as the ServiceAccount name of namespace ns.
func as(cfg *rest.Config, ns, name string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
	return c
}

// eventually polls cond every 100 ms for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// runController runs the controller as ironlb-controller, with the webhook and a certificate
// lifetime of seconds: it must make the memberlist Secret and the webhook's certificate, write the
// CA bundle, lead, report its ConfigurationState and renew the certificate in place, with nothing
// forbidden on the way.
func runController(t *testing.T, c client.Client, cfg *rest.Config, ns string) {
	var l logs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, as(cfg, ns, "ironlb-controller"), controller.RunOptions{
			Namespace: ns, WebhookMode: "enabled", WebhookHost: "127.0.0.1", WebhookPort: freePort(t), WebhookCertDir: t.TempDir(),
			WebhookCertLifetime: 6 * time.Second, LeaderElection: true, LeaderIdentity: "chart-test",
			MetricsBindAddress: "0", HealthBindAddress: "0", Registry: prometheus.NewRegistry(), Log: l.logger(), SeveralInProcess: true})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
		if t.Failed() || strings.Contains(l.String(), "forbidden") {
			t.Errorf("the controller, as ironlb-controller, was refused something, or failed; its log:\n%s", l.String())
		}
	}()
	ctx0 := context.Background()
	get := func(obj client.Object, name string) bool {
		return c.Get(ctx0, types.NamespacedName{Namespace: ns, Name: name}, obj) == nil
	}
	var certVersion string
	steps := []struct {
		what string
		ok   func() bool
	}{
		{"the memberlist Secret is created", func() bool { return get(&corev1.Secret{}, "ironlb-memberlist") }},
		{"the webhook's certificate is created", func() bool {
			var s corev1.Secret
			if get(&s, "ironlb-webhook-server-cert") {
				certVersion = s.ResourceVersion
				return true
			}
			return false
		}},
		{"the CA bundle is written into the webhook configuration", func() bool {
			var vwc admissionv1.ValidatingWebhookConfiguration
			return c.Get(ctx0, types.NamespacedName{Name: "ironlb-validating-webhook-configuration"}, &vwc) == nil &&
				len(vwc.Webhooks) == 1 && len(vwc.Webhooks[0].ClientConfig.CABundle) > 0
		}},
		{"the controller leads (Lease)", func() bool {
			var lease coordinationv1.Lease
			return get(&lease, controller.LeaseName) && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity == "chart-test"
		}},
		{"the controller reports its ConfigurationState", func() bool { return get(&v1beta1.ConfigurationState{}, controller.ConfigurationStateName) }},
		{"the certificate is renewed in place", func() bool {
			var s corev1.Secret
			return get(&s, "ironlb-webhook-server-cert") && s.ResourceVersion != certVersion
		}},
	}
	for _, s := range steps {
		if !eventually(30*time.Second, s.ok) {
			t.Errorf("the controller, as ironlb-controller: not within 30 s: %s", s.what)
			return
		}
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
