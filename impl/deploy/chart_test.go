package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// The chart, and how impl/deploy/ironlb-native.yaml is rendered from it (the Makefile's manifests
// target runs the same with the helm command: release ironlb, namespace metallb-system, default
// values but for the Namespace object, which kubectl apply needs and helm install must not have).
const (
	chartDir    = "../../charts/ironlb"
	releaseName = "ironlb"
	releaseNS   = "metallb-system"
	nativeFile  = "ironlb-native.yaml"
)

var nativeValues = map[string]any{"namespace": map[string]any{"create": true}}

// kubeVersion is what the chart is linted and rendered for: the API server the tests run.
var kubeVersion = chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load %s: %v", chartDir, err)
	}
	return ch
}

// render is `helm template` (cmd/helm/template.go): a client-only dry-run install, the manifest
// trimmed and ended by a newline. It fails, never skips, when the chart does not render.
func render(ch *chart.Chart, ns string, vals map[string]any) (string, error) {
	cfg := &action.Configuration{Log: func(string, ...any) {}}
	in := action.NewInstall(cfg)
	in.DryRun, in.DryRunOption = true, "true"
	in.ReleaseName, in.Namespace = releaseName, ns
	in.Replace, in.ClientOnly = true, true
	in.KubeVersion = &kubeVersion
	rel, err := in.Run(ch, copyValues(vals))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(rel.Manifest) + "\n", nil
}

// copyValues is a deep copy: Helm merges the chart's defaults into the map it is given.
func copyValues(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		if m, ok := x.(map[string]any); ok {
			x = copyValues(m)
		}
		out[k] = x
	}
	return out
}

// decode splits a YAML stream into objects.
func decode(t *testing.T, what string, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", what, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// TestManifestIsTheChart: the committed native manifest is exactly what the chart renders, so
// the chart is the one source and the two never drift.
func TestManifestIsTheChart(t *testing.T) {
	want, err := render(loadChart(t), releaseNS, nativeValues)
	if err != nil {
		t.Fatalf("render charts/ironlb: %v", err)
	}
	got, err := os.ReadFile(nativeFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(want, "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "(end of file)"
		}
		t.Errorf("impl/deploy/%s is not what charts/ironlb renders: run `make manifests` (first difference, line %d: committed %q, chart %q)",
			nativeFile, i+1, line(gl), line(wl))
	}
}

// TestChartCRDsAreTheGenerated: the chart's crds/ are the CRDs generated from impl/api.
func TestChartCRDsAreTheGenerated(t *testing.T) {
	gen, _ := filepath.Glob("crds/*.yaml")
	in, _ := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	base := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(base(gen), base(in)) || len(gen) == 0 {
		t.Fatalf("charts/ironlb/crds holds %v, impl/deploy/crds %v: run `make manifests`", base(in), base(gen))
	}
	for _, p := range gen {
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(p)))
		if !bytes.Equal(a, b) {
			t.Errorf("charts/ironlb/crds/%s differs from impl/deploy/crds: run `make manifests`", filepath.Base(p))
		}
	}
}

// TestChartLint is `helm lint --strict` of the chart, with its defaults and with each variation
// the install test uses: no warning, no error.
func TestChartLint(t *testing.T) {
	for _, v := range variations() {
		t.Run(v.name, func(t *testing.T) {
			l := action.NewLint()
			l.Strict, l.Namespace, l.KubeVersion = true, releaseNS, &kubeVersion
			res := l.Run([]string{chartDir}, copyValues(v.values))
			for _, m := range res.Messages {
				t.Logf("%s", m)
			}
			if len(res.Errors) > 0 {
				t.Errorf("helm lint --strict: %v", errors.Join(res.Errors...))
			}
		})
	}
}

// variation is a set of values with what the rendering must show.
type variation struct {
	name   string
	values map[string]any
	check  func(t *testing.T, r rendered)
}

func variations() []variation {
	return []variation{
		{"defaults", nil, checkDefaults},
		{"native manifest", nativeValues, func(t *testing.T, r rendered) {
			ns := r.get(t, "Namespace", releaseNS)
			if ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "privileged" {
				t.Errorf("Namespace labels %v: the speakers need privileged", ns.GetLabels())
			}
		}},
		{"webhook off", map[string]any{"webhook": map[string]any{"enabled": false}}, func(t *testing.T, r rendered) {
			r.absent(t, "ValidatingWebhookConfiguration", "ironlb-validating-webhook-configuration")
			r.absent(t, "Service", "ironlb-webhook-service")
			c := r.container(t, "Deployment", "ironlb-controller")
			wantArgs(t, c, []string{"--webhook-mode=disabled"}, []string{"--webhook-cert-dir=/tmp/k8s-webhook-server/serving-certs"})
			if rules := r.rules(t, "ClusterRole", "ironlb:controller"); hasResource(rules, "validatingwebhookconfigurations") {
				t.Error("ClusterRole ironlb:controller may write webhook configurations without a webhook")
			}
			for _, rule := range r.rules(t, "Role", "ironlb-controller") {
				if slices.Contains(rule.Verbs, "update") && slices.Contains(rule.Resources, "secrets") {
					t.Errorf("Role ironlb-controller may update Secrets without a webhook: %+v", rule)
				}
			}
		}},
		{"bgp off", map[string]any{"speaker": map[string]any{"bgp": map[string]any{"enabled": false}}}, func(t *testing.T, r rendered) {
			wantArgs(t, r.container(t, "DaemonSet", "ironlb-speaker"), []string{"--bgp=false"}, []string{"--layer2=false"})
			if hasResource(r.rules(t, "Role", "ironlb-speaker"), "secrets") {
				t.Error("Role ironlb-speaker reads Secrets without BGP")
			}
		}},
		{"layer2 off", map[string]any{"speaker": map[string]any{"layer2": map[string]any{"enabled": false}}}, func(t *testing.T, r rendered) {
			c := r.container(t, "DaemonSet", "ironlb-speaker")
			wantArgs(t, c, []string{"--layer2=false"}, []string{"--bgp=false", "--ml-secret-key-path=/etc/ironlb/memberlist/secretkey"})
			if slices.Contains(c.SecurityContext.Capabilities.Add, "NET_RAW") {
				t.Error("NET_RAW without layer 2")
			}
			if len(c.VolumeMounts) > 0 || env(c, "ML_BIND_ADDR") {
				t.Errorf("memberlist without layer 2: mounts %v", c.VolumeMounts)
			}
		}},
		{"loadBalancerClass", map[string]any{"loadBalancerClass": "example.com/ironlb"}, func(t *testing.T, r rendered) {
			for _, w := range [][2]string{{"Deployment", "ironlb-controller"}, {"DaemonSet", "ironlb-speaker"}} {
				wantArgs(t, r.container(t, w[0], w[1]), []string{"--lb-class=example.com/ironlb"}, nil)
			}
		}},
		{"monitoring", map[string]any{"prometheus": map[string]any{
			"serviceMonitor": map[string]any{"enabled": true, "interval": "30s"}, "prometheusRule": map[string]any{"enabled": true}},
			"networkPolicy": map[string]any{"enabled": true, "metricsFrom": []any{map[string]any{"namespaceSelector": map[string]any{
				"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}}}}, func(t *testing.T, r rendered) {
			r.get(t, "ServiceMonitor", "ironlb-controller")
			r.get(t, "ServiceMonitor", "ironlb-speaker")
			r.get(t, "PrometheusRule", "ironlb")
			r.get(t, "NetworkPolicy", "ironlb-controller")
		}},
		{"password Secrets named", map[string]any{"speaker": map[string]any{"bgpPasswordSecrets": []any{"bgp-pass", "bgp-pass-2"}}}, func(t *testing.T, r rendered) {
			var names []string
			for _, rule := range r.rules(t, "Role", "ironlb-speaker") {
				if slices.Contains(rule.Resources, "secrets") {
					if !slices.Equal(rule.Verbs, []string{"get"}) {
						t.Errorf("speaker secrets verbs %v, want [get]", rule.Verbs)
					}
					names = append(names, rule.ResourceNames...)
				}
			}
			if !slices.Equal(names, []string{"bgp-pass", "bgp-pass-2"}) {
				t.Errorf("speaker secrets resourceNames %v", names)
			}
		}},
		{"speaker off", map[string]any{"speaker": map[string]any{"enabled": false}}, func(t *testing.T, r rendered) {
			r.absent(t, "DaemonSet", "ironlb-speaker")
			r.absent(t, "Role", "ironlb-speaker")
			r.absent(t, "Service", "ironlb-speaker-metrics")
		}},
	}
}

// rendered are the objects of one rendering.
type rendered []*unstructured.Unstructured

func (r rendered) find(kind, name string) *unstructured.Unstructured {
	for _, u := range r {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	return nil
}

func (r rendered) get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	u := r.find(kind, name)
	if u == nil {
		t.Fatalf("no %s %s rendered", kind, name)
	}
	return u
}

func (r rendered) absent(t *testing.T, kind, name string) {
	t.Helper()
	if r.find(kind, name) != nil {
		t.Errorf("%s %s rendered", kind, name)
	}
}

func convert[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

func (r rendered) podSpec(t *testing.T, kind, name string) corev1.PodSpec {
	t.Helper()
	u := r.get(t, kind, name)
	if kind == "DaemonSet" {
		return convert[appsv1.DaemonSet](t, u).Spec.Template.Spec
	}
	return convert[appsv1.Deployment](t, u).Spec.Template.Spec
}

func (r rendered) container(t *testing.T, kind, name string) corev1.Container {
	t.Helper()
	spec := r.podSpec(t, kind, name)
	if len(spec.Containers) != 1 {
		t.Fatalf("%s %s: %d containers", kind, name, len(spec.Containers))
	}
	return spec.Containers[0]
}

func (r rendered) rules(t *testing.T, kind, name string) []rbacv1.PolicyRule {
	t.Helper()
	if kind == "ClusterRole" {
		return convert[rbacv1.ClusterRole](t, r.get(t, kind, name)).Rules
	}
	return convert[rbacv1.Role](t, r.get(t, kind, name)).Rules
}

func hasResource(rules []rbacv1.PolicyRule, res string) bool {
	for _, r := range rules {
		if slices.Contains(r.Resources, res) {
			return true
		}
	}
	return false
}

func env(c corev1.Container, name string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

func wantArgs(t *testing.T, c corev1.Container, want, notWant []string) {
	t.Helper()
	for _, a := range want {
		if !slices.Contains(c.Args, a) {
			t.Errorf("container %s: no %s in %v", c.Name, a, c.Args)
		}
	}
	for _, a := range notWant {
		if slices.Contains(c.Args, a) {
			t.Errorf("container %s: %s in %v", c.Name, a, c.Args)
		}
	}
}

// checkDefaults: what the manifests lacked before the chart, and what the binaries rely on.
func checkDefaults(t *testing.T, r rendered) {
	r.absent(t, "Namespace", releaseNS) // helm install --create-namespace makes it
	for _, w := range [][2]string{{"Deployment", "ironlb-controller"}, {"DaemonSet", "ironlb-speaker"}} {
		spec := r.podSpec(t, w[0], w[1])
		c := spec.Containers[0]
		if spec.NodeSelector["kubernetes.io/os"] != "linux" {
			t.Errorf("%s: nodeSelector %v, want kubernetes.io/os: linux", w[1], spec.NodeSelector)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s: no cpu and memory requests: %v", w[1], c.Resources.Requests)
		}
		for what, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.StrVal != "health" {
				t.Errorf("%s: %s probe %+v, want an HTTP probe of the health port", w[1], what, p)
			}
		}
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "health" && p.ContainerPort == 7473 }) {
			t.Errorf("%s: no health port 7473 in %v", w[1], c.Ports)
		}
		wantArgs(t, c, []string{"--namespace=$(IRONLB_NAMESPACE)", "--log-level=info"}, nil)
	}
	ctl := r.container(t, "Deployment", "ironlb-controller")
	for _, e := range []string{"IRONLB_NAMESPACE", "POD_NAME", "POD_UID"} {
		if !env(ctl, e) {
			t.Errorf("controller: no env %s (POD_NAME and POD_UID are the leader identity)", e)
		}
	}
	wantArgs(t, ctl, []string{"--webhook-mode=enabled", "--webhook-cert-dir=/tmp/k8s-webhook-server/serving-certs",
		"--metrics-bind-address=:7472", "--health-bind-address=:7473"}, nil)
	if a := r.podSpec(t, "Deployment", "ironlb-controller").Affinity; a == nil || a.PodAntiAffinity == nil {
		t.Error("controller: no pod anti-affinity")
	}
	pdb := r.get(t, "PodDisruptionBudget", "ironlb-controller")
	if v, _, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "maxUnavailable"); fmt.Sprint(v) != "1" {
		t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1", v)
	}

	spk := r.container(t, "DaemonSet", "ironlb-speaker")
	// The speaker is on the host's network: metrics and probes on the pod's (the node's)
	// address, not on every interface of the host.
	wantArgs(t, spk, []string{"--metrics-bind-address=$(POD_IP):7472", "--health-bind-address=$(POD_IP):7473",
		"--ml-secret-key-path=/etc/ironlb/memberlist/secretkey"}, []string{"--bgp=false", "--layer2=false"})
	for _, e := range []string{"NODE_NAME", "POD_IP", "ML_BIND_ADDR", "IRONLB_NAMESPACE"} {
		if !env(spk, e) {
			t.Errorf("speaker: no env %s", e)
		}
	}
	if !slices.Contains(spk.SecurityContext.Capabilities.Add, "NET_RAW") {
		t.Error("speaker: no NET_RAW for ARP/NDP")
	}
	if !r.podSpec(t, "DaemonSet", "ironlb-speaker").HostNetwork {
		t.Error("speaker: not on the host network")
	}
	for _, c := range []string{"controller", "speaker"} {
		svc := r.get(t, "Service", "ironlb-"+c+"-metrics")
		if sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector"); sel["app.kubernetes.io/component"] != c {
			t.Errorf("Service ironlb-%s-metrics selects %v", c, sel)
		}
	}
	r.absent(t, "ServiceMonitor", "ironlb-controller")
	r.absent(t, "NetworkPolicy", "ironlb-controller")
}

// TestChartValues renders each variation and checks what it must show; values the chart
// refuses must fail with a message that says why.
func TestChartValues(t *testing.T) {
	ch := loadChart(t)
	for _, v := range variations() {
		t.Run(v.name, func(t *testing.T) {
			out, err := render(ch, releaseNS, v.values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			v.check(t, decode(t, v.name, []byte(out)))
		})
	}
	for _, c := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"unknown log level", map[string]any{"controller": map[string]any{"logLevel": "loud"}}, "logLevel"},
		{"misspelt value", map[string]any{"speaker": map[string]any{"layer2": map[string]any{"enable": true}}}, "enable"},
		{"unknown failure policy", map[string]any{"webhook": map[string]any{"failurePolicy": "Sometimes"}}, "failurePolicy"},
		{"nothing to announce", map[string]any{"speaker": map[string]any{"layer2": map[string]any{"enabled": false}, "bgp": map[string]any{"enabled": false}}},
			"announce nothing"},
		{"password Secrets without BGP", map[string]any{"speaker": map[string]any{"bgp": map[string]any{"enabled": false}, "bgpPasswordSecrets": []any{"p"}}},
			"bgpPasswordSecrets"},
	} {
		t.Run("refused/"+c.name, func(t *testing.T) {
			_, err := render(ch, releaseNS, c.values)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("render with %v: %v, want an error about %q", c.values, err, c.want)
			}
		})
	}
}

// A release packages the chart as `helm package --version V --app-version V` does (make
// release-artifacts): its pods then run the images of that version, pulled only when absent, not
// :latest.
func TestChartOfARelease(t *testing.T) {
	ch := loadChart(t)
	ch.Metadata.Version, ch.Metadata.AppVersion = "1.2.3", "v1.2.3"
	out, err := render(ch, releaseNS, nativeValues)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: ghcr.io/ironlb/ironlb-controller:v1.2.3", "image: ghcr.io/ironlb/ironlb-speaker:v1.2.3"} {
		if !strings.Contains(out, want) {
			t.Errorf("the release's manifest has no %q", want)
		}
	}
	if strings.Contains(out, ":latest") || strings.Contains(out, "imagePullPolicy: Always") {
		t.Error("the release's manifest names :latest or pulls Always")
	}
	if !strings.Contains(out, `app.kubernetes.io/version: "v1.2.3"`) {
		t.Error("the release's objects are not labelled with its version")
	}
}
