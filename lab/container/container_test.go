//go:build linux

package container

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestArgsRoundTrip(t *testing.T) {
	s := Spec{NetNS: "/run/netns/x", Hostname: "web-0", Dir: "/work", Argv: []string{"/bin/app", "--flag", "--"},
		Mounts: []Mount{{Source: "/a/b", Target: "/etc/x"}, {Source: "/c", Target: "/var/run/secrets/s", ReadOnly: true}}}
	got, err := ParseArgs(s.Args())
	if err != nil {
		t.Fatal(err)
	}
	if got.NetNS != s.NetNS || got.Hostname != s.Hostname || got.Dir != s.Dir || !slices.Equal(got.Argv, s.Argv) || !slices.Equal(got.Mounts, s.Mounts) {
		t.Fatalf("round trip: got %+v, want %+v", got, s)
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--netns", "/x"}, "missing -- CMD"},
		{[]string{"--"}, "no command"},
		{[]string{"--mount", "rx:/a:/b", "--", "x"}, "want ro|rw"},
		{[]string{"--mount", "ro:/a", "--", "x"}, "want ro|rw"},
		{[]string{"--mount", "ro:a:/b", "--", "x"}, "want ro|rw"},
		{[]string{"--what", "x", "--", "x"}, "unknown flag"},
		{[]string{"--dir"}, "needs a value"},
		{[]string{"--hostname", "", "--", "x"}, "want 1-64"},
		{[]string{"--hostname", strings.Repeat("h", 65), "--", "x"}, "want 1-64"},
	} {
		_, err := ParseArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseArgs(%q) = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// TestMain lets the test binary act as the helper: the test below starts it again in a new mount
// namespace with IRONLAB_CONTAINER_ARGS set.
func TestMain(m *testing.M) {
	if a := os.Getenv("IRONLAB_CONTAINER_ARGS"); a != "" {
		s, err := ParseArgs(strings.Split(a, "\x1f"))
		if err == nil {
			err = Exec(s, []string{"PATH=/usr/bin:/bin"})
		}
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// runHelper runs the spec through this test binary acting as the helper, in a new mount
// namespace as the node agent starts it, and returns what the command printed.
func runHelper(t *testing.T, s Spec) []byte {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IRONLAB_CONTAINER_ARGS="+strings.Join(s.Args(), "\x1f"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	return out
}

// A secret-like volume is mounted at a path that does not exist on the host (under /etc, and under
// /var/run whose /var/run is a symbolic link); the container sees it and the host does not change.
func TestExecMountsVolumesPrivately(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount namespaces)")
	}
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "key"), []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	etcTarget := "/etc/ironlab-test-" + filepath.Base(vol)
	runTarget := "/var/run/secrets/ironlab-test-" + filepath.Base(vol)
	// The binary lives under /tmp, which the container's private /tmp hides.
	sh := filepath.Join(t.TempDir(), "sh")
	data, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sh, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s := Spec{Mounts: []Mount{{Source: vol, Target: etcTarget, ReadOnly: true}, {Source: vol, Target: runTarget}},
		Argv: []string{sh, "-c", "cat " + etcTarget + "/key; echo; cat " + runTarget + "/key; echo; ls /etc/hostname; " +
			"touch " + etcTarget + "/new 2>/dev/null && echo writable || echo read-only; pwd"}}
	out := runHelper(t, s)
	want := "s3cret\ns3cret\n/etc/hostname\nread-only\n/\n"
	if string(out) != want {
		t.Fatalf("container saw:\n%s\nwant:\n%s", out, want)
	}
	for _, p := range []string{etcTarget, runTarget} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists on the host after the container ran (err %v)", p, err)
		}
	}
}

// A pod's container has its own host name (what agnhost serve-hostname answers); the host keeps
// its own.
func TestExecSetsHostname(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (UTS and mount namespaces)")
	}
	before, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	s := Spec{Hostname: "pod-hostname-test", Argv: []string{"/bin/sh", "-c", "hostname"}}
	out := runHelper(t, s)
	if got := strings.TrimSpace(string(out)); got != "pod-hostname-test" {
		t.Fatalf("container's host name = %q, want pod-hostname-test", got)
	}
	if after, _ := os.Hostname(); after != before {
		t.Fatalf("the host's name changed from %q to %q", before, after)
	}
}

// imageRoot returns an unpacked image: /probe (testdata/probe, static), /etc, and a /tmp
// writable by all.
func imageRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(root, "probe"), "./testdata/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the probe: %v\n%s", err, out)
	}
	return root
}

// runHelperErr is runHelper for a container that may fail: its output and whether it ran.
func runHelperErr(s Spec) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IRONLAB_CONTAINER_ARGS="+strings.Join(s.Args(), "\x1f"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// In image mode the container sees the image and its mounts only, runs as the user with the
// capabilities it was given (none at all when not root), and its root is read-only when asked;
// the image on the host is never written.
func TestExecImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount namespaces, overlayfs, pivot_root)")
	}
	if b, _ := os.ReadFile("/proc/filesystems"); !strings.Contains(string(b), "overlay") {
		t.Skip("the kernel has no overlayfs (modprobe overlay)")
	}
	root := imageRoot(t)
	secret := t.TempDir()
	if err := os.WriteFile(filepath.Join(secret, "key"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	const netRaw = "0000000000002000" // CAP_NET_RAW, 1<<13
	for _, tc := range []struct {
		name string
		im   Image
		want []string
	}{
		{"root with NET_RAW, read-only root", Image{Caps: []string{"NET_RAW"}, ReadOnlyRoot: true, NoNewPrivs: true},
			[]string{"Uid=0 0 0 0", "CapEff=" + netRaw, "CapBnd=" + netRaw, "NoNewPrivs=1", "write /written=false", "write /tmp/written=false", "write /data/written=true"}},
		{"nobody with NET_RAW added", Image{UID: 65534, GID: 65534, Groups: []uint32{4000}, Caps: []string{"NET_RAW"}},
			[]string{"Uid=65534 65534 65534 65534", "Gid=65534 65534 65534 65534", "Groups=4000", "CapEff=0000000000000000", "CapPrm=0000000000000000",
				"CapBnd=" + netRaw, "NoNewPrivs=0", "write /written=false", "write /tmp/written=true", "write /data/written=true"}},
		{"root, writable root", Image{Caps: []string{"CHOWN", "NET_RAW"}},
			[]string{"Uid=0 0 0 0", "CapEff=0000000000002001", "write /written=true", "write /tmp/written=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := tc.im
			im.Rootfs, im.Scratch = root, t.TempDir()
			data := t.TempDir() // an emptyDir: writable by every user of the pod
			if err := os.Chmod(data, 0o777); err != nil {
				t.Fatal(err)
			}
			// The secret twice, as a pod mounting one volume at two paths does.
			mounts := []Mount{{Source: secret, Target: "/etc/secret", ReadOnly: true}, {Source: data, Target: "/data"},
				{Source: secret, Target: "/var/secret-again", ReadOnly: true}}
			s := Spec{Image: &im, Hostname: "pod-image", Dir: "/etc", Mounts: mounts, Argv: []string{"/probe", "a", "b"}}
			got, err := ParseArgs(s.Args())
			if err != nil || !reflect.DeepEqual(*got.Image, im) {
				t.Fatalf("Args/ParseArgs round trip: %+v, %v; want %+v", got.Image, err, im)
			}
			out, err := runHelperErr(s)
			if err != nil {
				t.Fatalf("container: %v\n%s", err, out)
			}
			lines := strings.Split(out, "\n")
			for _, w := range append(tc.want, "hostname=pod-image", "cwd=/etc", "args=a b", "exists /bin/sh=false",
				"exists /dev/null=true", "exists /proc/self/exe=true", "exists /sys/class/net/lo=true", "exists /etc/secret/key=true", "exists /var/secret-again/key=true") {
				if !slices.Contains(lines, w) {
					t.Errorf("the container did not report %q; it said:\n%s", w, out)
				}
			}
		})
	}
	entries, _ := os.ReadDir(root)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"etc", "probe", "tmp"}) {
		t.Errorf("the image on the host changed: it holds %q", names)
	}
	// A command the image lacks fails as on a node, naming it.
	im := Image{Rootfs: root, Scratch: t.TempDir()}
	for _, argv := range [][]string{{"/bin/sh", "-c", "true"}, {"sh"}} {
		out, err := runHelperErr(Spec{Image: &im, Argv: argv})
		if err == nil || !strings.Contains(out, "not") || !strings.Contains(out, argv[0]) {
			t.Errorf("running %q, which the image lacks: %v\n%s", argv, err, out)
		}
	}
}
