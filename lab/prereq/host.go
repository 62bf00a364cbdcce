package prereq

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// HostProbe asks this host.
func HostProbe() Probe {
	_, apt := exec.LookPath("apt-get")
	_, ns := os.Stat("/proc/self/ns/net")
	return Probe{Root: os.Geteuid() == 0, Has: has, HasApt: apt == nil, NetNS: ns == nil}
}

func has(path string) bool {
	if filepath.IsAbs(path) {
		_, err := os.Stat(path)
		return err == nil
	}
	_, err := exec.LookPath(path)
	return err == nil
}

// Install runs apt-get update and one apt-get install of pkgs, its output to out.
func Install(pkgs []string, out io.Writer) error {
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...)} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w", args[0], err)
		}
	}
	return nil
}

// Ensure checks the host for the purposes, installs what is missing for them when install is
// set and it can (root, apt-get; their optional packages too, never other purposes'), and
// checks again. It returns an error that says what is missing and the exact command when the
// purposes cannot be served.
func Ensure(ps []Purpose, install bool, out io.Writer) error {
	pr := HostProbe()
	r := CheckAll(ps, pr)
	if pkgs := r.Packages(true); install && len(pkgs) > 0 && pr.Root && pr.HasApt {
		fmt.Fprintf(out, "ironlab: installing what the %s needs from this host:\n%s", r.Names(), r.Explain())
		if err := Install(pkgs, out); err != nil {
			// An optional package may not install (Ubuntu's chromium is a snap): try what is
			// required alone before giving up.
			req := r.Packages(false)
			if len(req) == 0 || Install(req, out) != nil {
				return fmt.Errorf("%w; install by hand: sudo %s", err, AptCommand(pkgs))
			}
			fmt.Fprintf(out, "ironlab: optional packages did not install (%v); what needs them is skipped, saying so\n", err)
		}
		r = CheckAll(ps, HostProbe())
	}
	if !r.OK() {
		how := ""
		if !pr.HasApt && len(r.Missing) > 0 {
			how = " (no apt-get here: install the same tools with your system's package manager)"
		}
		return fmt.Errorf("this host cannot run the %s yet%s:\n%s", r.Names(), how, r.Explain())
	}
	if len(r.Optional) > 0 {
		fmt.Fprintf(out, "ironlab: the %s can run; optional tools missing:\n%s", r.Names(), r.Explain())
	}
	return nil
}
