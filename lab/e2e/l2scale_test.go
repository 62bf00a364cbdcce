package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/traffic"
)

// The speaker's cost at scale and ARP latency under a flood: run by make bench-l2
// (IRONLAB_L2_SCALE=1), not by make test. Prints SCALE and ARPFLOOD lines.
var _ = Describe("layer 2 at scale", Ordered, func() {
	if os.Getenv("IRONLAB_L2_SCALE") == "" {
		return
	}
	l := &labCLI{name: "e2el2sc"}
	lab := netns.Lab{Prefix: l.name}
	BeforeAll(func() {
		topo, err := filepath.Abs(filepath.Join("..", "..", "topologies", "l2.yaml"))
		Expect(err).NotTo(HaveOccurred())
		l.up(topo, "--impl", "ironlb")
	})
	AfterEach(l.dumpOnFailure)

	// speakers returns the PIDs of the speaker processes, from ironlab status.
	speakers := func() []string {
		var pids []string
		for _, m := range regexp.MustCompile(`ironlb-speaker-\S+\s.*\s(\d+)\n`).FindAllStringSubmatch(l.run("status"), -1) {
			pids = append(pids, m[1])
		}
		return pids
	}
	usage := func(pids []string) (rssMiB, cpuSec float64) {
		for _, pid := range pids {
			st, _ := os.ReadFile("/proc/" + pid + "/status")
			if m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(st); m != nil {
				kb, _ := strconv.ParseFloat(string(m[1]), 64)
				rssMiB = max(rssMiB, kb/1024)
			}
			stat, _ := os.ReadFile("/proc/" + pid + "/stat")
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
			ut, _ := strconv.ParseFloat(f[11], 64)
			stt, _ := strconv.ParseFloat(f[12], 64)
			cpuSec += (ut + stt) / 100
		}
		return rssMiB, cpuSec
	}

	It("announces 1,000 Services", func() {
		var b strings.Builder
		b.WriteString(`{"apiVersion": "v1", "kind": "List", "items": [
{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "big", "namespace": "metallb-system"}, "spec": {"addresses": ["172.18.248.0/22"]}},
{"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": {"name": "big", "namespace": "metallb-system"}}`)
		for i := range 1000 {
			fmt.Fprintf(&b, `,
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s%d", "namespace": "default"}, "spec": {"type": "LoadBalancer", "selector": {"app": "none"}, "ports": [{"port": 80}]}}`, i)
		}
		b.WriteString("]}")
		pids := speakers()
		Expect(pids).To(HaveLen(4))
		rss0, cpu0 := usage(pids)
		start := time.Now()
		out, err := l.kubectlErr(b.String(), "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		created := time.Since(start)
		Eventually(func() int {
			return strings.Count(l.kubectl("get", "servicel2statuses", "-n", "metallb-system", "-o", "name"), "\n") + 1
		}).WithTimeout(10 * time.Minute).WithPolling(2 * time.Second).Should(BeNumerically(">=", 1000))
		announced := time.Since(start)
		time.Sleep(10 * time.Second) // steady state
		rss, cpu := usage(pids)
		GinkgoWriter.Printf("SCALE 1000 Services: created in %s, all announced after %s; speakers: max RSS %.0f MiB (%.0f before), CPU %.1f s for the 4 speakers (%.1f s per speaker)\n",
			created.Round(time.Second), announced.Round(time.Second), rss, rss0, cpu-cpu0, (cpu-cpu0)/4)
		// An owned address of the 1,000 answers.
		ip := l.kubectl("get", "svc", "s500", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		Expect(ip).To(HavePrefix("172.18.2"))

		// ARP latency under a flood: 5,000 requests paced at 0.2 ms (5,000/s asked; the rate
		// reached is measured and printed).
		f, err := traffic.ARPFlood(lab, "client", "eth0", netip.MustParseAddr(ip), 5000, 200*time.Microsecond)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.RTTs).NotTo(BeEmpty())
		Expect(f.MACs).To(HaveLen(1), "one MAC answers")
		rtts := f.RTTs
		slices.Sort(rtts)
		GinkgoWriter.Printf("ARPFLOOD %d of %d requests answered at a measured %.0f requests/s (%s from first to last): RTT p50 %s, p99 %s, max %s\n",
			len(rtts), f.Sent, f.Rate(), f.Elapsed.Round(time.Millisecond), rtts[len(rtts)/2], rtts[len(rtts)*99/100], rtts[len(rtts)-1])
	})
})
