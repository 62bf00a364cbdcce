//go:build freshhost

// Package freshhost checks the first five minutes on a fresh machine (make fresh-host): a
// minimal Debian bookworm made with debootstrap, with Go, git and make and nothing else, a clean
// clone of this repository's HEAD, and the README's quick start run there as written. It is
// behind a build tag, not a skip: it needs root, debootstrap and Debian's mirror, and takes
// about two minutes with warm caches.
//
// The Go module and build caches and the control-plane cache (make k8s-bins) are the host's,
// mounted in: what is checked is that the host's tools are found, installed or asked for, not
// how long a cold build takes.
package freshhost

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/docblock"
)

const mirror = "http://deb.debian.org/debian"

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(out))
	}
	t.Logf("[%5.1fs] %s %s", time.Since(start).Seconds(), name, strings.Join(args, " "))
	return string(out)
}

func tail(b []byte) string {
	if len(b) > 6000 {
		return "...\n" + string(b[len(b)-6000:])
	}
	return string(b)
}

func goEnv(t *testing.T, name string) string {
	return strings.TrimSpace(run(t, "go", "env", name))
}

func TestQuickStartOnAFreshDebian(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: sudo make fresh-host")
	}
	for _, tool := range []string{"debootstrap", "unshare", "git", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: make prereqs-kind installs debootstrap (util-linux and git are in make prereqs)", tool)
		}
	}
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := docblock.Blocks(string(page), docblock.Walkthrough)
	if len(blocks) != 1 {
		t.Fatalf("README.md: %d blocks marked %q, want the quick start", len(blocks), docblock.Walkthrough)
	}

	// The machine: Debian's minimal base, then what a reader has before the quick start.
	root := filepath.Join(t.TempDir(), "fresh")
	run(t, "debootstrap", "--variant=minbase", "bookworm", root, mirror)
	t.Cleanup(func() { leftovers(t, root) })
	run(t, "chroot", root, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git make ca-certificates >/dev/null")
	run(t, "cp", "-a", goEnv(t, "GOROOT"), filepath.Join(root, "usr", "local", "go"))
	run(t, "git", "clone", "-q", repo, filepath.Join(root, "root", "ironlb"))
	t.Logf("cloned HEAD %s (uncommitted changes are not in the check)", strings.TrimSpace(run(t, "git", "-C", repo, "rev-parse", "--short", "HEAD")))

	// The caches, mounted where the fresh machine's root keeps them.
	cache := os.Getenv("IRONLAB_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "ironlab")
	}
	mounts := [][2]string{
		{goEnv(t, "GOMODCACHE"), "/root/go/pkg/mod"},
		{goEnv(t, "GOCACHE"), "/root/.cache/go-build"},
		{cache, "/root/.cache/ironlab"},
	}
	var script strings.Builder
	fmt.Fprintf(&script, "set -e\nmount --make-rprivate /\nR=%q\nmount --bind $R $R\n", root)
	script.WriteString("mount -t proc proc $R/proc\nmount --rbind /sys $R/sys\nmount --rbind /dev $R/dev\nmount -t tmpfs tmpfs $R/run\n")
	for _, m := range mounts {
		fmt.Fprintf(&script, "mkdir -p %q $R%s\nmount --bind %q $R%s\n", m[0], m[1], m[0], m[1])
	}
	env := []string{"HOME=/root", "TERM=dumb", "PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, k := range []string{"GOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOFLAGS", "GOTOOLCHAIN"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	// Each line of the block as a reader types it, from the clone, its exit status marked.
	lines := "cd /root/ironlb\n"
	for i, l := range blocks[0] {
		lines += fmt.Sprintf("echo '=== %d'\n%s\necho \"=== exit $?\"\n", i, docblock.Command(l))
	}
	if err := os.WriteFile(filepath.Join(root, "quickstart.sh"), []byte(lines), 0o755); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&script, "exec chroot $R env -i %s bash /quickstart.sh\n", strings.Join(env, " "))

	start := time.Now()
	out, err := exec.Command("unshare", "-m", "sh", "-c", script.String()).CombinedOutput()
	t.Logf("the quick start took %.1fs", time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("the quick start: %v\n%s", err, tail(out))
	}
	steps := regexp.MustCompile(`(?m)^=== (\d+)\n((?s:.*?))^=== exit (\d+)$`).FindAllSubmatch(out, -1)
	if len(steps) != len(blocks[0]) {
		t.Fatalf("%d of the quick start's %d lines ran:\n%s", len(steps), len(blocks[0]), tail(out))
	}
	for i, s := range steps {
		t.Logf("$ %s\n%s", blocks[0][i], tail(s[2]))
		if string(s[3]) != "0" {
			t.Errorf("%s: exit %s", blocks[0][i], s[3])
		}
	}
	// What the reader is told and gets: the lab installs its own tools, no one else's, and the
	// nodes are Ready.
	for _, want := range []string{"installing what the lab needs from this host", "nft is missing (package nftables)",
		"install: sudo apt-get install -y --no-install-recommends nftables", "Lab \"l2\" is up."} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if ready := regexp.MustCompile(`(?m)^\S+\s+Ready\s`).FindAll(out, -1); len(ready) != 4 {
		t.Errorf("%d nodes Ready in `kubectl get nodes`, want 4", len(ready))
	}
	for _, pkg := range []string{"docker.io", "chromium", "frr"} {
		if _, err := os.Stat(filepath.Join(root, "var", "lib", "dpkg", "info", pkg+".list")); err == nil {
			t.Errorf("make lab-up installed %s, which the lab does not need", pkg)
		}
	}
}

// leftovers fails the test for any process still running from the fresh root (the lab's down
// must stop them all), and ends them: they are this test's.
func leftovers(t *testing.T, root string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if dir, err := os.Readlink(filepath.Join("/proc", e.Name(), "root")); err == nil && strings.HasPrefix(dir, root) {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			t.Errorf("process %s still runs in the fresh root: %s", e.Name(), bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
			if pid, err := strconv.Atoi(e.Name()); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}
