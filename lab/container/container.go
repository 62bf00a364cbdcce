//go:build linux

// Package container starts a process pod's container: a host binary run in the pod's network
// namespace and in a mount namespace of its own, where the pod's volumes sit at their mount paths
// and /tmp is private, without touching the host's file system; or, in image mode (Image), the
// image's own files, user and capabilities (image.go). The node agent starts
// `ironlab __container ARGS -- CMD...` in a fresh mount namespace; that helper calls Exec, which
// makes the mounts, joins the network namespace and execs the command in place (same PID).
package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Mount puts a host file or directory at a path inside the container.
type Mount struct {
	Source   string // host path (a volume's directory, or a file in it)
	Target   string // absolute path in the container
	ReadOnly bool
}

// Spec is what the helper needs.
type Spec struct {
	NetNS string // network namespace path; empty keeps the caller's (hostNetwork pods)
	// Hostname gives the container a UTS namespace of its own with this host name, as a pod
	// has (spec.hostname or the pod's name); empty keeps the node's (hostNetwork pods).
	Hostname string
	Mounts   []Mount
	Dir      string // working directory in the container; "/" when empty
	// Image, when set, runs Argv in an unpacked image instead of the host's file system.
	Image *Image
	Argv  []string
}

// Args encodes a Spec as the helper's command line (after `ironlab __container`).
func (s Spec) Args() []string {
	var out []string
	if s.NetNS != "" {
		out = append(out, "--netns", s.NetNS)
	}
	if s.Hostname != "" {
		out = append(out, "--hostname", s.Hostname)
	}
	for _, m := range s.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		out = append(out, "--mount", mode+":"+m.Source+":"+m.Target)
	}
	if s.Dir != "" {
		out = append(out, "--dir", s.Dir)
	}
	if s.Image != nil {
		out = append(out, s.Image.args()...)
	}
	return append(append(out, "--"), s.Argv...)
}

// ParseArgs is the inverse of Args.
func ParseArgs(args []string) (Spec, error) {
	var s Spec
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			s.Argv = args[i+1:]
			if len(s.Argv) == 0 {
				return s, errors.New("container: no command after --")
			}
			return s, nil
		}
		if i+1 >= len(args) {
			return s, fmt.Errorf("container: %s needs a value", a)
		}
		v := args[i+1]
		i++
		switch a {
		case "--netns":
			s.NetNS = v
		case "--dir":
			s.Dir = v
		case "--hostname":
			if v == "" || len(v) > 64 {
				return s, fmt.Errorf("container: --hostname %q: want 1-64 characters", v)
			}
			s.Hostname = v
		case "--mount":
			mode, rest, ok1 := strings.Cut(v, ":")
			src, dst, ok2 := strings.Cut(rest, ":")
			if !ok1 || !ok2 || (mode != "ro" && mode != "rw") || !filepath.IsAbs(dst) || !filepath.IsAbs(src) {
				return s, fmt.Errorf("container: --mount %q: want ro|rw:/host/path:/container/path", v)
			}
			s.Mounts = append(s.Mounts, Mount{Source: src, Target: dst, ReadOnly: mode == "ro"})
		default:
			ok, err := parseImageFlag(&s, a, v)
			if err != nil {
				return s, err
			}
			if !ok {
				return s, fmt.Errorf("container: unknown flag %s", a)
			}
		}
	}
	return s, errors.New("container: missing -- CMD")
}

// Exec sets up the container and replaces the current process with its command. It must run in a
// mount namespace of its own (the node agent starts the helper with CLONE_NEWNS).
func Exec(s Spec, env []string) error {
	runtime.LockOSThread() // setns applies to this thread; execve keeps it
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("container: make mounts private: %w", err)
	}
	if s.Image != nil {
		return execImage(s, env)
	}
	m := &mounter{writable: map[string]bool{}, src: map[string]*os.File{}}
	// Hold every source open first: the private /tmp below would hide sources under /tmp.
	for _, mt := range s.Mounts {
		if _, ok := m.src[mt.Source]; ok {
			continue
		}
		f, err := os.OpenFile(mt.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("container: volume %s: %w", mt.Source, err)
		}
		m.src[mt.Source] = f
	}
	// The binary too (it may live under /tmp): exec'd through its descriptor below.
	bin, err := os.OpenFile(s.Argv[0], unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container: binary: %w", err)
	}
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("container: private /tmp: %w", err)
	}
	m.writable["/tmp"] = true
	mounts := slices.Clone(s.Mounts)
	slices.SortStableFunc(mounts, func(a, b Mount) int { return strings.Count(a.Target, "/") - strings.Count(b.Target, "/") })
	for _, mt := range mounts {
		if err := m.bind(mt); err != nil {
			return fmt.Errorf("container: mount %s at %s: %w", mt.Source, mt.Target, err)
		}
	}
	if err := joinNetNS(s.NetNS); err != nil {
		return err
	}
	if err := setHostname(s.Hostname); err != nil {
		return err
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("container: working directory: %w", err)
	}
	return syscall.Exec(fmt.Sprintf("/proc/self/fd/%d", bin.Fd()), s.Argv, env)
}

// joinNetNS moves this (locked) thread into the network namespace at path ("": stay).
func joinNetNS(path string) error {
	if path == "" {
		return nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container: open network namespace: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("container: join network namespace %s: %w", path, err)
	}
	return nil
}

// setHostname gives this (locked) thread, which execs the command, a UTS namespace with the
// host name ("": keep the node's).
func setHostname(name string) error {
	if name == "" {
		return nil
	}
	if err := unix.Unshare(unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("container: UTS namespace: %w", err)
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("container: set host name %q: %w", name, err)
	}
	return nil
}

// mounter places bind mounts, making room for targets that do not exist on the host by shadowing
// their parent directory with a tmpfs that carries the parent's entries (bound through).
type mounter struct {
	writable map[string]bool     // directories (real paths) under which we may create entries
	src      map[string]*os.File // sources, opened before anything was mounted
	shadows  int
}

func (m *mounter) bind(mt Mount) error {
	f := m.src[mt.Source]
	st, err := f.Stat()
	if err != nil {
		return err
	}
	target, err := m.ensure(mt.Target, st.IsDir())
	if err != nil {
		return err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if mt.ReadOnly {
		return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	return nil
}

// ensure returns the real path of target, creating it (and its missing parents) in this mount
// namespace when it does not exist.
func (m *mounter) ensure(target string, dir bool) (string, error) {
	parts := strings.Split(strings.Trim(filepath.Clean(target), "/"), "/")
	cur := "/"
	for i, p := range parts {
		next := filepath.Join(cur, p)
		fi, err := os.Lstat(next)
		switch {
		case err == nil && fi.Mode()&os.ModeSymlink != 0:
			real, err := filepath.EvalSymlinks(next)
			if err != nil {
				return "", fmt.Errorf("%s: %w", next, err)
			}
			cur = real
			continue
		case err == nil:
			cur = next
			continue
		case !os.IsNotExist(err):
			return "", err
		}
		// next is missing: create it and the rest under cur.
		if !m.underWritable(cur) {
			if err := m.shadow(cur); err != nil {
				return "", err
			}
		}
		rest := filepath.Join(append([]string{cur}, parts[i:]...)...)
		return rest, makeMountPoint(rest, dir)
	}
	return cur, nil
}

// makeMountPoint creates p, and its missing parents, as a directory or an empty file.
func makeMountPoint(p string, dir bool) error {
	if dir {
		return os.MkdirAll(p, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func (m *mounter) underWritable(p string) bool {
	for d := p; ; d = filepath.Dir(d) {
		if m.writable[d] {
			return true
		}
		if d == "/" {
			return false
		}
	}
}

// shadow covers dir with a tmpfs holding the same entries (directories and files bound from the
// original, symbolic links copied), so that new entries can be made in it.
func (m *mounter) shadow(dir string) error {
	if dir == "/" {
		return errors.New("cannot create a top-level directory (mount it somewhere that exists, or under /tmp, /etc, /var)")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	m.shadows++
	tmp := fmt.Sprintf("/tmp/.shadow-%d", m.shadows)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", tmp, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("shadow %s: %w", dir, err)
	}
	for _, e := range entries {
		src, dst := filepath.Join(dir, e.Name()), filepath.Join(tmp, e.Name())
		fi, err := os.Lstat(src)
		if err != nil {
			continue // vanished meanwhile
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(src)
			if err != nil {
				return err
			}
			err = os.Symlink(link, dst)
			if err != nil {
				return err
			}
			continue
		case fi.IsDir():
			err = os.Mkdir(dst, fi.Mode().Perm())
		default:
			var f *os.File
			if f, err = os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, fi.Mode().Perm()); err == nil {
				err = f.Close()
			}
		}
		if err != nil {
			return err
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("shadow %s: bind %s: %w", dir, e.Name(), err)
		}
	}
	if err := unix.Mount(tmp, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("shadow %s: %w", dir, err)
	}
	m.writable[dir] = true
	return nil
}
