package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"testing"
)

// A command ironlab runs for the user (kubectl, ironlab exec's) exits with its own status.
func TestPassExit(t *testing.T) {
	err := passExit(exec.Command("sh", "-c", "exit 3").Run())
	var st exitStatus
	if !errors.As(fmt.Errorf("wrapped: %w", err), &st) || st != 3 {
		t.Fatalf("passExit(exit 3) = %v, want exitStatus 3", err)
	}
	if err := passExit(exec.Command("true").Run()); err != nil {
		t.Fatalf("passExit(success) = %v", err)
	}
	if err := passExit(exec.Command("/nonexistent/binary").Run()); err == nil || errors.As(err, &st) {
		t.Fatalf("passExit(a command that did not start) = %v, want the start error", err)
	}
}
