//go:build linux

package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/jsonpath"

	"github.com/ironlb/ironlb/lab/report"
	"github.com/ironlb/ironlb/lab/router"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/traffic"
)

// poll calls f until it says done or the step's time is up; then the last "seen" explains the
// failure.
func poll(ctx context.Context, every time.Duration, f func(ctx context.Context) (bool, string, error)) (string, error) {
	var seen string
	var hard error
	err := wait.PollUntilContextCancel(ctx, every, true, func(ctx context.Context) (bool, error) {
		done, s, err := f(ctx)
		dl, hasDeadline := ctx.Deadline()
		late := ctx.Err() != nil || (hasDeadline && time.Until(dl) < 20*time.Millisecond)
		if late && seen != "" && !done {
			// A call that ran into the step's deadline ("context deadline exceeded", or the
			// client's rate limiter refusing to wait past it) says nothing about the lab: keep
			// what the last complete look saw.
			return false, nil
		}
		seen = s
		if err != nil {
			hard = err
			return false, err
		}
		return done, nil
	})
	if hard != nil {
		return seen, hard
	}
	if err != nil {
		return seen, fmt.Errorf("not seen before the step's timeout; last seen: %s", seen)
	}
	return seen, nil
}

func (r *run) expect(ctx context.Context, i int, st *scenario.Step) (string, error) {
	e := st.Expect
	switch {
	case e.ServiceAddress != nil:
		return r.expectAddress(ctx, e.ServiceAddress)
	case e.ARPOwner != nil:
		a := e.ARPOwner
		// Two probes in a row must agree: one probe can miss a second answer that comes late
		// (two nodes answering was seen as one this way).
		agreed := ""
		return poll(ctx, 300*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			nodes, addr, err := r.owner(ctx, a.Service, a.From)
			if err != nil {
				agreed = ""
				return false, err.Error(), nil
			}
			seen := fmt.Sprintf("%v answer ARP/NDP for %s", nodes, addr)
			if len(nodes) == 1 && (a.Node == "" || nodes[0] == a.Node) && (a.NotNode == "" || nodes[0] != a.NotNode) {
				if agreed == nodes[0] {
					return true, nodes[0] + " answers for " + addr.String() + " (two probes in a row)", nil
				}
				agreed = nodes[0]
				return false, seen + " (once; a second probe must agree)", nil
			}
			agreed = ""
			return false, seen, nil
		})
	case e.TrafficRecovered != nil:
		return r.expectRecovered(ctx, e.TrafficRecovered)
	case e.NoReplyFrom != nil:
		n := e.NoReplyFrom
		from := time.Now()
		r.mu.Lock()
		r.deferred = append(r.deferred, deferred{step: i, stream: n.Stream, check: func(until time.Time) (time.Time, error) {
			for _, q := range r.streams[n.Stream].snapshot() {
				if q.OK && q.Node == n.Node && !q.At.Before(from) && q.At.Before(until) {
					return q.At, fmt.Errorf("%s replied from %s at %.3fs (pod %s); expected no reply from it after %.3fs",
						n.Stream, n.Node, r.ms(q.At)/1000, q.Pod, r.ms(from)/1000)
				}
			}
			return time.Time{}, nil
		}})
		r.mu.Unlock()
		return "checked when " + n.Stream + " stops: no reply from " + n.Node, nil
	case e.ServedBy != nil:
		return r.expectServedBy(i, e.ServedBy), nil
	case e.Never != nil:
		return r.expectNever(i, e.Never)
	case e.Route != nil:
		return r.expectRoute(ctx, e.Route)
	case e.Event != nil:
		return r.expectEvent(ctx, e.Event)
	case e.Status != nil:
		return r.expectStatus(ctx, e.Status)
	case e.BGPPath != nil:
		return r.expectBGPPath(ctx, e.BGPPath)
	case e.Measurement != nil:
		b := e.Measurement
		r.mu.Lock()
		m, ok := r.measurements[b.Name]
		r.mu.Unlock()
		switch {
		case !ok:
			return "", fmt.Errorf("measurement %s was not taken (its step failed or was skipped)", b.Name)
		case b.Max != "" && m.ValueMs != nil:
			max, _ := time.ParseDuration(b.Max)
			if *m.ValueMs > float64(max.Microseconds())/1000 {
				return "", fmt.Errorf("expected %s <= %s; measured %.1f ms", b.Name, b.Max, *m.ValueMs)
			}
			return fmt.Sprintf("%s = %.1f ms <= %s", b.Name, *m.ValueMs, b.Max), nil
		case b.MaxCount != nil && m.Count != nil:
			if *m.Count > *b.MaxCount {
				return "", fmt.Errorf("expected %s <= %d; measured %d", b.Name, *b.MaxCount, *m.Count)
			}
			return fmt.Sprintf("%s = %d <= %d", b.Name, *m.Count, *b.MaxCount), nil
		}
		return "", fmt.Errorf("measurement %s is not of the bound's kind (max for durations, maxCount for counts)", b.Name)
	}
	return "", fmt.Errorf("empty expectation")
}

func (r *run) expectAddress(ctx context.Context, sa *scenario.ServiceAddress) (string, error) {
	if sa.Pending {
		// Holds for the whole step: an address given at any time fails it.
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			ctxAddrs, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			addrs, err := r.serviceAddrs(ctxAddrs, sa.Service)
			cancel()
			if err == nil && len(addrs) > 0 {
				return "", fmt.Errorf("service %s got %v; expected no address", sa.Service, addrs)
			}
			select {
			case <-ctx.Done():
				return fmt.Sprintf("%s has no address (watched for the step's timeout)", sa.Service), nil
			case <-tick.C:
			}
		}
	}
	var pool []string
	if sa.Pool != "" {
		ri, _, err := r.e.ap.Resource("ipaddresspools.metallb.io", "metallb-system")
		if err != nil {
			return "", err
		}
		p, err := ri.Get(ctx, sa.Pool, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("pool %s: %w", sa.Pool, err)
		}
		pool, _, _ = unstructuredStrings(p.Object, "spec", "addresses")
	}
	return poll(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		addrs, err := r.serviceAddrs(ctx, sa.Service)
		if err != nil {
			return false, err.Error(), nil
		}
		seen := fmt.Sprintf("%s has %v", sa.Service, addrs)
		if len(addrs) == 0 {
			return false, sa.Service + " has no address", nil
		}
		for _, a := range addrs {
			if sa.Address != "" && a.String() != netip.MustParseAddr(sa.Address).String() {
				if !slices.ContainsFunc(addrs, func(b netip.Addr) bool { return b == netip.MustParseAddr(sa.Address) }) {
					return false, seen + ", not " + sa.Address, nil
				}
			}
			if len(pool) > 0 && !inPool(a, pool) {
				return false, fmt.Sprintf("%s, %s is not in pool %s %v", seen, a, sa.Pool, pool), nil
			}
		}
		if sa.SameAs != "" {
			other, _ := r.serviceAddrs(ctx, sa.SameAs)
			if !slices.Equal(addrs, other) {
				return false, fmt.Sprintf("%s, %s has %v", seen, sa.SameAs, other), nil
			}
		}
		return true, seen, nil
	})
}

func unstructuredStrings(obj map[string]any, fields ...string) ([]string, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		cur = m[f]
	}
	l, ok := cur.([]any)
	if !ok {
		return nil, false, nil
	}
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out, true, nil
}

// inPool reports whether a is in one of a pool's CIDRs or FROM-TO ranges.
func inPool(a netip.Addr, pool []string) bool {
	for _, s := range pool {
		if from, to, ok := strings.Cut(s, "-"); ok {
			f, err1 := netip.ParseAddr(strings.TrimSpace(from))
			t, err2 := netip.ParseAddr(strings.TrimSpace(to))
			if err1 == nil && err2 == nil && f.Compare(a) <= 0 && a.Compare(t) <= 0 {
				return true
			}
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}

func (r *run) expectRecovered(ctx context.Context, tr *scenario.StreamBound) (string, error) {
	r.mu.Lock()
	s := r.streams[tr.Stream]
	since := r.lastFault
	r.mu.Unlock()
	if s.started.After(since) {
		since = s.started // a stream started after the last fault recovers from its start
	}
	within := time.Duration(1<<62 - 1)
	if tr.Within != "" {
		within, _ = time.ParseDuration(tr.Within)
	} else if dl, ok := ctx.Deadline(); ok {
		within = dl.Sub(since)
	}
	const settle = time.Second
	var at time.Time
	_, err := poll(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		state, t := traffic.Recovery(s.snapshot(), since, time.Now(), within, settle)
		switch state {
		case traffic.Recovered:
			at = t
			return true, "", nil
		case traffic.NotRecovered:
			return false, "", fmt.Errorf("%s did not recover within %s: %s", tr.Stream, within,
				traffic.Failure(s.snapshot(), since, within, func(t time.Time) string { return fmt.Sprintf("%.3fs", r.ms(t)/1000) }))
		}
		return false, "still failing or not yet settled", nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s good again %s after the last fault (or its start)", tr.Stream, at.Sub(since).Round(time.Millisecond)), nil
}

// expectServedBy registers a check decided when the stream stops: every good reply from now on
// came from a pod of the Deployment, and at least one did.
func (r *run) expectServedBy(i int, sb *scenario.ServedBy) string {
	from := time.Now()
	r.mu.Lock()
	s := r.streams[sb.Stream]
	r.deferred = append(r.deferred, deferred{step: i, stream: sb.Stream, check: func(until time.Time) (time.Time, error) {
		return servedByCheck(s.snapshot(), sb.Stream, sb.Deployment, from, until, r.ms)
	}})
	r.mu.Unlock()
	return fmt.Sprintf("checked when %s stops: every good reply from a pod of Deployment %s, and at least one", sb.Stream, sb.Deployment)
}

func (r *run) expectNever(i int, n *scenario.Never) (string, error) {
	from := time.Now()
	if n.FailedRequest != "" {
		name := n.FailedRequest
		r.mu.Lock()
		r.deferred = append(r.deferred, deferred{step: i, stream: name, check: func(until time.Time) (time.Time, error) {
			var failed []traffic.Result
			for _, q := range r.streams[name].snapshot() {
				if !q.OK && !q.At.Before(from) && q.At.Before(until) {
					failed = append(failed, q)
				}
			}
			if len(failed) > 0 {
				return failed[0].At, fmt.Errorf("expected no failed request of %s from %.3fs; %d failed, the first at %.3fs: %s",
					name, r.ms(from)/1000, len(failed), r.ms(failed[0].At)/1000, failed[0].Err)
			}
			return time.Time{}, nil
		}})
		r.mu.Unlock()
		return "checked when " + name + " stops: no failed request", nil
	}
	svc := n.AddressChanges
	r.mu.Lock()
	initial := r.addresses[svc]
	r.deferred = append(r.deferred, deferred{step: i, check: func(until time.Time) (time.Time, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, ev := range r.events {
			t := r.t0.Add(time.Duration(ev.AtMs * float64(time.Millisecond)))
			if ev.Kind == report.EventAddress && ev.Subject == svc && t.After(from) && t.Before(until) {
				return t, fmt.Errorf("expected the address of %s to stay %q; it became %q at %.3fs", svc, initial, ev.Detail, ev.AtMs/1000)
			}
		}
		return time.Time{}, nil
	}})
	r.mu.Unlock()
	return fmt.Sprintf("checked at the end: %s keeps %q", svc, initial), nil
}

func (r *run) expectRoute(ctx context.Context, rt *scenario.Route) (string, error) {
	return poll(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		prefix, why := r.destination(ctx, rt.Service, rt.Family, rt.Prefix)
		if prefix == "" {
			return false, why, nil
		}
		routes, err := r.routesAt(rt.Router, false)
		if err != nil {
			return false, "", err
		}
		hops, ok := routes[prefix]
		switch {
		case rt.Absent && !ok:
			return true, rt.Router + " has no route to " + prefix, nil
		case rt.Absent:
			return false, fmt.Sprintf("%s routes %s via %v", rt.Router, prefix, hops), nil
		case !ok:
			return false, rt.Router + " has no route to " + prefix, nil
		}
		want := slices.Clone(rt.NextHops)
		sort.Strings(want)
		seen := fmt.Sprintf("%s routes %s via %v", rt.Router, prefix, hops)
		return len(want) == 0 || slices.Equal(want, hops), seen, nil
	})
}

// destination is the prefix a route or RIB expectation looks at: the given one, or the host
// prefix of a Service's address of a family; when there is none yet it says why.
func (r *run) destination(ctx context.Context, service, family, prefix string) (string, string) {
	if service == "" {
		return prefix, ""
	}
	addrs, err := r.serviceAddrs(ctx, service)
	if err != nil {
		return "", err.Error()
	}
	for _, a := range addrs {
		if a.Is4() == (family == "ipv4") {
			return netip.PrefixFrom(a, a.BitLen()).String(), ""
		}
	}
	return "", service + " has no " + family + " address"
}

// routesAt reads a router's kernel routes, next hops named by host when known. all includes the
// lab's own (kernel, boot and static) routes; otherwise only those a routing daemon installed.
func (r *run) routesAt(router string, all bool) (map[string][]string, error) {
	out := map[string][]string{}
	err := r.e.net.Do(router, func() error {
		routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 254}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return err
		}
		for _, rt := range routes {
			if rt.Dst == nil || (!all && rt.Protocol <= 4) {
				continue
			}
			var hops []string
			if rt.Gw != nil {
				hops = append(hops, r.hostName(rt.Gw))
			}
			for _, nh := range rt.MultiPath {
				if nh.Gw != nil {
					hops = append(hops, r.hostName(nh.Gw))
				}
			}
			sort.Strings(hops)
			p, _ := netip.ParsePrefix(rt.Dst.String())
			out[p.Masked().String()] = hops
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("routes of %s: %w", router, err)
	}
	return out, nil
}

func (r *run) hostName(ip []byte) string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Sprint(ip)
	}
	if h, ok := r.e.hostOfIP[a.Unmap()]; ok {
		return h
	}
	return a.Unmap().String()
}

func (r *run) expectEvent(ctx context.Context, ev *scenario.Event) (string, error) {
	parts := strings.Split(ev.Object, "/")
	kind, ns, name := parts[0], parts[1], parts[2]
	return poll(ctx, 300*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		list, err := r.e.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name})
		if err != nil {
			return false, err.Error(), nil
		}
		var seen []string
		for _, e := range list.Items {
			if e.Reason == ev.Reason && strings.Contains(e.Message, ev.Message) {
				return true, fmt.Sprintf("%s %s: %s", e.Type, e.Reason, e.Message), nil
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return false, fmt.Sprintf("events of %s: %v", ev.Object, seen), nil
	})
}

func (r *run) expectStatus(ctx context.Context, st *scenario.Status) (string, error) {
	jp := jsonpath.New("status").AllowMissingKeys(true)
	if err := jp.Parse(st.JSONPath); err != nil {
		return "", fmt.Errorf("jsonPath %q: %w", st.JSONPath, err)
	}
	return poll(ctx, 300*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		var obj any
		if st.Name != "" {
			ns, name, ok := strings.Cut(st.Name, "/")
			if !ok {
				ns, name = "", st.Name
			}
			ri, _, err := r.e.ap.Resource(st.Resource, ns)
			if err != nil {
				return false, "", err
			}
			u, err := ri.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			obj = u.Object
		} else {
			ri, _, err := r.e.ap.Resource(st.Resource, st.Namespace)
			if err != nil {
				return false, "", err
			}
			l, err := ri.List(ctx, metav1.ListOptions{LabelSelector: st.Selector})
			if err != nil {
				return false, err.Error(), nil
			}
			obj = l.UnstructuredContent()
		}
		var b bytes.Buffer
		if err := jp.Execute(&b, obj); err != nil {
			return false, err.Error(), nil
		}
		v := b.String()
		seen := fmt.Sprintf("%s = %q", st.JSONPath, v)
		if st.Equals != nil {
			return v == *st.Equals, seen, nil
		}
		return strings.Contains(v, st.Contains), seen, nil
	})
}

func (r *run) measure(m *scenario.Measure) (string, error) {
	r.mu.Lock()
	steps := r.stepStart
	r.mu.Unlock()
	record := func(v report.Measurement) {
		r.mu.Lock()
		r.measurements[m.Name] = v
		r.mu.Unlock()
	}
	ms := func(d time.Duration) *float64 { v := float64(d.Microseconds()) / 1000; return &v }
	switch {
	case m.Gap != nil:
		// From the moment the step's fault was applied (its start for other steps) up to the
		// next fault, if any.
		r.mu.Lock()
		t, ok := r.faultAt[m.Gap.Around]
		if !ok {
			t = steps[m.Gap.Around]
		}
		until := time.Now()
		for _, at := range r.faultAt {
			if at.After(t) && at.Before(until) {
				until = at
			}
		}
		r.mu.Unlock()
		o, ok := traffic.GapAround(r.streams[m.Gap.Stream].snapshot(), t, until)
		if !ok {
			return "", fmt.Errorf("%s: no good reply of %s after %q", m.Name, m.Gap.Stream, m.Gap.Around)
		}
		record(report.Measurement{ValueMs: ms(o.Gap)})
		return fmt.Sprintf("%s = %.1f ms (%d failed)", m.Name, *ms(o.Gap), o.Failed), nil
	case m.Lost != "":
		// Failures before the first good reply are the Service not working yet (kube-proxy
		// programs a new address within a second or so), not requests lost.
		rs := r.streams[m.Lost].snapshot()
		for len(rs) > 0 && !rs[0].OK {
			rs = rs[1:]
		}
		n := traffic.Worst(rs).Failed
		record(report.Measurement{Count: &n})
		return fmt.Sprintf("%s = %d", m.Name, n), nil
	case m.Served != "":
		by := traffic.Served(r.streams[m.Served].snapshot())
		n := 0
		for _, c := range by {
			n += c
		}
		record(report.Measurement{Count: &n, ByNode: by})
		return fmt.Sprintf("%s = %d %v", m.Name, n, by), nil
	case m.Between != nil:
		from := steps[m.Between.From]
		kind, ref, _ := strings.Cut(m.Between.To, ":")
		var to time.Time
		switch kind {
		case "step":
			to = steps[ref]
		case "owner":
			r.mu.Lock()
			addr := r.addresses[ref]
			for _, ev := range r.events {
				at := r.t0.Add(time.Duration(ev.AtMs * float64(time.Millisecond)))
				if ev.Kind == report.EventOwner && at.After(from) && addr != "" && strings.Contains(","+addr+",", ","+ev.Subject+",") {
					to = at
					break
				}
			}
			r.mu.Unlock()
		case "recovered":
			if state, t := traffic.Recovery(r.streams[ref].snapshot(), from, time.Now(), time.Hour, 0); state == traffic.Recovered {
				to = t
			}
		}
		if to.IsZero() {
			return "", fmt.Errorf("%s: %s was not observed after step %q", m.Name, m.Between.To, m.Between.From)
		}
		record(report.Measurement{ValueMs: ms(to.Sub(from))})
		return fmt.Sprintf("%s = %.1f ms", m.Name, *ms(to.Sub(from))), nil
	case m.OwnerChanges != nil:
		oc := m.OwnerChanges
		r.mu.Lock()
		from, to := steps[oc.From], time.Now()
		if oc.To != "" {
			to = steps[oc.To]
		}
		addr := r.addresses[oc.Service]
		var seen []string
		for _, ev := range r.events {
			at := r.t0.Add(time.Duration(ev.AtMs * float64(time.Millisecond)))
			if ev.Kind == report.EventOwner && at.After(from) && at.Before(to) && addr != "" && strings.Contains(","+addr+",", ","+ev.Subject+",") {
				seen = append(seen, fmt.Sprintf("%s at %.3fs", ev.Detail, ev.AtMs/1000))
			}
		}
		r.mu.Unlock()
		if addr == "" {
			return "", fmt.Errorf("%s: %s has no address", m.Name, oc.Service)
		}
		n := len(seen)
		record(report.Measurement{Count: &n})
		detail := fmt.Sprintf("%s = %d", m.Name, n)
		if n > 0 {
			detail += ": " + strings.Join(seen, ", ")
		}
		return detail, nil
	}
	return "", fmt.Errorf("empty measurement")
}

// expectBGPPath reads a gobgp lab router's rib.json until a path of the prefix carries the
// expected attributes (and the router has the expected number of paths).
func (r *run) expectBGPPath(ctx context.Context, bp *scenario.BGPPath) (string, error) {
	dir := state.RouterDir(r.e.faults.State, bp.Router)
	return poll(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		prefix, why := r.destination(ctx, bp.Service, bp.Family, bp.Prefix)
		if prefix == "" {
			return false, why, nil
		}
		rib, err := router.ReadRIB(dir) // a gobgp router writes rib.json; FRR is asked
		switch {
		case err == nil:
		case !errors.Is(err, fs.ErrNotExist):
			return false, err.Error(), nil
		default:
			paths, ferr := r.frrPaths(ctx, bp.Router, prefix)
			if ferr != nil {
				return false, "", fmt.Errorf("router %s: no rib.json (gobgp) and no answer from FRR's vtysh: %v", bp.Router, ferr)
			}
			rib.Paths = paths
		}
		var seen []string
		match, n := false, 0
		for _, p := range rib.Paths {
			if p.Prefix != prefix {
				continue
			}
			n++
			seen = append(seen, fmt.Sprintf("via %s %v localpref %d", p.NextHop, p.Communities, p.LocalPref))
			ok := bp.LocalPref == 0 || p.LocalPref == bp.LocalPref
			for _, c := range bp.Communities {
				ok = ok && slices.Contains(p.Communities, c)
			}
			match = match || ok
		}
		desc := fmt.Sprintf("%s has %d paths for %s: %v", bp.Router, n, prefix, seen)
		return match && (bp.Paths == 0 || n == bp.Paths), desc, nil
	})
}

// frrPaths asks an FRR router's bgpd (vtysh, from a thread in the router's namespace) for the
// paths of a prefix.
func (r *run) frrPaths(ctx context.Context, name, prefix string) ([]router.Path, error) {
	dir := state.RouterDir(r.e.faults.State, name)
	if _, err := os.Stat(filepath.Join(dir, "bgpd.vty")); err != nil {
		return nil, fmt.Errorf("not an FRR router: %w", err)
	}
	abs, _ := filepath.Abs(dir)
	afi := "ipv4"
	if strings.Contains(prefix, ":") {
		afi = "ipv6"
	}
	var out []byte
	err := r.e.net.Do(name, func() error {
		var err error
		out, err = exec.CommandContext(ctx, "vtysh", "--vty_socket", abs, "-c", "show bgp "+afi+" unicast "+prefix+" json").Output()
		return err
	})
	if err != nil {
		return nil, err
	}
	var res struct {
		Paths []struct {
			LocPrf    uint32 `json:"locPrf"`
			Community struct {
				String string `json:"string"`
			} `json:"community"`
			LargeCommunity struct {
				String string `json:"string"`
			} `json:"largeCommunity"`
			Nexthops []struct {
				IP string `json:"ip"`
			} `json:"nexthops"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("vtysh: %w", err)
	}
	var paths []router.Path
	for _, p := range res.Paths {
		rp := router.Path{Prefix: prefix, LocalPref: p.LocPrf, Communities: strings.Fields(p.Community.String)}
		for _, l := range strings.Fields(p.LargeCommunity.String) {
			rp.Communities = append(rp.Communities, "large:"+l)
		}
		if len(p.Nexthops) > 0 {
			rp.NextHop = p.Nexthops[0].IP
		}
		paths = append(paths, rp)
	}
	return paths, nil
}
