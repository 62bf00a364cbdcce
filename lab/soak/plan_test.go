package soak

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func params(seed int64, d time.Duration) Params {
	return Params{Seed: seed, Duration: d, Workers: []string{"worker", "worker2", "worker3"},
		Others: []string{"control-plane", "client"}, OwnerOf: OwnerService}
}

func TestSameSeedSamePlan(t *testing.T) {
	a, b := NewPlan(params(7, 10*time.Minute)), NewPlan(params(7, 10*time.Minute))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two plans of seed 7 differ")
	}
	if c := NewPlan(params(8, 10*time.Minute)); reflect.DeepEqual(a.Rounds, c.Rounds) {
		t.Fatal("seeds 7 and 8 gave the same plan")
	}
}

func TestEveryKindComesUp(t *testing.T) {
	pl := NewPlan(params(1, time.Hour))
	got := pl.Kinds()
	for _, k := range append(slices.Clone(FaultKinds), ChurnKinds...) {
		if !slices.Contains(got, k) {
			t.Errorf("an hour's plan has no %s (has %v)", k, got)
		}
	}
	// Shuffled passes: every kind once in each run of len(FaultKinds) rounds.
	for i := 0; i+len(FaultKinds) <= len(pl.Rounds); i += len(FaultKinds) {
		var pass []string
		for _, r := range pl.Rounds[i : i+len(FaultKinds)] {
			pass = append(pass, r.Fault.Kind)
		}
		slices.Sort(pass)
		want := slices.Sorted(slices.Values(FaultKinds))
		if !slices.Equal(pass, want) {
			t.Fatalf("rounds %d-%d: %v, want each fault kind once", i+1, i+len(FaultKinds), pass)
		}
	}
}

func TestUndoFollowsItsFault(t *testing.T) {
	undoOf := map[string]string{"node-down": "node-up", "partition": "partition-heal", "netem": "netem-clear"}
	for seed := int64(0); seed < 20; seed++ {
		pl := NewPlan(params(seed, 30*time.Minute))
		for _, r := range pl.Rounds {
			want, needs := undoOf[r.Fault.Scenario]
			switch {
			case needs && (r.Undo == nil || r.Undo.Scenario != want):
				t.Fatalf("seed %d round %d: %s undone by %+v, want %s", seed, r.N, r.Fault.Scenario, r.Undo, want)
			case !needs && r.Undo != nil:
				t.Fatalf("seed %d round %d: %s mends itself but has undo %+v", seed, r.N, r.Fault.Scenario, r.Undo)
			case needs && r.Fault.Target != r.Undo.Target:
				t.Fatalf("seed %d round %d: fault on %q undone on %q", seed, r.N, r.Fault.Target, r.Undo.Target)
			}
		}
		// In the scenario, the undo comes right after the hold that follows its fault, and acts on the
		// host the fault hit (owner-of: may resolve to another node by then).
		sc, err := pl.Script(Setup{Name: "soak", Topology: "../../topologies/l2.yaml", Impl: "ironlb", Client: "client"})
		if err != nil {
			t.Fatal(err)
		}
		steps := sc.Scenario.Steps
		for i, st := range steps {
			role := sc.Roles[st.Name]
			if role.Part != PartUndo {
				continue
			}
			if i < 2 {
				t.Fatalf("seed %d: undo %q is step %d", seed, st.Name, i)
			}
			f := sc.Roles[steps[i-2].Name]
			if f.Part != PartFault || f.Round != role.Round || f.Kind != role.Kind || steps[i-1].Wait == "" ||
				(st.Fault.Target != "" && st.Fault.Target != "faulted:"+steps[i-2].Name) {
				t.Fatalf("seed %d: undo %q does not follow its fault and hold (%q, %q)", seed, st.Name, steps[i-2].Name, steps[i-1].Name)
			}
		}
	}
}

func TestDurationsRespected(t *testing.T) {
	for _, d := range []time.Duration{0, 10 * time.Second, 90 * time.Second, 3 * time.Minute, 10 * time.Minute} {
		for seed := int64(0); seed < 10; seed++ {
			pl := NewPlan(params(seed, d))
			if pl.Length() > d {
				t.Fatalf("%s seed %d: plan is %s long", d, seed, pl.Length())
			}
			if longest := MaxHold + DefaultSettle; d-pl.Length() > longest {
				t.Fatalf("%s seed %d: plan is %s long, leaving more than a round unused", d, seed, pl.Length())
			}
			for _, r := range pl.Rounds {
				if r.Hold < MinHold || r.Hold > MaxHold || r.Settle != DefaultSettle {
					t.Fatalf("%s seed %d round %d: hold %s, settle %s", d, seed, r.N, r.Hold, r.Settle)
				}
			}
		}
	}
}

func TestChurnOnlyTouchesLiveServices(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		live := map[string]bool{}
		for _, r := range NewPlan(params(seed, time.Hour)).Rounds {
			for _, c := range r.Churn {
				switch c.Kind {
				case ServiceCreate:
					if live[c.Target] {
						t.Fatalf("seed %d: %s created twice", seed, c.Target)
					}
					live[c.Target] = true
				case ServiceDelete, ServicePatch:
					if !live[c.Target] {
						t.Fatalf("seed %d: %s of %s, which does not exist", seed, c.Kind, c.Target)
					}
					if c.Kind == ServiceDelete {
						delete(live, c.Target)
					}
				}
				if len(live) > MaxChurn {
					t.Fatalf("seed %d: %d churn Services", seed, len(live))
				}
			}
		}
	}
}

func TestScriptValidates(t *testing.T) {
	pl := NewPlan(params(3, 5*time.Minute))
	sc, err := pl.Script(Setup{Name: "soak-l2", Topology: "../../topologies/l2.yaml", Impl: "ironlb", Client: "client"})
	if err != nil {
		t.Fatal(err)
	}
	faults := 0
	for _, st := range sc.Scenario.Steps {
		if st.Fault != nil && !strings.Contains(st.Name, "undo") {
			faults++
		}
	}
	if faults != len(pl.Rounds) || len(sc.Streams) != 3 || len(sc.Services) < len(baseServices) {
		t.Fatalf("%d fault steps for %d rounds, streams %v, %d Services", faults, len(pl.Rounds), sc.Streams, len(sc.Services))
	}
}
