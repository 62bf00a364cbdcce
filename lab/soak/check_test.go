package soak

import (
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/report"
)

const s = time.Second

func TestCheckSharing(t *testing.T) {
	specs := map[string]ServiceSpec{
		"d/tcp":   {SharingKey: "k", Ports: []Port{{80, "TCP"}}},
		"d/udp":   {SharingKey: "k", Ports: []Port{{53, "UDP"}}},
		"d/tcp2":  {SharingKey: "k", Ports: []Port{{80, "TCP"}}},
		"d/other": {SharingKey: "j", Ports: []Port{{53, "UDP"}}},
		"d/plain": {Ports: []Port{{81, "TCP"}}},
	}
	for _, tc := range []struct {
		name    string
		lives   []Life
		changes []AddressChange
		want    int
	}{
		{"distinct addresses", nil, []AddressChange{{1 * s, "d/tcp", []string{"10.0.0.1"}}, {1 * s, "d/plain", []string{"10.0.0.2"}}}, 0},
		{"same key, other ports: legal", nil, []AddressChange{{1 * s, "d/tcp", []string{"10.0.0.1"}}, {2 * s, "d/udp", []string{"10.0.0.1"}}}, 0},
		{"same key, same port", nil, []AddressChange{{1 * s, "d/tcp", []string{"10.0.0.1"}}, {2 * s, "d/tcp2", []string{"10.0.0.1"}}}, 1},
		{"other keys", nil, []AddressChange{{1 * s, "d/tcp", []string{"10.0.0.1"}}, {2 * s, "d/other", []string{"10.0.0.1"}}}, 1},
		{"no key", nil, []AddressChange{{1 * s, "d/plain", []string{"10.0.0.1"}}, {2 * s, "d/udp", []string{"10.0.0.1"}}}, 1},
		{"unknown Services share nothing", nil, []AddressChange{{1 * s, "x/a", []string{"10.0.0.1"}}, {2 * s, "x/b", []string{"10.0.0.1"}}}, 1},
		{"reused after a deletion", []Life{{Service: "d/plain", Created: 0, Deleted: 3 * s}},
			[]AddressChange{{1 * s, "d/plain", []string{"10.0.0.1"}}, {4 * s, "d/tcp", []string{"10.0.0.1"}}}, 0},
		{"moved away first", nil, []AddressChange{{1 * s, "d/plain", []string{"10.0.0.1"}}, {2 * s, "d/plain", nil}, {3 * s, "d/tcp", []string{"10.0.0.1"}}}, 0},
		{"reported once", nil, []AddressChange{{1 * s, "d/plain", []string{"10.0.0.1"}}, {2 * s, "d/tcp", []string{"10.0.0.1"}}, {3 * s, "d/tcp", []string{"10.0.0.1", "fc00::1"}}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckSharing(specs, tc.lives, tc.changes)
			if len(got) != tc.want {
				t.Fatalf("%d violations, want %d: %+v", len(got), tc.want, got)
			}
			for _, v := range got {
				if v.Invariant != InvSharing || !strings.Contains(v.Detail, "10.0.0.1") {
					t.Fatalf("violation %+v", v)
				}
			}
		})
	}
}

func TestCheckPending(t *testing.T) {
	settle := 10 * s
	fault := []Window{{Round: 1, Kind: ControllerRestart, Start: 20 * s, End: 25 * s}}
	for _, tc := range []struct {
		name    string
		lives   []Life
		changes []AddressChange
		end     time.Duration
		want    int
	}{
		{"assigned at once", []Life{{"d/a", 0, 0}}, []AddressChange{{1 * s, "d/a", []string{"10.0.0.1"}}}, 60 * s, 0},
		{"assigned within settle", []Life{{"d/a", 0, 0}}, []AddressChange{{9 * s, "d/a", []string{"10.0.0.1"}}}, 60 * s, 0},
		{"never assigned", []Life{{"d/a", 0, 0}}, nil, 60 * s, 1},
		{"assigned late", []Life{{"d/a", 0, 0}}, []AddressChange{{15 * s, "d/a", []string{"10.0.0.1"}}}, 60 * s, 1},
		{"lost during a fault, back within settle", []Life{{"d/a", 0, 0}},
			[]AddressChange{{1 * s, "d/a", []string{"10.0.0.1"}}, {21 * s, "d/a", nil}, {30 * s, "d/a", []string{"10.0.0.1"}}}, 60 * s, 0},
		{"lost during a fault, not back after settle", []Life{{"d/a", 0, 0}},
			[]AddressChange{{1 * s, "d/a", []string{"10.0.0.1"}}, {21 * s, "d/a", nil}, {40 * s, "d/a", []string{"10.0.0.1"}}}, 60 * s, 1},
		{"lost twice: two episodes", []Life{{"d/a", 0, 0}},
			[]AddressChange{{1 * s, "d/a", []string{"10.0.0.1"}}, {12 * s, "d/a", nil}, {14 * s, "d/a", []string{"10.0.0.1"}}, {40 * s, "d/a", nil}}, 60 * s, 2},
		{"deleted before settle", []Life{{"d/a", 0, 5 * s}}, nil, 60 * s, 0},
		{"made during a fault", []Life{{"d/a", 22 * s, 0}}, []AddressChange{{34 * s, "d/a", []string{"10.0.0.1"}}}, 60 * s, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckPending(tc.lives, tc.changes, fault, settle, tc.end)
			if len(got) != tc.want {
				t.Fatalf("%d violations, want %d: %+v", len(got), tc.want, got)
			}
		})
	}
}

func TestCheckOwners(t *testing.T) {
	settle := 5 * s
	fault := []Window{{Round: 1, Kind: Partition, Start: 10 * s, End: 15 * s}}
	two := []string{"worker", "worker2"}
	for _, tc := range []struct {
		name    string
		changes []OwnerChange
		want    int
	}{
		{"one owner throughout", []OwnerChange{{0, "10.0.0.1", []string{"worker"}}}, 0},
		{"two owners while partitioned, one after settle", []OwnerChange{{0, "10.0.0.1", []string{"worker"}}, {11 * s, "10.0.0.1", two}, {18 * s, "10.0.0.1", []string{"worker2"}}}, 0},
		{"two owners past settle", []OwnerChange{{0, "10.0.0.1", []string{"worker"}}, {11 * s, "10.0.0.1", two}, {25 * s, "10.0.0.1", []string{"worker2"}}}, 1},
		{"two owners with no fault", []OwnerChange{{0, "10.0.0.1", []string{"worker"}}, {3 * s, "10.0.0.1", two}, {4 * s, "10.0.0.1", []string{"worker"}}}, 1},
		{"none is not two", []OwnerChange{{0, "10.0.0.1", nil}}, 0},
		{"per address", []OwnerChange{{0, "10.0.0.1", two}, {0, "10.0.0.2", two}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckOwners(tc.changes, fault, settle, 30*s)
			if len(got) != tc.want {
				t.Fatalf("%d violations, want %d: %+v", len(got), tc.want, got)
			}
		})
	}
}

func TestCheckAnnounced(t *testing.T) {
	settle := 5 * s
	fault := []Window{{Round: 1, Kind: SpeakerKill, Start: 10 * s, End: 15 * s}}
	lives := []Life{{Service: "default/a", Created: 0}}
	held := []AddressChange{{At: s, Service: "default/a", Addrs: []string{"10.0.0.1"}}}
	w := []string{"worker"}
	for _, tc := range []struct {
		name   string
		lives  []Life
		addrs  []AddressChange
		owners []OwnerChange
		want   int
	}{
		{"answered throughout", lives, held, []OwnerChange{{s, "10.0.0.1", w}}, 0},
		{"dark while disturbed, answered after settle", lives, held, []OwnerChange{{s, "10.0.0.1", w}, {11 * s, "10.0.0.1", nil}, {19 * s, "10.0.0.1", w}}, 0},
		{"dark past settle", lives, held, []OwnerChange{{s, "10.0.0.1", w}, {11 * s, "10.0.0.1", nil}, {25 * s, "10.0.0.1", w}}, 1},
		{"dark with no fault", lives, held, []OwnerChange{{s, "10.0.0.1", w}, {30 * s, "10.0.0.1", nil}}, 1},
		{"a new Service never announced", lives, held, []OwnerChange{{s, "10.0.0.1", nil}}, 1},
		{"one lost probe is not dark", lives, held, []OwnerChange{{s, "10.0.0.1", w}, {30 * s, "10.0.0.1", nil}, {30*s + 500*time.Millisecond, "10.0.0.1", w}}, 0},
		{"not watched: not judged", lives, held, nil, 0},
		{"dark after the Service is gone", []Life{{Service: "default/a", Created: 0, Deleted: 29 * s}}, held, []OwnerChange{{s, "10.0.0.1", w}, {30 * s, "10.0.0.1", nil}}, 0},
		{"dark while it has no address", lives, []AddressChange{{At: s, Service: "default/a", Addrs: []string{"10.0.0.1"}}, {28 * s, "default/a", nil}}, []OwnerChange{{s, "10.0.0.1", w}, {30 * s, "10.0.0.1", nil}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckAnnounced(tc.lives, tc.addrs, tc.owners, fault, settle, 40*s)
			if len(got) != tc.want {
				t.Fatalf("%d violations, want %d: %+v", len(got), tc.want, got)
			}
		})
	}
}

// reqs makes a request every 100 ms from 0 to end, failing in [failFrom, failTo).
func reqs(end, failFrom, failTo time.Duration) []Request {
	var out []Request
	for t := time.Duration(0); t < end; t += 100 * time.Millisecond {
		out = append(out, Request{At: t, OK: t < failFrom || t >= failTo})
	}
	return out
}

func TestCheckRecovery(t *testing.T) {
	bound := 5 * s
	faults := []Window{{Round: 1, Kind: NodeKill, Start: 10 * s, End: 15 * s}, {Round: 2, Kind: Loss, Start: 40 * s, End: 45 * s}}
	for _, tc := range []struct {
		name string
		reqs []Request
		want int
	}{
		{"never failed", reqs(70*s, 0, 0), 0},
		{"failed during the fault only", reqs(70*s, 10*s, 15*s), 0},
		{"recovered within the bound", reqs(70*s, 10*s, 19*s), 0},
		{"recovered late", reqs(70*s, 10*s, 22*s), 1},
		{"not before the next fault", reqs(70*s, 10*s, 41*s), 1},
		{"not at all", reqs(70*s, 10*s, 70*s), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckRecovery("a", tc.reqs, faults, bound, 70*s)
			if len(got) != tc.want {
				t.Fatalf("%d violations, want %d: %+v", len(got), tc.want, got)
			}
		})
	}
	// A blip that does not last Stable does not count as recovered.
	rs := reqs(70*s, 10*s, 25*s)
	for i := range rs {
		if rs[i].At == 16*s {
			rs[i].OK = true
		}
	}
	if got := CheckRecovery("a", rs, faults[:1], bound, 70*s); len(got) != 1 || !strings.Contains(got[0].Detail, "10s") {
		t.Fatalf("a single good reply counted as recovery: %+v", got)
	}
	// A window too short to decide is not a violation.
	if got := CheckRecovery("a", reqs(70*s, 10*s, 70*s), []Window{{Start: 10 * s, End: 15 * s}, {Start: 17 * s, End: 18 * s}}, bound, 20*s); len(got) != 0 {
		t.Fatalf("undecidable windows reported: %+v", got)
	}
}

func TestCheckResources(t *testing.T) {
	l := Limits{Warmup: 10 * s, Factor: 2, RSSMarginBytes: 10, GoroutinesMargin: 10}
	at := func(sec float64) float64 { return sec * 1000 }
	for _, tc := range []struct {
		name    string
		samples []Sample
		want    int
	}{
		{"steady", []Sample{{at(11), "speaker/w", 100, 50}, {at(20), "speaker/w", 150, 60}}, 0},
		{"warm-up readings are no baseline", []Sample{{at(1), "speaker/w", 10, 5}, {at(11), "speaker/w", 100, 50}, {at(20), "speaker/w", 200, 100}}, 0},
		{"memory grows", []Sample{{at(11), "speaker/w", 100, 50}, {at(20), "speaker/w", 211, 50}, {at(30), "speaker/w", 300, 50}}, 1},
		{"goroutines grow", []Sample{{at(11), "controller", 100, 50}, {at(20), "controller", 100, 111}}, 1},
		{"both, per component", []Sample{{at(11), "controller", 100, 50}, {at(11), "speaker/w", 100, 50}, {at(20), "controller", 300, 111}, {at(20), "speaker/w", 300, 50}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckResources(tc.samples, l)
			if len(got) != tc.want {
				t.Fatalf("%d violations, want %d: %+v", len(got), tc.want, got)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	pl := Plan{Seed: 9, Duration: time.Minute, Rounds: []Round{{N: 1, Fault: Action{Kind: NodeKill, Scenario: "node-down", Target: "worker", Mode: "kill"},
		Hold: 3 * s, Undo: &Action{Kind: NodeKill, Scenario: "node-up", Target: "worker"}, Settle: DefaultSettle}}}
	sc, err := pl.Script(Setup{Name: "soak", Topology: "../../topologies/l2.yaml", Impl: "ironlb", Client: "client"})
	if err != nil {
		t.Fatal(err)
	}
	step := func(name string, from, to float64) report.Step {
		return report.Step{Name: name, Passed: true, StartMs: from, EndMs: to}
	}
	var requests []report.Request
	for t := 0.0; t < 40000; t += 100 {
		requests = append(requests, report.Request{AtMs: t, OK: t < 10000 || t > 30000})
	}
	res := report.Scenario{DurationMs: 40000, Steps: []report.Step{
		step("setup default/soak-a", 0, 1000),
		step("r01 fault node-kill", 10000, 10100), step("r01 hold", 10100, 13100), step("r01 undo node-kill", 13100, 14000),
	}, Timeline: report.Timeline{
		Streams: []report.Stream{{Name: "a", Requests: requests}},
		Events: []report.Event{{AtMs: 10000, Kind: report.EventStep, Subject: "r01 fault node-kill"}, {AtMs: 10001, Kind: report.EventFault, Subject: "worker2", Detail: "node-down"},
			{AtMs: 500, Kind: report.EventAddress, Subject: "default/soak-a", Detail: "10.0.0.1"},
			{AtMs: 800, Kind: report.EventAddress, Subject: "default/churn-9", Detail: "10.0.0.1"},
			// two owners while the setup makes its Services: not settled, no violation
			{AtMs: 600, Kind: report.EventOwner, Subject: "10.0.0.1", Detail: "worker,worker2"},
			{AtMs: 850, Kind: report.EventOwner, Subject: "10.0.0.1", Detail: "worker"},
			// two owners 20 s after the undo: a violation
			{AtMs: 34000, Kind: report.EventOwner, Subject: "10.0.0.1", Detail: "worker,worker3"},
			{AtMs: 34500, Kind: report.EventOwner, Subject: "10.0.0.1", Detail: "worker"}},
	}}
	ev := Evaluate(sc, res, Checks{Settle: 5 * s, Recovery: 5 * s}, 9)
	var kinds []string
	for _, v := range ev.Violations {
		kinds = append(kinds, v.Invariant)
		if v.Seed != 9 {
			t.Fatalf("violation without its seed: %+v", v)
		}
	}
	if strings.Join(kinds, ",") != InvSharing+","+InvRecovery+","+InvARPOwner {
		t.Fatalf("violations %v, want sharing, recovery, the settled two owners at 34 s (not those in setup): %+v", kinds, ev.Violations)
	}
	if len(ev.Faults) != 2 || ev.Faults[0].Host != "worker2" || ev.Streams["a"].Failed == 0 {
		t.Fatalf("faults %+v, streams %+v", ev.Faults, ev.Streams)
	}
}
