//go:build linux

package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// stackedChild marks the test binary run again in a mount namespace of its own.
const stackedChild = "IRONLAB_NETNS_STACKED_CHILD"

// Issue #18: `ip netns add`, run while a lab is up on a host where Dir is not yet a mount point,
// bind-mounts Dir over itself (iproute2 does so once, to make it a shared mount). `ironlab down`
// then failed with "remove /run/netns/...: device or resource busy" and left every namespace
// behind. The lab's namespaces are made, `ip netns add` runs, the lab is torn down: nothing of
// the lab may be left, neither a file in Dir nor a mount in /proc/self/mountinfo, and the
// namespace `ip netns add` made must still be there (the lab touches only its own).
//
// It runs in a mount namespace of its own (the test binary again, with CLONE_NEWNS) with a fresh
// tmpfs on /run: the host's Dir is never turned into a mount point and never covered (another
// lab up on this host would meet issue #18 itself), and the namespaces' mounts go when the test
// ends, even if the teardown fails.
func TestTeardownAfterIPNetnsAdd(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip, whose `ip netns add` the test runs")
	}
	reexec(t, stackedChild, syscall.CLONE_NEWNS, stackedCases)
}

// reexec runs the test again in a process of its own, unsharing flags (CLONE_NEWNS: a mount
// namespace, with / made private, whose mounts go with the process; CLONE_NEWNET: a network
// namespace, so that links it makes there are not the host's), and logs its output. In that
// process (env set) it runs child instead. Without root it skips, saying so.
func reexec(t *testing.T, env string, flags uintptr, child func(*testing.T)) {
	t.Helper()
	if os.Getenv(env) != "" {
		child(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network and mount namespaces); `make test` runs as root in CI")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: flags}
	out, err := cmd.CombinedOutput()
	t.Logf("in namespaces of its own:\n%s", out)
	if err != nil {
		t.Fatalf("%v", err)
	}
}

func stackedCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		// sharedRun makes /run a shared mount, as systemd makes every mount; without it /run is
		// private, as on hosts without systemd and in containers (this project's machine).
		sharedRun bool
		// older: the lab's namespaces were made as before the fix (Dir not prepared), as by
		// an ironlab that was running when this one was installed.
		older bool
	}{
		{name: "private /run", sharedRun: false},
		{name: "shared /run", sharedRun: true},
		{name: "private /run, lab made without preparing Dir", sharedRun: false, older: true},
		{name: "shared /run, lab made without preparing Dir", sharedRun: true, older: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			freshRun(t, tc.sharedRun)
			l := Lab{Prefix: fmt.Sprintf("st%d", os.Getpid()%10000)}
			for _, h := range []string{"switch", "control-plane", "worker", "client"} {
				create := l.CreateNS
				if tc.older {
					create = l.createUnprepared
				}
				if err := create(h); err != nil {
					t.Fatal(err)
				}
			}
			user := ipNetnsAdd(t)
			if err := l.Teardown(); err != nil {
				t.Errorf("teardown: %v", err)
			}
			assertGone(t, l, user)
		})
	}

	// A lab made now beside one made before the fix: Dir is not made a mount point over the
	// older lab's namespaces (their removal would fail as in issue #18); a later `ip netns add`
	// covers both, and both go.
	t.Run("beside a lab made without preparing Dir", func(t *testing.T) {
		freshRun(t, false)
		older, newer := Lab{Prefix: fmt.Sprintf("so%d", os.Getpid()%10000)}, Lab{Prefix: fmt.Sprintf("sn%d", os.Getpid()%10000)}
		if err := older.createUnprepared("a"); err != nil {
			t.Fatal(err)
		}
		if err := newer.CreateNS("a"); err != nil {
			t.Fatal(err)
		}
		if err := unix.Unmount(Dir, unix.MNT_DETACH); err == nil || !errors.Is(err, unix.EINVAL) {
			t.Fatalf("%s was made a mount point over the older lab's namespaces (unmount: %v)", Dir, err)
		}
		user := ipNetnsAdd(t)
		for _, l := range []Lab{older, newer} {
			if err := l.Teardown(); err != nil {
				t.Errorf("teardown %s: %v", l.Prefix, err)
			}
			assertGone(t, l, user)
		}
	})
}

// ipNetnsAdd runs `ip netns add` with a name of the test's, and `ip netns del` at the end.
func ipNetnsAdd(t *testing.T) string {
	t.Helper()
	user := fmt.Sprintf("ironlab-test-user-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", user).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", user, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", user).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", user, err, out)
		}
	})
	t.Logf("mounts after `ip netns add`:\n%s", netnsMounts(t))
	return user
}

// assertGone checks that nothing of lab l is left, neither a file in Dir nor a mount, and that
// the namespace user (not the lab's) is still there.
func assertGone(t *testing.T, l Lab, user string) {
	t.Helper()
	if left, err := l.Namespaces(); err != nil || len(left) != 0 {
		t.Errorf("namespaces left: %v (%v)", left, err)
	}
	dir, err := filepath.EvalSymlinks(Dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasPrefix(e.Name(), l.Prefix+"-") {
			t.Errorf("%s left in %s", e.Name(), dir)
		}
	}
	mounts := netnsMounts(t)
	for _, m := range strings.Split(mounts, "\n") {
		if strings.Contains(m, dir+"/"+l.Prefix+"-") {
			t.Errorf("mount left: %s", m)
		}
	}
	if !slices.Contains(names, user) || !strings.Contains(mounts, dir+"/"+user+" ") {
		t.Errorf("%s, not the lab's, is gone or no longer mounted: %v\n%s", user, names, mounts)
	}
}

// freshRun mounts a tmpfs on /run for the test (in the test's own mount namespace), so Dir is a
// plain directory in it, as on a host where no `ip netns add` ran since boot.
func freshRun(t *testing.T, shared bool) {
	t.Helper()
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount a tmpfs on /run: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount("/run", unix.MNT_DETACH); err != nil {
			t.Errorf("unmount the test's /run: %v", err)
		}
	})
	if shared {
		if err := unix.Mount("", "/run", "", unix.MS_SHARED, ""); err != nil {
			t.Fatalf("make /run shared: %v", err)
		}
	}
}

// createUnprepared makes a named namespace as CreateNS did before issue #18 was fixed: a bind
// mount in Dir, whether Dir is a mount point or not.
func (l Lab) createUnprepared(host string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in the new namespace
		h, err := vnetns.NewNamed(l.NSName(host))
		if err == nil {
			h.Close()
		}
		errc <- err
	}()
	return <-errc
}

// netnsMounts are the lines of /proc/self/mountinfo about Dir and below on the test's /run (the
// host's, which it covers, are left out).
func netnsMounts(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.EvalSymlinks(Dir)
	if err != nil {
		t.Fatal(err)
	}
	run, err := mountOf("/run")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	parent := map[string]string{}
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 4 {
			parent[f[0]] = f[1]
		}
	}
	onRun := func(id string) bool {
		for i := 0; i < 100 && id != ""; i, id = i+1, parent[id] {
			if id == strconv.Itoa(run) {
				return true
			}
		}
		return false
	}
	var out []string
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) && onRun(f[0]) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
