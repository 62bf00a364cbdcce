package runner

import (
	"fmt"
	"strings"
	"time"

	"github.com/ironlb/ironlb/lab/traffic"
)

// podOfDeployment reports whether pod (NS/NAME, as the echo server names it) is a pod of the
// Deployment NS/DEPLOYMENT: named DEPLOYMENT-HASH-SUFFIX, as a Deployment's ReplicaSets name
// their pods. A Deployment app1 does not claim app1-canary's pods (app1-canary-HASH-SUFFIX).
func podOfDeployment(pod, deployment string) bool {
	pns, pname, ok1 := strings.Cut(pod, "/")
	dns, dname, ok2 := strings.Cut(deployment, "/")
	if !ok1 || !ok2 || pns != dns {
		return false
	}
	rest, ok := strings.CutPrefix(pname, dname+"-")
	if !ok {
		return false
	}
	hash, suffix, ok := strings.Cut(rest, "-")
	return ok && hash != "" && suffix != "" && !strings.Contains(suffix, "-")
}

// servedByCheck decides a servedBy expectation over a stream's results sent in [from, until):
// every good reply came from a pod of the Deployment, and at least one good reply came. It returns
// the time of the first reply from another pod (or until, when none came at all) and the error.
func servedByCheck(rs []traffic.Result, stream, deployment string, from, until time.Time, ms func(time.Time) float64) (time.Time, error) {
	good := 0
	for _, q := range rs {
		if !q.OK || q.At.Before(from) || !q.At.Before(until) {
			continue
		}
		if !podOfDeployment(q.Pod, deployment) {
			return q.At, fmt.Errorf("%s got a reply from pod %s (node %s) at %.3fs; expected every good reply from %.3fs from a pod of Deployment %s (%d did before it)",
				stream, q.Pod, q.Node, ms(q.At)/1000, ms(from)/1000, deployment, good)
		}
		good++
	}
	if good == 0 {
		return until, fmt.Errorf("%s got no good reply from %.3fs to %.3fs; expected at least one, from a pod of Deployment %s",
			stream, ms(from)/1000, ms(until)/1000, deployment)
	}
	return time.Time{}, nil
}
