package labbin

import (
	"path/filepath"
	"testing"
	"time"
)

// A second holder waits until the first releases, and says that it waits.
func TestExclusiveWaits(t *testing.T) {
	LockFile = filepath.Join(t.TempDir(), "lock")
	release, err := Exclusive(func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	said := make(chan string, 1)
	got := make(chan time.Time, 1)
	go func() {
		r, err := Exclusive(func(s string) { said <- s })
		if err != nil {
			t.Error(err)
		}
		got <- time.Now()
		r()
	}()
	select {
	case <-got:
		t.Fatal("a second holder got the lock while the first held it")
	case <-said:
	case <-time.After(3 * time.Second):
		t.Fatal("a second holder neither waited nor said so")
	}
	released := time.Now()
	release()
	select {
	case at := <-got:
		if at.Before(released) {
			t.Fatal("the second holder got the lock before the release")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the second holder did not get the lock after the release")
	}
}
