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
