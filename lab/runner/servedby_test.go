package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/traffic"
)

func TestPodOfDeployment(t *testing.T) {
	for _, c := range []struct {
		pod, deployment string
		want            bool
	}{
		{"default/app1-5d8f7c9b4-x2x7k", "default/app1", true},
		{"default/app2-5d8f7c9b4-x2x7k", "default/app1", false},
		{"default/app1-canary-5d8f7c9b4-x2x7k", "default/app1", false},
		{"default/app1-canary-5d8f7c9b4-x2x7k", "default/app1-canary", true},
		{"other/app1-5d8f7c9b4-x2x7k", "default/app1", false},
		{"default/app1-x2x7k", "default/app1", false}, // a bare pod or a DaemonSet's, not a Deployment's
		{"default/app1", "default/app1", false},
		{"", "default/app1", false},
	} {
		if got := podOfDeployment(c.pod, c.deployment); got != c.want {
			t.Errorf("podOfDeployment(%q, %q) = %v, want %v", c.pod, c.deployment, got, c.want)
		}
	}
}

func TestServedByCheck(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ms := func(t time.Time) float64 { return float64(t.Sub(t0).Milliseconds()) }
	ok := func(ms int, pod string) traffic.Result {
		return traffic.Result{At: at(ms), OK: true, Pod: pod, Node: "worker3"}
	}
	bad := func(ms int) traffic.Result { return traffic.Result{At: at(ms), Err: "timeout"} }
	const app1, app2 = "default/app1-5d8f7c9b4-x2x7k", "default/app2-7c9b45d8f-k7x2x"
	for _, c := range []struct {
		name   string
		rs     []traffic.Result
		wantAt int    // ms of the violation
		want   string // in the error; "" passes
	}{
		{"only app1", []traffic.Result{ok(100, app1), bad(200), ok(300, app1)}, 0, ""},
		{"app2 before the window does not count", []traffic.Result{ok(0, app2), ok(100, app1)}, 0, ""},
		{"app2 in the window", []traffic.Result{ok(100, app1), ok(200, app2), ok(300, app1)}, 200,
			"app1 got a reply from pod " + app2 + " (node worker3) at 0.200s; expected every good reply from 0.050s from a pod of Deployment default/app1 (1 did before it)"},
		{"app2 after the window does not count", []traffic.Result{ok(100, app1), ok(1000, app2)}, 0, ""},
		{"no good reply", []traffic.Result{bad(100), bad(200)}, 900,
			"app1 got no good reply from 0.050s to 0.900s; expected at least one, from a pod of Deployment default/app1"},
		{"nothing at all", nil, 900, "got no good reply"},
	} {
		t.Run(c.name, func(t *testing.T) {
			when, err := servedByCheck(c.rs, "app1", "default/app1", at(50), at(900), ms)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one with %q", err, c.want)
			case c.want != "" && !when.Equal(at(c.wantAt)):
				t.Fatalf("violation at %v, want %v", ms(when), c.wantAt)
			}
		})
	}
}
