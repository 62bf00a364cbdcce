// Command ironlab-runc is runc for hosts whose root lacks some of what runc is asked for (see
// lab/kind/runcspec): before `runc create` or `runc run` it takes out of the bundle's
// config.json what this host's root cannot give, logs what it changed to $IRONLAB_RUNC_LOG, and
// then runs the real runc with the same arguments. The Kind provider's Docker engine and its
// nodes' containerd use it as their runtime. The real runc is $IRONLAB_RUNC, else the first of
// /usr/sbin/runc, /usr/bin/runc and /usr/local/sbin/runc.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/ironlb/ironlb/lab/container"
	"github.com/ironlb/ironlb/lab/kind/runcspec"
)

func main() {
	runc, err := realRunc()
	if err == nil {
		err = adjust(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ironlab-runc:", err)
		os.Exit(1)
	}
	err = syscall.Exec(runc, append([]string{runc}, os.Args[1:]...), os.Environ())
	fmt.Fprintf(os.Stderr, "ironlab-runc: exec %s: %v\n", runc, err)
	os.Exit(1)
}

func realRunc() (string, error) {
	if p := os.Getenv("IRONLAB_RUNC"); p != "" {
		return p, nil
	}
	self, _ := os.Executable()
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && !sameFile(p, self) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no runc in /usr/sbin, /usr/bin or /usr/local/sbin (apt-get install runc), and IRONLAB_RUNC is not set")
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func adjust(args []string) error {
	kind, file := runcspec.Target(args)
	if kind == runcspec.None {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	host, err := thisHost()
	if err != nil {
		return err
	}
	f := runcspec.Adjust
	if kind == runcspec.Process {
		f = runcspec.AdjustProcess
	}
	out, changed, err := f(data, host)
	if err != nil || len(changed) == 0 {
		return err
	}
	if err := os.WriteFile(file, out, 0o600); err != nil {
		return err
	}
	// Said only where asked for: runc's standard error is the output of `docker exec`.
	if log := os.Getenv("IRONLAB_RUNC_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "%s: %s\n", file, strings.Join(changed, "; "))
			f.Close()
		}
	}
	return nil
}

// thisHost reads root's bounding set (/proc/self/status) and hard limits.
func thisHost() (runcspec.Host, error) {
	h := runcspec.Host{HardLimits: map[string]uint64{}}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return h, err
	}
	defer f.Close()
	var bnd uint64
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapBnd:"); ok {
			if bnd, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
				return h, fmt.Errorf("CapBnd: %w", err)
			}
		}
	}
	for bit, name := range container.CapNames() {
		if bnd&(1<<bit) != 0 {
			h.Bounding = append(h.Bounding, "CAP_"+name)
		}
	}
	for name, res := range rlimits {
		var l syscall.Rlimit
		if syscall.Getrlimit(res, &l) == nil {
			h.HardLimits[name] = l.Max
		}
	}
	return h, nil
}

var rlimits = map[string]int{
	"RLIMIT_CPU": syscall.RLIMIT_CPU, "RLIMIT_FSIZE": syscall.RLIMIT_FSIZE, "RLIMIT_DATA": syscall.RLIMIT_DATA,
	"RLIMIT_STACK": syscall.RLIMIT_STACK, "RLIMIT_CORE": syscall.RLIMIT_CORE, "RLIMIT_NOFILE": syscall.RLIMIT_NOFILE,
	"RLIMIT_AS": syscall.RLIMIT_AS, "RLIMIT_NPROC": 6, "RLIMIT_MEMLOCK": 8,
}
