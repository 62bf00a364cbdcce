package soak

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ironlb/ironlb/lab/report"
)

// FaultRecord is one fault, undo or churn step as it happened.
type FaultRecord struct {
	Round   int     `json:"round"`
	Part    string  `json:"part"` // fault, undo, churn
	Kind    string  `json:"kind"`
	Target  string  `json:"target,omitempty"`
	Host    string  `json:"host,omitempty"` // the host it hit, as resolved (owner-of:...)
	StartMs float64 `json:"startMs"`
	EndMs   float64 `json:"endMs"`
	Detail  string  `json:"detail,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// StreamStats count a stream's requests.
type StreamStats struct {
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
}

// Checks are the bounds the invariants are checked with.
type Checks struct {
	Settle   time.Duration // after a fault's end, the lab may still be disturbed this long
	Recovery time.Duration // a stream recovers within this after a fault's end
}

// Evaluation is what one soak scenario run showed.
type Evaluation struct {
	Faults     []FaultRecord          `json:"faults"`
	Violations []Violation            `json:"violations"`
	Streams    map[string]StreamStats `json:"streams"`
}

func dur(msv float64) time.Duration { return time.Duration(msv * float64(time.Millisecond)) }

// Evaluate checks every invariant over the runner's record of the soak scenario: its steps
// (faults, undos, churn, with their times), and its timeline (address changes, ARP/NDP owners,
// every request of every stream).
func Evaluate(sc *Script, res report.Scenario, c Checks, seed int64) Evaluation {
	ev := Evaluation{Streams: map[string]StreamStats{}}
	end := dur(res.DurationMs)
	var windows []Window
	var lives []Life
	open := map[int]int{} // round -> index in windows
	var setup *Window
	faultHosts := faultSubjects(res.Timeline.Events)
	for _, st := range res.Steps {
		role, ok := sc.Roles[st.Name]
		if !ok || st.Skipped {
			continue
		}
		if !st.Passed {
			ev.Violations = append(ev.Violations, Violation{AtMs: st.EndMs, Invariant: InvStep,
				Detail: fmt.Sprintf("step %q: %s", st.Name, st.Error)})
		}
		switch {
		case role.Part == PartFault && role.Kind != "":
			open[role.Round] = len(windows)
			windows = append(windows, Window{Round: role.Round, Kind: role.Kind, Start: dur(st.StartMs), End: dur(st.EndMs)})
		case role.Part == PartUndo:
			if i, ok := open[role.Round]; ok {
				windows[i].End = dur(st.EndMs)
			}
		}
		if role.Kind == ServiceCreate {
			lives = append(lives, Life{Service: role.Target, Created: dur(st.StartMs)})
		}
		if role.Part == PartSetup && role.Kind == ServiceCreate {
			// Making the soak's first Services is not a settled lab: their pods become ready
			// node by node, and speakers that see a Local Service's endpoints a moment apart
			// may both own its address for that moment (docs/soak.md).
			if setup == nil {
				setup = &Window{Kind: PartSetup, Start: dur(st.StartMs)}
			}
			setup.End = dur(st.EndMs)
		}
		if role.Kind == ServiceDelete {
			for i := len(lives) - 1; i >= 0; i-- {
				if lives[i].Service == role.Target && lives[i].Deleted == 0 {
					lives[i].Deleted = dur(st.StartMs)
					break
				}
			}
		}
		if role.Part != PartSetup && role.Kind != "" {
			ev.Faults = append(ev.Faults, FaultRecord{Round: role.Round, Part: role.Part, Kind: role.Kind, Target: role.Target,
				Host: faultHosts[st.Name], StartMs: st.StartMs, EndMs: st.EndMs, Detail: st.Detail, Error: st.Error})
		}
	}
	unsettled := windows // the address and owner checks also wait out the setup
	if setup != nil {
		unsettled = append([]Window{*setup}, windows...)
	}
	var addrs []AddressChange
	var owners []OwnerChange
	for _, e := range res.Timeline.Events {
		switch e.Kind {
		case report.EventAddress:
			addrs = append(addrs, AddressChange{At: dur(e.AtMs), Service: e.Subject, Addrs: split(e.Detail)})
		case report.EventOwner:
			o := split(e.Detail)
			if e.Detail == "none" {
				o = nil
			}
			owners = append(owners, OwnerChange{At: dur(e.AtMs), Addr: e.Subject, Owners: o})
		}
	}
	ev.Violations = append(ev.Violations, CheckSharing(sc.Services, lives, addrs)...)
	ev.Violations = append(ev.Violations, CheckPending(lives, addrs, unsettled, c.Settle, end)...)
	ev.Violations = append(ev.Violations, CheckOwners(owners, unsettled, c.Settle, end)...)
	ev.Violations = append(ev.Violations, CheckAnnounced(lives, addrs, owners, unsettled, c.Settle, end)...)
	for _, s := range res.Timeline.Streams {
		reqs := make([]Request, 0, len(s.Requests))
		st := StreamStats{Requests: len(s.Requests)}
		for _, q := range s.Requests {
			reqs = append(reqs, Request{At: dur(q.AtMs), OK: q.OK})
			if !q.OK {
				st.Failed++
			}
		}
		ev.Streams[s.Name] = st
		streamEnd := end
		if n := len(reqs); n > 0 {
			streamEnd = reqs[n-1].At
		}
		ev.Violations = append(ev.Violations, CheckRecovery(s.Name, reqs, windows, c.Recovery, streamEnd)...)
	}
	Stamp(ev.Violations, seed)
	return ev
}

// Stamp sorts violations by time and sets the seed that reproduces them.
func Stamp(vs []Violation, seed int64) {
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].AtMs < vs[j].AtMs })
	for i := range vs {
		vs[i].Seed = seed
	}
}

// faultSubjects maps a fault step's name to the target its fault event names (resolved: the
// node behind owner-of:...).
func faultSubjects(events []report.Event) map[string]string {
	out := map[string]string{}
	var step string
	for _, e := range events {
		switch e.Kind {
		case report.EventStep:
			step = e.Subject
		case report.EventFault:
			out[step] = e.Subject
		}
	}
	return out
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
