package speaker

import (
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// joinTargets decides which speakers to join: those of the running speaker pods listed (pods,
// when listErr is nil) whose node is not alive in the membership (alive), at their pod address
// and port. It returns them with the addresses to remember, by node: the listed ones, or, when
// the API server could not be read (listErr), the remembered ones (known), which are then the
// targets: a speaker cut off from its peers and from the API server (its node rebooted, the
// network partitioned) finds the others again without the API.
func joinTargets(known map[string]string, pods []corev1.Pod, listErr error, self string, port int,
	alive map[string]bool) ([]string, map[string]string) {
	if listErr == nil {
		known = map[string]string{}
		for _, p := range pods {
			if p.Spec.NodeName == "" || p.Spec.NodeName == self || p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
				continue
			}
			known[p.Spec.NodeName] = net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port))
		}
	}
	var targets []string
	for n, addr := range known {
		if !alive[n] {
			targets = append(targets, addr)
		}
	}
	slices.Sort(targets)
	return targets, known
}
