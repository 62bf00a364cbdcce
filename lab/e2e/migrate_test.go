package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/impl/speaker"
	"github.com/ironlb/ironlb/lab/apply"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/docblock"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/traffic"
)

// migrateMarker heads the block of docs/migrate-from-metallb.md that the spec runs as written.
const migrateMarker = `<!-- tested: the lab e2e spec "migrating from MetalLB" runs this block as written (lab/e2e/migrate_test.go) -->`

// The configuration and Services a MetalLB user has: the l2 pool, a BGPPeer written as v1beta1
// (MetalLB converts it with its webhook) with its BFDProfile, and two Services, one Cluster and
// one Local.
const migrateWorkload = `
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: metallb-system}
spec: {receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3}
---
apiVersion: metallb.io/v1beta1
kind: BGPPeer
metadata: {name: tor, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 192.0.2.254, bfdProfile: fast, holdTime: 90s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: local, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: local}}
  template:
    metadata: {labels: {app: local}}
    spec:
      containers: [{name: local, image: nginx, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: local, namespace: default}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: local}
  ports: [{port: 80, targetPort: 8080}]
`

// migrateBound is the longest a stream may go without a good reply while MetalLB is replaced
// (docs/migrate-from-metallb.md).
const migrateBound = 5 * time.Second

var _ = Describe("migrating from MetalLB", Ordered, func() {
	l := &labCLI{name: "e2emig"}
	lab := netns.Lab{Prefix: l.name}
	BeforeAll(func() {
		topo, err := filepath.Abs(filepath.Join("..", "..", "topologies", "l2.yaml"))
		Expect(err).NotTo(HaveOccurred())
		l.up(topo, "--impl", "metallb")
	})
	AfterEach(l.dumpOnFailure)

	It("keeps every Service's address, recovers traffic within the bound and leaves nothing of MetalLB (docs/migrate-from-metallb.md as written)", func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		Expect(err).NotTo(HaveOccurred())
		l.kubectl("apply", "-f", filepath.Join(root, "scenarios", "manifests", "l2-pool.yaml"))
		l.apply(migrateWorkload)
		addrs := map[string]string{}
		for _, svc := range []string{"web", "local"} {
			Eventually(func() string {
				addrs[svc] = l.kubectl("get", "svc", svc, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
				return addrs[svc]
			}).WithTimeout(60*time.Second).ShouldNot(BeEmpty(), "MetalLB gave %s no address", svc)
			Eventually(func() string {
				return l.kubectl("get", "deploy", svc, "-o", "jsonpath={.status.readyReplicas}")
			}).WithTimeout(90 * time.Second).Should(Equal(map[string]string{"web": "2", "local": "3"}[svc]))
		}
		peerBefore := peerSpec(l, "tor")

		// Both Services answer before anything changes.
		for svc, a := range addrs {
			Eventually(func() error {
				_, err := lab.HTTPGet("client", "http://"+a+"/", 2*time.Second)
				return err
			}).WithTimeout(60*time.Second).Should(Succeed(), "%s (%s) does not answer under MetalLB", svc, a)
		}
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		results := map[string]chan []traffic.Result{}
		for svc, a := range addrs {
			ch := make(chan []traffic.Result, 1)
			results[svc] = ch
			go func() {
				rs, _ := traffic.Stream{Lab: lab, From: "client", Target: a + ":80", Interval: 20 * time.Millisecond,
					Timeout: 200 * time.Millisecond}.Run(ctx)
				ch <- rs
			}()
		}
		time.Sleep(time.Second)

		// The page's block, line by line, as a reader runs it from the repository's root.
		page, err := os.ReadFile(filepath.Join(root, "docs", "migrate-from-metallb.md"))
		Expect(err).NotTo(HaveOccurred())
		blocks := docblock.Blocks(string(page), migrateMarker)
		Expect(blocks).To(HaveLen(1), "docs/migrate-from-metallb.md: one block marked %q", migrateMarker)
		env := append(os.Environ(), "KUBECONFIG="+controlplane.KubeconfigPath(state.Dir(state.Root(), l.name)),
			"PATH="+os.Getenv("KUBEBUILDER_ASSETS")+":"+os.Getenv("PATH"))
		start := time.Now()
		for _, line := range blocks[0] {
			c := exec.Command("bash", "-o", "pipefail", "-c", line)
			c.Dir, c.Env = root, env
			out, err := c.CombinedOutput()
			GinkgoWriter.Printf("[%5.1fs] $ %s\n%s", time.Since(start).Seconds(), line, out)
			Expect(err).NotTo(HaveOccurred(), "docs/migrate-from-metallb.md: %s\n%s", line, out)
		}
		done := time.Now()

		// IronLB answers for both addresses; then every stream must have come back.
		for svc, a := range addrs {
			Expect(l.kubectl("get", "svc", svc, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")).To(Equal(a), "%s lost its address", svc)
			// Its ServiceL2Status objects are IronLB's (named by Service and node), none of MetalLB's.
			Eventually(func() []string {
				out := l.kubectl("get", "servicel2statuses", "-n", "metallb-system", "-l", speaker.LabelServiceName+"="+svc,
					"-o", `jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.metallb\.io/node-name}{"\n"}{end}`)
				var bad []string
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					name, node, _ := strings.Cut(line, " ")
					if name == "" || name != speaker.L2StatusName(types.NamespacedName{Namespace: "default", Name: svc}, node) {
						bad = append(bad, line)
					}
				}
				return bad
			}).WithTimeout(30*time.Second).Should(BeEmpty(), "%s's ServiceL2Status objects: IronLB's, one per announcing node, and no other", svc)
		}
		time.Sleep(3 * time.Second)
		stop()
		for svc, ch := range results {
			rs := <-ch
			out, back := traffic.GapAround(rs, start, done)
			Expect(back).To(BeTrue(), "%s: no good reply after the migration began: %s", svc,
				traffic.Failure(rs, start, 60*time.Second, func(t time.Time) string { return t.Sub(start).String() + " into the migration" }))
			Expect(rs[len(rs)-1].OK).To(BeTrue(), "%s: the stream ends failing", svc)
			GinkgoWriter.Printf("MIGRATE %s (%s): longest gap %s, %d of %d requests failed, migration took %s, served by %v\n",
				svc, addrs[svc], out.Gap.Round(time.Millisecond), out.Failed, len(rs), done.Sub(start).Round(100*time.Millisecond), traffic.Served(rs))
			AddReportEntry("migrate gap "+svc, out.Gap.Milliseconds())
			Expect(out.Gap).To(BeNumerically("<=", migrateBound), "%s: longest time without a good reply during the migration", svc)
		}

		// The BGPPeer written as v1beta1 is kept and read as v1beta2, as it was under MetalLB; the
		// same file with only its apiVersion changed means the same to IronLB.
		Expect(peerSpec(l, "tor")).To(Equal(peerBefore), "the BGPPeer MetalLB stored, read through IronLB's CRD")
		v1beta1 := strings.SplitN(strings.SplitN(migrateWorkload, "kind: BGPPeer", 2)[1], "---", 2)[0]
		l.apply("apiVersion: metallb.io/v1beta2\nkind: BGPPeer" + strings.Replace(v1beta1, "name: tor,", "name: tor-again,", 1))
		Expect(peerSpec(l, "tor-again")).To(Equal(peerBefore), "the same file as v1beta2, applied to IronLB")

		// Nothing of MetalLB is left: every object of its manifest but the CRDs (now IronLB's),
		// the namespace and the interface exclusion list (both IronLB's too), no pod of its
		// images, and not the memberlist Secret its controller made.
		im, err := install.Lookup(install.MetalLB, "")
		Expect(err).NotTo(HaveOccurred())
		data, err := im.Manifests(context.Background())
		Expect(err).NotTo(HaveOccurred())
		objs, err := apply.Decode(data)
		Expect(err).NotTo(HaveOccurred())
		kept := map[string]bool{"CustomResourceDefinition": true, "Namespace": true}
		var left []string
		check := func(kind, ns, name string) {
			args := []string{"get", kind, name, "--ignore-not-found", "-o", "name"}
			if ns != "" {
				args = append(args, "-n", ns)
			}
			if out := strings.TrimSpace(l.kubectl(args...)); out != "" {
				left = append(left, out)
			}
		}
		for _, o := range objs {
			if kept[o.GetKind()] || (o.GetKind() == "ConfigMap" && o.GetName() == "metallb-excludel2") {
				continue
			}
			kind := strings.ToLower(o.GetKind())
			if group, _, ok := strings.Cut(o.GetAPIVersion(), "/"); ok {
				kind += "." + group
			}
			check(kind, o.GetNamespace(), o.GetName())
		}
		check("secret", "metallb-system", "memberlist")
		Expect(left).To(BeEmpty(), "objects of MetalLB left after the migration")
		Expect(l.kubectl("get", "pods", "-A", "-o", "jsonpath={.items[*].spec.containers[*].image}")).NotTo(ContainSubstring("quay.io/metallb"))
		Expect(l.kubectl("get", "crd", "bgppeers.metallb.io", "-o", "jsonpath={.spec.versions[*].name} {.spec.conversion.strategy}")).To(Equal("v1beta2 None"),
			"BGPPeer's CRD is IronLB's (v1beta2, no conversion webhook that points at MetalLB's deleted Service)")
		fmt.Fprintln(GinkgoWriter, "nothing of MetalLB is left")
	})
})

// peerSpec is what a BGPPeer means, read as v1beta2 with its durations normalised (MetalLB's
// conversion stores holdTime 90s as 1m30s) and the empty values MetalLB's conversion adds (a
// keepaliveTime of 0s, which means the default, an empty passwordSecret) dropped.
func peerSpec(l *labCLI, name string) map[string]any {
	var spec map[string]any
	out := l.kubectl("get", "bgppeers.v1beta2.metallb.io", "-n", "metallb-system", name, "-o", "jsonpath={.spec}")
	ExpectWithOffset(1, json.Unmarshal([]byte(out), &spec)).To(Succeed(), "BGPPeer %s: %s", name, out)
	for k, v := range spec {
		switch x := v.(type) {
		case string:
			if d, err := time.ParseDuration(x); err == nil {
				if d == 0 {
					delete(spec, k)
				} else {
					spec[k] = d.String()
				}
			}
		case map[string]any:
			if len(x) == 0 {
				delete(spec, k)
			}
		}
	}
	return spec
}
