package members

import (
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

func start(t *testing.T, name string, port int, key string) *Members {
	t.Helper()
	m, err := Start(Config{Node: name, BindAddr: "127.0.0.1", Port: port, SecretKey: []byte(key), Log: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() }) // nothing of it logs after its test
	return m
}

func waitAlive(t *testing.T, m *Members, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if len(m.Alive()) == want {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d members alive after %s, want %d: %v", len(m.Alive()), within, want, m.Alive())
	return 0
}

// Three speakers join; one dies without a word (its sockets close) and the others agree it is
// gone; one leaves politely and is gone at once. A speaker with another key cannot join.
func TestMembership(t *testing.T) {
	a := start(t, "a", 17946, "shared-secret")
	b := start(t, "b", 17947, "shared-secret")
	c := start(t, "c", 17948, "shared-secret")
	if n, err := b.Join([]string{"127.0.0.1:17946"}); err != nil || n != 1 {
		t.Fatalf("join: %d, %v", n, err)
	}
	if _, err := c.Join([]string{"127.0.0.1:17946"}); err != nil {
		t.Fatal(err)
	}
	waitAlive(t, a, 3, 5*time.Second)

	// c dies: no leave message.
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	took := waitAlive(t, a, 2, 10*time.Second)
	t.Logf("a hard-failed member was declared dead after %s", took)
	select {
	case <-a.Changes():
	default:
		t.Error("no change notified")
	}

	// b leaves politely: it still counts as alive during the grace, then is gone.
	a.leftGrace = 500 * time.Millisecond
	if err := b.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if !a.Alive()["b"] {
		t.Error("a member that left politely is not given its grace")
	}
	took = waitAlive(t, a, 1, 2*time.Second)
	t.Logf("a leaving member was gone after %s (grace 500ms)", took)

	// A speaker with another secret is not let in.
	d := start(t, "d", 17949, "another-secret")
	if _, err := d.Join([]string{"127.0.0.1:17946"}); err == nil && len(a.Alive()) > 1 {
		t.Error("a member with another key joined")
	}
	_ = d.Leave(100 * time.Millisecond)
	_ = a.Leave(100 * time.Millisecond)
}
