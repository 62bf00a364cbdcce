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
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/docblock"
	"github.com/ironlb/ironlb/lab/prereq"
)

// mirror is Debian's mirror: DEBIAN_MIRROR overrides it (make kind-node-image reads it too).
func mirror() string {
	if m := os.Getenv("DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// command is name with args, ended when ctx is, its pipes given up a few seconds later (a
// grandchild that keeps them open must not hang the test past its deadline).
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	out, err := command(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(out))
	}
	t.Logf("[%5.1fs] %s %s", time.Since(start).Seconds(), name, strings.Join(args, " "))
	return string(out)
}

// quote is s as one word of sh.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

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
	run(t, "debootstrap", "--variant=minbase", "bookworm", root, mirror())
	run(t, "chroot", root, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git make ca-certificates >/dev/null")
	run(t, "cp", "-aL", goEnv(t, "GOROOT"), filepath.Join(root, "usr", "local", "go"))
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
	// The machine runs in mount and PID namespaces of its own: its /proc shows its processes
	// only, whatever root they have (process pods pivot into image roots), and when the script
	// (PID 1) ends, the kernel ends whatever is left.
	fmt.Fprintf(&script, "set -e\nmount --make-rprivate /\nR=%s\nmount --bind \"$R\" \"$R\"\n", quote(root))
	script.WriteString("mount -t proc proc \"$R/proc\"\nmount --rbind /sys \"$R/sys\"\nmount --rbind /dev \"$R/dev\"\nmount -t tmpfs tmpfs \"$R/run\"\n")
	for _, m := range mounts {
		fmt.Fprintf(&script, "mkdir -p %s \"$R\"%s\nmount --bind %s \"$R\"%s\n", quote(m[0]), quote(m[1]), quote(m[0]), quote(m[1]))
	}
	env := []string{"HOME=/root", "TERM=dumb", "PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, k := range []string{"GOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOFLAGS", "GOTOOLCHAIN"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for i := range env {
		env[i] = quote(env[i])
	}
	// Each line of the block as a reader types it, from the clone, its exit status marked.
	lines := "cd /root/ironlb\n"
	for i, l := range blocks[0] {
		lines += fmt.Sprintf("echo '=== %d'\n%s\necho \"=== exit $?\"\n", i, docblock.Command(l))
	}
	if err := os.WriteFile(filepath.Join(root, "quickstart.sh"), []byte(lines), 0o755); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&script, "chroot \"$R\" env -i %s bash /quickstart.sh\n", strings.Join(env, " "))
	// What is still running once the quick start (which ends with make lab-down) is done: every
	// process but this shell, PID 1, and zombies (ended, not yet reaped). The glob is expanded
	// before the loop starts, so the loop's own children are not in it.
	script.WriteString("echo '=== leftovers'\nfor p in /proc/[0-9]*; do [ \"${p#/proc/}\" = 1 ] && continue; grep -qs '^State:.Z' \"$p/status\" && continue; c=$(tr '\\0' ' ' <\"$p/cmdline\" 2>/dev/null) || continue; echo \"leftover ${p#/proc/}: $c\"; done\n")

	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	out, err := command(ctx, "unshare", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c", script.String()).CombinedOutput()
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
	// (nft is the first of the lab's needs that minbase lacks: its line comes first, its package
	// heads the one apt-get call.)
	nft := prereq.Needs[slices.IndexFunc(prereq.Needs, func(n prereq.Need) bool { return n.Path == "nft" })]
	for _, want := range []string{"installing what the lab needs from this host",
		// the line that names nft, why it is needed and its package, as the report words it
		strings.SplitN(prereq.Check(prereq.Lab, prereq.Probe{Root: true, NetNS: true, Has: func(p string) bool { return p != nft.Path }}).Explain(), "\n", 2)[0],
		"install: sudo " + prereq.AptCommand([]string{nft.Package}), "Lab \"l2\" is up."} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if ready := regexp.MustCompile(`(?m)^\S+\s+Ready\s`).FindAll(out, -1); len(ready) != 4 {
		t.Errorf("%d nodes Ready in `kubectl get nodes`, want 4", len(ready))
	}
	if _, after, ok := bytes.Cut(out, []byte("=== leftovers\n")); !ok {
		t.Error("the leftover check did not run")
	} else if left := bytes.TrimSpace(after); len(left) > 0 {
		t.Errorf("processes still ran after make lab-down (the namespace's end killed them):\n%s", left)
	}
	for _, pkg := range []string{"docker.io", "chromium", "frr"} {
		if _, err := os.Stat(filepath.Join(root, "var", "lib", "dpkg", "info", pkg+".list")); err == nil {
			t.Errorf("make lab-up installed %s, which the lab does not need", pkg)
		}
	}
}
