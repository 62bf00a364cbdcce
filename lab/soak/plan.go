// Package soak is the pure part of `ironlab soak`: the seeded plan of faults and Service churn
// (rounds of fault, hold, undo, settle), its translation into one scenario that the runner
// executes with the same fault code as every other scenario, and the invariant checks over what
// the runner observed. It imports no Kubernetes, netlink or sockets; lab/cli wires it to a lab.
package soak

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// What a soak does: faults (one per round) and Service churn (between rounds).
const (
	NodeKill          = "node-kill"                // node-down mode kill, then node-up
	NodeFreeze        = "node-freeze"              // node-down mode freeze (SIGSTOP), then node-up (thaw)
	SpeakerKill       = "speaker-kill"             // SIGKILL to a speaker; the node agent restarts it
	SpeakerRestart    = "speaker-graceful-restart" // the speaker pod deleted, the new one ready
	LinkFlap          = "link-flap"                // a node's switch ports down and up, twice
	Partition         = "partition"                // a node cut off from every other host, then healed
	Loss              = "loss"                     // packet loss on a node's links, then cleared
	ControllerRestart = "controller-restart"       // the controller pod deleted, the new one ready
	APIServerRestart  = "apiserver-restart"        // kube-apiserver stopped and started

	ServiceCreate = "service-create"
	ServiceDelete = "service-delete"
	ServicePatch  = "service-patch" // the port of a churn Service toggled between 80 and 8081
)

// FaultKinds are every fault a plan draws from; ChurnKinds every churn action.
var (
	FaultKinds = []string{NodeKill, NodeFreeze, SpeakerKill, SpeakerRestart, LinkFlap, Partition, Loss, ControllerRestart, APIServerRestart}
	ChurnKinds = []string{ServiceCreate, ServiceDelete, ServicePatch}
)

// Bounds of a round.
const (
	MinHold = 3 * time.Second
	MaxHold = 8 * time.Second
	// DefaultSettle is the time after a fault is undone before the next one: Services must have
	// addresses, one node must answer ARP/NDP and streams must be good again within it.
	DefaultSettle = 15 * time.Second
	// MaxChurn is how many churn Services may exist at once.
	MaxChurn = 4
)

// Params are what a plan is drawn for.
type Params struct {
	Seed     int64
	Duration time.Duration
	// Settle is the quiet time after each round (DefaultSettle when zero).
	Settle time.Duration
	// Workers are the nodes faults may hit; Others every other host (the far side of a partition).
	Workers, Others []string
	// OwnerOf, when set (layer 2), lets node faults hit the node answering ARP/NDP for this
	// Service ("owner-of:NS/NAME") instead of a random worker, half of the time.
	OwnerOf string
}

// Action is one thing done to the lab: a fault, its undo, or a churn action.
type Action struct {
	Kind     string     `json:"kind"`
	Target   string     `json:"target,omitempty"` // a host, owner-of:NS/NAME, or the Service of a churn action
	Mode     string     `json:"mode,omitempty"`   // node-down: kill or freeze
	Groups   [][]string `json:"groups,omitempty"` // partition
	Loss     string     `json:"loss,omitempty"`   // loss, e.g. 20%
	Port     int32      `json:"port,omitempty"`   // service-patch: the new port
	Flaps    int        `json:"flaps,omitempty"`
	Period   string     `json:"period,omitempty"`
	Scenario string     `json:"scenario,omitempty"` // the scenario fault kind that does it
}

// Round is a fault held for Hold, then undone (Undo is nil for faults that mend themselves: a
// killed speaker restarts, a restarted controller comes back), then Churn, then Settle.
type Round struct {
	N      int           `json:"n"`
	Fault  Action        `json:"fault"`
	Hold   time.Duration `json:"hold"`
	Undo   *Action       `json:"undo,omitempty"`
	Churn  []Action      `json:"churn,omitempty"`
	Settle time.Duration `json:"settle"`
}

// Length is the round's nominal time (the faults themselves take some more to apply).
func (r Round) Length() time.Duration { return r.Hold + r.Settle }

// Plan is a seeded sequence of rounds whose nominal lengths fit in the duration.
type Plan struct {
	Seed     int64         `json:"seed"`
	Duration time.Duration `json:"duration"`
	Rounds   []Round       `json:"rounds"`
}

// NewPlan draws the rounds for a seed: the same parameters always give the same plan. Faults are
// drawn from shuffled passes over FaultKinds, so that every kind comes up once every
// len(FaultKinds) rounds in a random order.
func NewPlan(p Params) Plan {
	if p.Settle <= 0 {
		p.Settle = DefaultSettle
	}
	rng := rand.New(rand.NewPCG(uint64(p.Seed), uint64(p.Seed)^0x50a4))
	pl := Plan{Seed: p.Seed, Duration: p.Duration}
	var deck []string
	var churn []string // live churn Services
	next := 1
	used := time.Duration(0)
	for n := 1; ; n++ {
		hold := MinHold + time.Duration(rng.Int64N(int64(MaxHold-MinHold)/int64(time.Second)+1))*time.Second
		if used+hold+p.Settle > p.Duration || len(p.Workers) == 0 {
			break
		}
		if len(deck) == 0 {
			deck = slices.Clone(FaultKinds)
			rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
		}
		kind := deck[0]
		deck = deck[1:]
		r := Round{N: n, Hold: hold, Settle: p.Settle}
		// A fault that mends itself (Undo nil) holds too: the time to watch the lab recover.
		r.Fault, r.Undo = fault(rng, p, kind)
		for range rng.IntN(3) {
			var a Action
			a, churn, next = churnAction(rng, churn, next)
			r.Churn = append(r.Churn, a)
		}
		pl.Rounds = append(pl.Rounds, r)
		used += r.Length()
	}
	return pl
}

func pick(rng *rand.Rand, xs []string) string { return xs[rng.IntN(len(xs))] }

// fault draws a fault of a kind and the action that undoes it.
func fault(rng *rand.Rand, p Params, kind string) (Action, *Action) {
	worker := pick(rng, p.Workers)
	nodeTarget := worker
	if p.OwnerOf != "" && rng.IntN(2) == 0 {
		nodeTarget = "owner-of:" + p.OwnerOf
	}
	switch kind {
	case NodeKill, NodeFreeze:
		mode := "kill"
		if kind == NodeFreeze {
			mode = "freeze"
		}
		return Action{Kind: kind, Scenario: "node-down", Target: nodeTarget, Mode: mode},
			&Action{Kind: kind, Scenario: "node-up", Target: nodeTarget}
	case SpeakerKill:
		return Action{Kind: kind, Scenario: "kill-speaker", Target: nodeTarget}, nil
	case SpeakerRestart:
		return Action{Kind: kind, Scenario: "graceful-restart-speaker", Target: worker}, nil
	case LinkFlap:
		return Action{Kind: kind, Scenario: "link-flap", Target: worker, Flaps: 2, Period: "2s"}, nil
	case Partition:
		var rest []string
		for _, w := range p.Workers {
			if w != worker {
				rest = append(rest, w)
			}
		}
		rest = append(rest, p.Others...)
		return Action{Kind: kind, Scenario: "partition", Groups: [][]string{{worker}, rest}},
			&Action{Kind: kind, Scenario: "partition-heal"}
	case Loss:
		loss := fmt.Sprintf("%d%%", 10+10*rng.IntN(3))
		return Action{Kind: kind, Scenario: "netem", Target: worker, Loss: loss},
			&Action{Kind: kind, Scenario: "netem-clear", Target: worker}
	case ControllerRestart:
		return Action{Kind: kind, Scenario: "restart-controller"}, nil
	case APIServerRestart:
		return Action{Kind: kind, Scenario: "restart-apiserver"}, nil
	}
	panic("soak: unknown fault kind " + kind)
}

// churnAction creates, deletes or patches a churn Service. Deleting or patching needs one to
// exist and creating needs room under MaxChurn; otherwise the other action is taken.
func churnAction(rng *rand.Rand, live []string, next int) (Action, []string, int) {
	kind := pick(rng, ChurnKinds)
	if len(live) == 0 {
		kind = ServiceCreate
	} else if len(live) >= MaxChurn && kind == ServiceCreate {
		kind = ServiceDelete
	}
	switch kind {
	case ServiceCreate:
		name := fmt.Sprintf("default/churn-%d", next)
		return Action{Kind: kind, Target: name}, append(live, name), next + 1
	case ServiceDelete:
		i := rng.IntN(len(live))
		name := live[i]
		return Action{Kind: kind, Target: name}, slices.Delete(slices.Clone(live), i, i+1), next
	default:
		port := int32(80)
		if rng.IntN(2) == 0 {
			port = 8081
		}
		return Action{Kind: kind, Target: pick(rng, live), Port: port}, live, next
	}
}

// Kinds lists every fault and churn kind the plan contains, each once, in order of appearance.
func (pl Plan) Kinds() []string {
	var out []string
	add := func(k string) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	for _, r := range pl.Rounds {
		add(r.Fault.Kind)
		for _, c := range r.Churn {
			add(c.Kind)
		}
	}
	return out
}

// Length is the plan's nominal time.
func (pl Plan) Length() time.Duration {
	var d time.Duration
	for _, r := range pl.Rounds {
		d += r.Length()
	}
	return d
}
