//go:build linux

package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ironlb/ironlb/lab/faults"
	"github.com/ironlb/ironlb/lab/report"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/traffic"
)

// run is one run of one scenario on a lab.
type run struct {
	e   *env
	sc  *scenario.Scenario
	out io.Writer
	t0  time.Time

	mu           sync.Mutex
	streams      map[string]*stream
	events       []report.Event
	steps        []report.Step
	stepStart    map[string]time.Time
	measurements map[string]report.Measurement
	deferred     []deferred
	created      []*unstructured.Unstructured
	touched      map[string]bool
	owners       map[netip.Addr]bool // addresses whose ARP/NDP owner is watched
	lastFault    time.Time
	faultAt      map[string]time.Time // step name -> when its fault was applied
	faultHost    map[string]string    // step name -> the host its fault acted on
	apiStopped   bool                 // an apiserver-down fault left the API server stopped
	apiFaulted   bool                 // the API server was stopped or restarted
	currentStep  string
	deferredErr  string            // the first failed deferred check (it fails the scenario)
	addresses    map[string]string // Service NS/NAME -> its addresses, as last seen
	// watchOwnersFrom: watch the ARP/NDP owner of every address a Service gets from this host.
	watchOwnersFrom string

	watchers sync.WaitGroup
	stopAll  context.CancelFunc
}

// stream is a running (or stopped) traffic stream.
type stream struct {
	spec    *scenario.Stream
	target  string
	addr    netip.Addr
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	results []traffic.Result
	started time.Time
	stopped time.Time
}

func (s *stream) snapshot() []traffic.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.results)
}

// deferred is a check that needs the future: a never expectation, or noReplyFrom, decided when
// its stream stops or the scenario ends.
type deferred struct {
	step   int
	stream string // decided when this stream stops ("" at the end)
	// check returns an error and the time of the violation.
	check func(until time.Time) (time.Time, error)
}

func newRun(e *env, sc *scenario.Scenario, out io.Writer) *run {
	return &run{e: e, sc: sc, out: out, streams: map[string]*stream{}, stepStart: map[string]time.Time{},
		measurements: map[string]report.Measurement{}, touched: map[string]bool{}, owners: map[netip.Addr]bool{},
		addresses: map[string]string{}, faultAt: map[string]time.Time{}, faultHost: map[string]string{}}
}

func (r *run) ms(t time.Time) float64 { return float64(t.Sub(r.t0).Microseconds()) / 1000 }

func (r *run) event(kind, subject, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, report.Event{AtMs: r.ms(time.Now()), Kind: kind, Subject: subject, Detail: detail})
}

func (r *run) printf(format string, args ...any) {
	if r.out != nil {
		fmt.Fprintf(r.out, format, args...)
	}
}

// execute runs the steps and returns the scenario's record. The lab is left as the scenario left
// it; cleanup undoes that.
func (r *run) execute(ctx context.Context) report.Scenario {
	timeout, _ := time.ParseDuration(r.sc.Timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wctx, stopAll := context.WithCancel(context.Background())
	r.stopAll = stopAll
	r.t0 = time.Now()
	r.watchAddresses(wctx)
	r.watchRoutes(wctx)

	res := report.Scenario{Name: r.sc.Name, Description: r.sc.Description, Implementation: r.e.impl, Passed: true}
	for _, f := range r.sc.Manifests {
		if err := r.applyFile(ctx, f); err != nil {
			res.Passed, res.Error = false, fmt.Sprintf("manifests: %v", err)
			r.printf("    FAIL manifests: %v\n", err)
			break
		}
	}
	for i := range r.sc.Steps {
		st := &r.sc.Steps[i]
		rec := report.Step{Name: st.Name, Kind: st.Kind()}
		if res.Passed && r.deferredErr != "" {
			res.Passed, res.Error = false, r.deferredErr
		}
		if !res.Passed {
			rec.Skipped = true
			r.steps = append(r.steps, rec)
			continue
		}
		if len(st.Only) > 0 && !slices.Contains(st.Only, r.e.impl) {
			rec.Passed, rec.Skipped, rec.Detail = true, true, "only for "+strings.Join(st.Only, ", ")
			r.steps = append(r.steps, rec)
			r.printf("           skip %-28s (only for %s)\n", st.Name, strings.Join(st.Only, ", "))
			continue
		}
		start := time.Now()
		r.mu.Lock()
		r.stepStart[st.Name] = start
		r.currentStep = st.Name
		r.mu.Unlock()
		r.event(report.EventStep, st.Name, st.Kind())
		rec.StartMs = r.ms(start)
		stepTimeout, _ := time.ParseDuration(st.Timeout)
		sctx, scancel := context.WithTimeout(ctx, stepTimeout)
		detail, err := r.step(sctx, i, st)
		scancel()
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("scenario timeout (%s) or interrupted: %w", r.sc.Timeout, ctx.Err())
		}
		rec.EndMs, rec.Detail, rec.Passed = r.ms(time.Now()), detail, err == nil
		mark := "ok  "
		if err != nil {
			rec.Error = err.Error()
			res.Passed, res.Error = false, fmt.Sprintf("step %q: %v", st.Name, err)
			mark = "FAIL"
		}
		r.mu.Lock()
		r.steps = append(r.steps, rec)
		r.mu.Unlock()
		line := detail
		if err != nil {
			line = err.Error()
		}
		r.printf("  %7.2fs %s %-28s %s\n", rec.StartMs/1000, mark, st.Name, line)
		if err != nil {
			r.printf("%s", indent(r.excerpt(time.Now()), "            "))
		}
	}
	// Streams still running end with the scenario; their deferred checks are decided now.
	for _, name := range r.streamNames() {
		r.stopStream(name)
	}
	r.decide("", time.Now())
	if res.Passed && r.deferredErr != "" {
		res.Passed, res.Error = false, r.deferredErr
	}
	r.mu.Lock()
	stop := r.stopAll
	r.mu.Unlock()
	stop()
	r.watchers.Wait()

	res.DurationMs = r.ms(time.Now())
	res.Steps = r.steps
	res.Measurements = r.measurements
	res.Timeline = r.timeline()
	return res
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}

// decide runs the deferred checks of a stream (or, for "", all that are left) and marks the
// steps that registered a failing one.
func (r *run) decide(streamName string, until time.Time) {
	r.mu.Lock()
	var now, later []deferred
	for _, d := range r.deferred {
		if streamName == "" || d.stream == streamName {
			now = append(now, d)
		} else {
			later = append(later, d)
		}
	}
	r.deferred = later
	r.mu.Unlock()
	for _, d := range now {
		at, err := d.check(until)
		if err == nil {
			continue
		}
		r.mu.Lock()
		if d.step < len(r.steps) {
			r.steps[d.step].Passed = false
			r.steps[d.step].Error = err.Error()
		}
		r.mu.Unlock()
		name := r.sc.Steps[d.step].Name
		r.printf("          FAIL %-28s %v\n", name, err)
		r.printf("%s", indent(r.excerpt(at), "            "))
		if r.deferredErr == "" {
			r.deferredErr = fmt.Sprintf("step %q: %v", name, err)
		}
	}
}

func (r *run) streamNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n, s := range r.streams {
		if s.stopped.IsZero() {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// stopStream stops a stream and waits for its last request.
func (r *run) stopStream(name string) {
	r.mu.Lock()
	s := r.streams[name]
	r.mu.Unlock()
	if s == nil || !s.stopped.IsZero() {
		return
	}
	s.cancel()
	<-s.done
	r.mu.Lock()
	s.stopped = time.Now()
	r.mu.Unlock()
}

// timeline converts what was observed into the report's form.
func (r *run) timeline() report.Timeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	var tl report.Timeline
	names := make([]string, 0, len(r.streams))
	for n := range r.streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := r.streams[n]
		rs := s.snapshot()
		out := report.Stream{Name: n, From: s.spec.From, Target: s.target, Protocol: s.spec.Protocol, Requests: make([]report.Request, 0, len(rs))}
		for _, q := range rs {
			out.Requests = append(out.Requests, report.Request{AtMs: r.ms(q.At), LatencyMs: float64(q.Latency.Microseconds()) / 1000,
				OK: q.OK, Node: q.Node, Pod: q.Pod, Err: q.Err})
		}
		tl.Streams = append(tl.Streams, out)
	}
	tl.Events = slices.Clone(r.events)
	return tl
}

// excerpt summarises the streams and events from 2 s before at to 1 s after it, for failure
// messages: what was expected is in the error, what was seen is here.
func (r *run) excerpt(at time.Time) string {
	from, to := at.Add(-2*time.Second), at.Add(time.Second)
	var b strings.Builder
	r.mu.Lock()
	events := slices.Clone(r.events)
	streams := map[string]*stream{}
	for n, s := range r.streams {
		streams[n] = s
	}
	r.mu.Unlock()
	fmt.Fprintf(&b, "timeline %.3fs to %.3fs:\n", r.ms(from)/1000, r.ms(to)/1000)
	for _, ev := range events {
		t := r.t0.Add(time.Duration(ev.AtMs * float64(time.Millisecond)))
		if t.After(from) && t.Before(to) && ev.Kind != report.EventStep {
			fmt.Fprintf(&b, "  %8.3fs %s %s %s\n", ev.AtMs/1000, ev.Kind, ev.Subject, ev.Detail)
		}
	}
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rs := streams[n].snapshot()
		i := sort.Search(len(rs), func(i int) bool { return !rs[i].At.Before(from) })
		j := sort.Search(len(rs), func(i int) bool { return !rs[i].At.Before(to) })
		fmt.Fprintf(&b, "  stream %s:\n", n)
		for _, run := range runsOf(rs[i:j]) {
			fmt.Fprintf(&b, "  %8.3fs-%.3fs %4d %s\n", r.ms(run.from)/1000, r.ms(run.to)/1000, run.n, run.what)
		}
	}
	return b.String()
}

type resultRun struct {
	from, to time.Time
	n        int
	what     string
	nodes    map[string]int
}

// runsOf groups consecutive results by outcome (good replies, with the nodes that gave them, or
// failures with the same error).
func runsOf(rs []traffic.Result) []resultRun {
	var out []resultRun
	for _, q := range rs {
		what := "ok"
		if !q.OK {
			what = "failed: " + q.Err
		}
		if n := len(out); n > 0 && out[n-1].what == what {
			out[n-1].to, out[n-1].n = q.At, out[n-1].n+1
			if q.OK {
				out[n-1].nodes[q.Node]++
			}
			continue
		}
		out = append(out, resultRun{from: q.At, to: q.At, n: 1, what: what, nodes: map[string]int{}})
		if q.OK {
			out[len(out)-1].nodes[q.Node]++
		}
	}
	for i := range out {
		if len(out[i].nodes) > 0 {
			var parts []string
			for _, n := range slices.Sorted(maps.Keys(out[i].nodes)) {
				parts = append(parts, fmt.Sprintf("%s %d", n, out[i].nodes[n]))
			}
			out[i].what += " from " + strings.Join(parts, ", ")
		}
	}
	return out
}

// cleanup deletes what the scenario created and mends what it broke, so that the next scenario
// finds the lab as new.
func (r *run) cleanup(ctx context.Context) error {
	var errs []error
	var hosts []string
	for h := range r.touched {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	if r.apiStopped {
		if _, err := r.e.faults.StartAPIServer(); err != nil {
			errs = append(errs, err)
		} else if err := faults.WaitAPIReady(ctx, r.e.cs); err != nil {
			errs = append(errs, err)
		}
	}
	if r.apiFaulted {
		// The next scenario gets a controller manager and scheduler that list at once, not ones
		// waiting out client-go's back-off after the API server's restart (faults.RestartControllers).
		if err := r.e.faults.RestartControllers(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.e.mend(ctx, hosts); err != nil {
		errs = append(errs, err)
	}
	// A delete refused for the moment is tried again: the validating webhook is away while the
	// controller moves (its node was the one failed), and metallb.io deletes go through it.
	delErr := r.e.ap.Delete(ctx, r.created)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		gone, err := r.e.ap.Gone(ctx, r.created)
		if err == nil && gone {
			break
		}
		time.Sleep(300 * time.Millisecond)
		if delErr != nil {
			delErr = r.e.ap.Delete(ctx, r.created)
		}
	}
	if gone, _ := r.e.ap.Gone(ctx, r.created); !gone {
		if delErr != nil {
			errs = append(errs, delErr)
		}
		errs = append(errs, fmt.Errorf("objects of scenario %q still exist after 90 s", r.sc.Name))
	}
	return errors.Join(errs...)
}

func fileBase(p string) string {
	if i := strings.LastIndexByte(p, os.PathSeparator); i >= 0 {
		return p[i+1:]
	}
	return p
}
