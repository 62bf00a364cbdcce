package soak

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Invariants, as named in violations.
const (
	InvSharing   = "address-sharing"  // no address on two Services unless they legally share it
	InvPending   = "address-assigned" // every Service has an address once the lab settled
	InvARPOwner  = "one-arp-owner"    // at most one node answers ARP/NDP per address once settled
	InvAnnounced = "announced"        // some node answers ARP/NDP for every address a Service has once settled
	InvRecovery  = "stream-recovery"  // every stream recovers within its bound after each fault
	InvResources = "resources"        // speaker and controller memory and goroutines stay bounded
	InvStep      = "soak-step"        // a fault or churn step could not be done: the soak stopped there
)

// Violation is one broken invariant, with the seed that reproduces the run.
type Violation struct {
	AtMs      float64 `json:"atMs"` // since the soak scenario began
	Invariant string  `json:"invariant"`
	Detail    string  `json:"detail"`
	Seed      int64   `json:"seed"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Window is a fault from its application to its undo (or, for faults that mend themselves, the
// end of their step). The lab is disturbed from Start to End plus the settle time.
type Window struct {
	Round      int
	Kind       string
	Start, End time.Duration
}

// disturbed reports whether t falls in a window or within settle of its end.
func disturbed(ws []Window, settle, t time.Duration) bool {
	for _, w := range ws {
		if t >= w.Start && t < w.End+settle {
			return true
		}
	}
	return false
}

// AddressChange is a Service's addresses from At on ("" deleted or none).
type AddressChange struct {
	At      time.Duration
	Service string
	Addrs   []string
}

// Life is when a Service existed (Deleted zero: until the end).
type Life struct {
	Service          string
	Created, Deleted time.Duration
}

// legal reports whether two Services may hold one address: both carry the same
// metallb.io/allow-shared-ip key and no port (with its protocol) is in both.
func legal(a, b ServiceSpec) bool {
	if a.SharingKey == "" || a.SharingKey != b.SharingKey {
		return false
	}
	for _, p := range a.Ports {
		if slices.Contains(b.Ports, p) {
			return false
		}
	}
	return true
}

// CheckSharing replays address changes and deletions in time order and reports each moment an
// address is held by two Services that may not share it. A Service deleted stops holding its
// addresses when its deletion began. Unknown Services (not made by the soak) are checked with no
// sharing key.
func CheckSharing(specs map[string]ServiceSpec, lives []Life, changes []AddressChange) []Violation {
	type ev struct {
		at   time.Duration
		svc  string
		adds []string
		del  bool
	}
	var evs []ev
	for _, c := range changes {
		evs = append(evs, ev{at: c.At, svc: c.Service, adds: c.Addrs})
	}
	for _, l := range lives {
		if l.Deleted > 0 {
			evs = append(evs, ev{at: l.Deleted, svc: l.Service, del: true})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	spec := func(n string) ServiceSpec {
		if s, ok := specs[n]; ok {
			return s
		}
		return ServiceSpec{Name: n}
	}
	holding := map[string][]string{}
	reported := map[string]bool{}
	var out []Violation
	for _, e := range evs {
		if e.del {
			delete(holding, e.svc)
			continue
		}
		holding[e.svc] = e.adds
		for _, a := range e.adds {
			for other, oa := range holding {
				if other == e.svc || !slices.Contains(oa, a) || legal(spec(e.svc), spec(other)) {
					continue
				}
				pair := min(e.svc, other) + " " + max(e.svc, other) + " " + a
				if reported[pair] {
					continue
				}
				reported[pair] = true
				out = append(out, Violation{AtMs: ms(e.at), Invariant: InvSharing,
					Detail: fmt.Sprintf("%s is on %s and %s, which may not share it (sharing keys %q and %q, ports %v and %v)",
						a, min(e.svc, other), max(e.svc, other), spec(min(e.svc, other)).SharingKey, spec(max(e.svc, other)).SharingKey,
						spec(min(e.svc, other)).Ports, spec(max(e.svc, other)).Ports)})
			}
		}
	}
	return out
}

// tick is how finely the state-over-time checks look (the runner's observers poll every 250 ms).
const tick = 250 * time.Millisecond

// changes are the address changes of this Service, and until is when it stopped existing (or
// end).
func (l Life) changes(all []AddressChange, end time.Duration) (mine []AddressChange, until time.Duration) {
	for _, c := range all {
		if c.Service == l.Service {
			mine = append(mine, c)
		}
	}
	if l.Deleted > 0 {
		return mine, l.Deleted
	}
	return mine, end
}

// addrsAt is what the last of changes at or before t set.
func addrsAt(changes []AddressChange, t time.Duration) []string {
	var addrs []string
	for _, c := range changes {
		if c.At <= t {
			addrs = c.Addrs
		}
	}
	return addrs
}

// CheckPending reports each Service that has no address at a moment when it could have one: it
// exists since more than settle, and the lab is not disturbed (no fault, none undone within
// settle). One violation per episode (a stretch of time without an address).
func CheckPending(lives []Life, changes []AddressChange, faults []Window, settle, end time.Duration) []Violation {
	var out []Violation
	for _, l := range lives {
		mine, until := l.changes(changes, end)
		reported := false // in this episode
		for t := l.Created + settle; t < until; t += tick {
			if len(addrsAt(mine, t)) > 0 {
				reported = false
				continue
			}
			if !reported && !disturbed(faults, settle, t) {
				reported = true
				out = append(out, Violation{AtMs: ms(t), Invariant: InvPending,
					Detail: fmt.Sprintf("%s has no address %s after it was made, with the lab settled for %s", l.Service, (t - l.Created).Round(time.Millisecond), settle)})
			}
		}
	}
	return out
}

// OwnerChange is who answered ARP/NDP for an address from At on, as a client saw it.
type OwnerChange struct {
	At     time.Duration
	Addr   string
	Owners []string
}

// CheckOwners reports each moment an address is answered by more than one node while the lab is
// settled. One violation per episode (a stretch of
// time with several owners) and address.
func CheckOwners(changes []OwnerChange, faults []Window, settle, end time.Duration) []Violation {
	by := map[string][]OwnerChange{}
	var addrs []string
	for _, c := range changes {
		if _, ok := by[c.Addr]; !ok {
			addrs = append(addrs, c.Addr)
		}
		by[c.Addr] = append(by[c.Addr], c)
	}
	var out []Violation
	for _, a := range addrs {
		cs := by[a]
		reported := false // in this episode
		for t := cs[0].At; t < end; t += tick {
			var owners []string
			for _, c := range cs {
				if c.At <= t {
					owners = c.Owners
				}
			}
			if len(owners) <= 1 {
				reported = false
				continue
			}
			if !reported && !disturbed(faults, settle, t) {
				reported = true
				out = append(out, Violation{AtMs: ms(t), Invariant: InvARPOwner,
					Detail: fmt.Sprintf("%s answered by %d nodes (%s) with the lab settled", a, len(owners), strings.Join(owners, ", "))})
			}
		}
	}
	return out
}

// Unanswered is how long nobody may answer for an address before it counts as not announced
// (a single lost probe is not a dark address).
const Unanswered = time.Second

// CheckAnnounced reports each moment a Service's address is answered by no node for Unanswered
// while the lab is settled and the Service has existed for settle. Only addresses whose owner
// was watched are judged (layer 2 labs; the soak watches every address a Service gets). One
// violation per episode and address.
func CheckAnnounced(lives []Life, changes []AddressChange, owners []OwnerChange, faults []Window, settle, end time.Duration) []Violation {
	by := map[string][]OwnerChange{}
	for _, c := range owners {
		by[c.Addr] = append(by[c.Addr], c)
	}
	var out []Violation
	for _, l := range lives {
		mine, until := l.changes(changes, end)
		reported := map[string]bool{} // address -> in an episode already reported
		for t := l.Created + settle; t < until; t += tick {
			for _, a := range addrsAt(mine, t) {
				var last *OwnerChange
				for i, c := range by[a] {
					if c.At <= t {
						last = &by[a][i]
					}
				}
				if last == nil || len(last.Owners) > 0 || t-last.At < Unanswered {
					reported[a] = false
					continue
				}
				if !reported[a] && !disturbed(faults, settle, t) {
					reported[a] = true
					out = append(out, Violation{AtMs: ms(t), Invariant: InvAnnounced,
						Detail: fmt.Sprintf("%s of %s answered by no node for %s with the lab settled", a, l.Service, (t - last.At).Round(time.Millisecond))})
				}
			}
		}
	}
	return out
}

// Request is one request of a stream.
type Request struct {
	At time.Duration
	OK bool
}

// Stable is how long a stream must stay good to count as recovered.
const Stable = time.Second

// CheckRecovery reports each fault after which a stream did not recover within bound: counted
// from the fault's end (its undo), the first good reply followed by Stable of good replies came
// later than bound, or not before the next fault. A window too short to decide is skipped.
func CheckRecovery(stream string, reqs []Request, faults []Window, bound, end time.Duration) []Violation {
	var out []Violation
	for i, f := range faults {
		to := end
		if i+1 < len(faults) {
			to = faults[i+1].Start
		}
		from := f.End
		at, ok := recoveredAt(reqs, from, to)
		switch {
		case ok && at-from > bound:
			out = append(out, Violation{AtMs: ms(at), Invariant: InvRecovery,
				Detail: fmt.Sprintf("stream %s recovered %s after round %d's %s ended (bound %s)", stream, (at - from).Round(time.Millisecond), f.Round, f.Kind, bound)})
		case !ok && to-from > bound+Stable:
			out = append(out, Violation{AtMs: ms(to), Invariant: InvRecovery,
				Detail: fmt.Sprintf("stream %s did not recover in the %s between round %d's %s and the next fault (bound %s)", stream, (to - from).Round(time.Millisecond), f.Round, f.Kind, bound)})
		}
	}
	return out
}

// recoveredAt is the first good request at or after from, before to, after which every request
// for Stable was good (requests must reach that far).
func recoveredAt(reqs []Request, from, to time.Duration) (time.Duration, bool) {
	start := -1
	for i, q := range reqs {
		if q.At < from {
			continue
		}
		if q.At >= to {
			break
		}
		if !q.OK {
			start = -1
			continue
		}
		if start < 0 {
			start = i
		}
		if q.At-reqs[start].At >= Stable {
			return reqs[start].At, true
		}
	}
	return 0, false
}

// Sample is one reading of a component's process (speaker/NODE or controller).
type Sample struct {
	AtMs       float64 `json:"atMs"` // since sampling began
	Component  string  `json:"component"`
	RSSBytes   float64 `json:"rssBytes"`
	Goroutines float64 `json:"goroutines"`
}

// Limits bound resource use: a reading may not exceed Factor times the component's baseline (its
// first reading after Warmup) plus a margin.
type Limits struct {
	Warmup           time.Duration
	Factor           float64
	RSSMarginBytes   float64
	GoroutinesMargin float64
}

// DefaultLimits: 2x the first settled value, plus 64 MiB or 200 goroutines.
var DefaultLimits = Limits{Warmup: 30 * time.Second, Factor: 2, RSSMarginBytes: 64 << 20, GoroutinesMargin: 200}

// CheckResources reports the first reading of each component and measure above its limit.
func CheckResources(samples []Sample, l Limits) []Violation {
	type base struct{ rss, gr float64 }
	bases := map[string]base{}
	reported := map[string]bool{}
	var out []Violation
	for _, s := range samples {
		if s.AtMs < ms(l.Warmup) {
			continue
		}
		b, ok := bases[s.Component]
		if !ok {
			bases[s.Component] = base{s.RSSBytes, s.Goroutines}
			continue
		}
		check := func(what string, v, b, margin float64, unit func(float64) string) {
			limit := l.Factor*b + margin
			if v > limit && !reported[s.Component+what] {
				reported[s.Component+what] = true
				out = append(out, Violation{AtMs: s.AtMs, Invariant: InvResources,
					Detail: fmt.Sprintf("%s %s %s above its limit %s (%.0fx the first settled %s + %s)", s.Component, what, unit(v), unit(limit), l.Factor, unit(b), unit(margin))})
			}
		}
		check("RSS", s.RSSBytes, b.rss, l.RSSMarginBytes, func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) })
		check("goroutines", s.Goroutines, b.gr, l.GoroutinesMargin, func(v float64) string { return fmt.Sprintf("%.0f", v) })
	}
	return out
}
