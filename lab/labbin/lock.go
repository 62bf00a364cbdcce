package labbin

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockFile is the lock test suites hold while their labs are up.
var LockFile = filepath.Join(os.TempDir(), "ironlab-test-labs.lock")

// Exclusive waits until no other test suite on this host has a lab up and holds that until
// the returned release is called or the process ends. `go test ./...` runs packages at once; two
// suites' labs on one host would share its cores and skew each other's timing bounds. Waiting
// longer than a second is said through say.
func Exclusive(say func(string)) (release func(), err error) {
	f, err := os.OpenFile(LockFile, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("test lab lock: %w", err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(time.Second):
			say(fmt.Sprintf("waiting for another test suite's lab to go down (lock %s)", LockFile))
		}
	}()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	close(done)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("test lab lock %s: %w", LockFile, err)
	}
	return func() { f.Close() }, nil
}
