//go:build linux

package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeOnce runs one probe of a running container. The agent runs in the node's network
// namespace, so HTTP and TCP probes come from the node, as the kubelet's do; exec probes run the
// command inside the container's namespaces (nsenter).
func (a *Agent) probeOnce(ctx context.Context, rp *pod, c *corev1.Container, pr *corev1.Probe, pid int) error {
	timeout := time.Duration(max(pr.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	port := func(p intstr.IntOrString) (string, error) {
		if p.Type == intstr.Int {
			return strconv.Itoa(p.IntValue()), nil
		}
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return strconv.Itoa(int(cp.ContainerPort)), nil
			}
		}
		return "", fmt.Errorf("no container port named %q", p.StrVal)
	}
	hostOr := func(h string) string {
		if h == "" {
			return rp.ip.String()
		}
		return h
	}
	switch {
	case pr.HTTPGet != nil:
		g := pr.HTTPGet
		pt, err := port(g.Port)
		if err != nil {
			return err
		}
		scheme := "http"
		if g.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(hostOr(g.Host), pt)+g.Path, nil)
		if err != nil {
			return err
		}
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		req.Header.Set("User-Agent", "kube-probe/ironlab")
		resp, err := a.probeClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case pr.TCPSocket != nil:
		pt, err := port(pr.TCPSocket.Port)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(hostOr(pr.TCPSocket.Host), pt))
		if err != nil {
			return err
		}
		return conn.Close()
	case pr.Exec != nil:
		if len(pr.Exec.Command) == 0 {
			return fmt.Errorf("exec probe without a command")
		}
		args := append(enterContainer(pid), pr.Exec.Command...)
		out, err := exec.CommandContext(ctx, "nsenter", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("exec probe %v: %v: %s", pr.Exec.Command, err, out)
		}
		return nil
	}
	return fmt.Errorf("this kind of probe is not supported by the lab (use httpGet, tcpSocket or exec)")
}

func newProbeClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}, //nolint:gosec // probes skip verification, as the kubelet's
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// statusSyncAfterStart is when the kubelet's pod status sync that follows a container's start
// runs (its PLEG relists every second): for a container not ready yet it triggers an immediate
// readiness probe (prober_manager.go, UpdatePodStatus), besides the probe's own period.
const statusSyncAfterStart = time.Second

// probeLoop runs a probe at its period until ctx ends, calling set with each change of result:
// true after successThreshold successes in a row, false after failureThreshold failures. A
// readiness probe without an initial delay that has not succeeded yet also runs
// statusSyncAfterStart after the container started, as the kubelet's status sync triggers it then.
func (a *Agent) probeLoop(ctx context.Context, rp *pod, c *corev1.Container, pr *corev1.Probe, pid int, readiness bool, set func(ok bool, msg string)) {
	period := time.Duration(max(pr.PeriodSeconds, 1)) * time.Second
	if pr.PeriodSeconds == 0 {
		period = 10 * time.Second
	}
	succ, fail := max(pr.SuccessThreshold, 1), max(pr.FailureThreshold, 1)
	if pr.FailureThreshold == 0 {
		fail = 3
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(pr.InitialDelaySeconds) * time.Second):
	}
	var oks, fails int32
	tick := time.NewTicker(period)
	defer tick.Stop()
	var sync <-chan time.Time
	if readiness && pr.InitialDelaySeconds == 0 && statusSyncAfterStart < period {
		sync = time.After(statusSyncAfterStart) // the loop starts with the container
	}
	for {
		err := a.probeOnce(ctx, rp, c, pr, pid)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			oks, fails = oks+1, 0
			if oks == succ {
				set(true, "")
			}
		} else {
			oks, fails = 0, fails+1
			if fails == fail {
				set(false, err.Error())
			}
		}
	wait:
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-sync:
			sync = nil
			if oks >= succ {
				goto wait // ready already: the status sync triggers nothing
			}
		}
	}
}
