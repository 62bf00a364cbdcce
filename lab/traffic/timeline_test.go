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
