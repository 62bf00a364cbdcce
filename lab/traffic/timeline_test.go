package traffic

import (
	"testing"
	"time"
)

func TestWorst(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	at := func(ms int, ok bool) Result {
		return Result{At: t0.Add(time.Duration(ms) * time.Millisecond), Latency: time.Millisecond, OK: ok, Node: "n"}
	}
	rs := []Result{at(0, true), at(10, true), at(20, false), at(230, false), at(440, true), at(450, true)}
	o := Worst(rs)
	if o.Gap != 430*time.Millisecond || o.Failed != 2 || !o.From.Equal(t0.Add(11*time.Millisecond)) {
		t.Errorf("Worst = %+v; want a 430ms gap from 11ms, 2 failed", o)
	}
	if o := Worst([]Result{at(0, true), at(10, true), at(20, true)}); o.Gap != 10*time.Millisecond || o.Failed != 0 {
		t.Errorf("a healthy stream: %+v", o)
	}
	if s := Served(rs); s["n"] != 4 {
		t.Errorf("Served = %v", s)
	}
}

func TestParseReply(t *testing.T) {
	pod, node := parseReply("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npod=default/web-1 node=worker2 ip=10.244.3.3\n")
	if pod != "default/web-1" || node != "worker2" {
		t.Errorf("parseReply = %q, %q", pod, node)
	}
}

func TestGapAroundAndRecovery(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// Good every 10 ms to 100, a fault at 105, failures 110..300, good again from 310.
	var rs []Result
	for i := 0; i <= 600; i += 10 {
		rs = append(rs, Result{At: ms(i), Latency: time.Millisecond, OK: i <= 100 || i >= 310})
	}
	o, ok := GapAround(rs, ms(105), ms(600))
	if !ok || o.Gap != 210*time.Millisecond || o.Failed != 20 || !o.From.Equal(ms(101)) || !o.To.Equal(ms(311)) {
		t.Errorf("GapAround = %+v, %v; want 210ms from 101 to 311, 20 failed", o, ok)
	}
	// A gap that begins after until (another fault) is not this fault's.
	if o, _ := GapAround(rs, ms(0), ms(50)); o.Gap != 10*time.Millisecond {
		t.Errorf("gap bounded by until: %+v", o)
	}
	if _, ok := GapAround(rs[:5], ms(105), ms(600)); ok {
		t.Error("no good reply after t must say so")
	}
	for _, tc := range []struct {
		name   string
		rs     []Result
		now    int
		within time.Duration
		state  int
		at     int
	}{
		{"recovered in bound, settled", rs, 600, 300 * time.Millisecond, Recovered, 311},
		{"recovered in bound, not yet settled", rs, 400, 300 * time.Millisecond, Recovering, 0},
		{"back after the bound", rs, 600, 100 * time.Millisecond, NotRecovered, 0},
		{"still failing, bound not over", rs[:20], 190, 300 * time.Millisecond, Recovering, 0},
		{"still failing past the bound", rs[:20], 500, 300 * time.Millisecond, NotRecovered, 0},
		{"never failed", append(rs[:10:10], Result{At: ms(110), OK: true}), 600, 100 * time.Millisecond, Recovered, 105},
		{"no reply at all yet", rs[:10], 150, 100 * time.Millisecond, Recovering, 0},
		{"no reply at all, bound over", rs[:10], 600, 100 * time.Millisecond, NotRecovered, 0},
	} {
		state, at := Recovery(tc.rs, ms(105), ms(tc.now), tc.within, 200*time.Millisecond)
		if state != tc.state || (state == Recovered && !at.Equal(ms(tc.at))) {
			t.Errorf("%s: Recovery = %d at %v; want %d at %dms", tc.name, state, at.Sub(t0), tc.state, tc.at)
		}
	}
}

func TestFailure(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	at := func(x time.Time) string { return x.Sub(t0).String() }
	// stream builds a request every 10 ms from 0 to end; bad says which fail.
	stream := func(end int, bad func(int) bool) []Result {
		var rs []Result
		for i := 0; i <= end; i += 10 {
			r := Result{At: ms(i), Latency: time.Millisecond, OK: !bad(i)}
			if !r.OK {
				r.Err = "connection refused"
			}
			rs = append(rs, r)
		}
		return rs
	}
	for _, tc := range []struct {
		name   string
		rs     []Result
		within time.Duration
		want   string
	}{
		{"never back", stream(600, func(i int) bool { return i > 100 }), 300 * time.Millisecond,
			"no good reply since the fault at 105ms: 50 failed requests, the last at 600ms (connection refused)"},
		// The case: a 415 ms outage, back, then one reset long after: the reset is the reason.
		{"one reset after recovering", stream(2000, func(i int) bool { return (i > 100 && i < 520) || i == 1800 }), time.Second,
			"back at 521ms (416ms after the fault at 105ms, within 1s), then 1 more failed requests, the last at 1.8s, after the bound (connection refused)"},
		{"back too late", stream(2000, func(i int) bool { return i > 100 && i < 1500 }), time.Second,
			"good again at 1.501s, 1.396s after the fault at 105ms: beyond the bound 1s (139 failed requests from 110ms, connection refused)"},
		{"failing at the end", stream(2000, func(i int) bool { return (i > 100 && i < 300) || i > 1500 }), time.Second,
			"back at 301ms (196ms after the fault at 105ms, within 1s), then 50 more failed requests, the last at 2s, after the bound (connection refused)"},
		{"nothing completed", nil, time.Second, "no request completed since the fault at 105ms"},
	} {
		if got := Failure(tc.rs, ms(105), tc.within, at); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, got, tc.want)
		}
		// Every case here is one Recovery calls NotRecovered (or undecided for no requests).
		if state, _ := Recovery(tc.rs, ms(105), ms(2100), tc.within, 200*time.Millisecond); tc.rs != nil && state != NotRecovered {
			t.Errorf("%s: Recovery = %d, want NotRecovered", tc.name, state)
		}
	}
}
