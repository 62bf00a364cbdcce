//go:build linux

package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Image runs the command in an unpacked image instead of the host's file system, as a runtime
// does: the image's root file system under a writable layer of the container's own (overlayfs),
// fresh /proc, /dev and /sys, the pod's mounts, then pivot_root; then the user, groups and
// capabilities the pod's securityContext gives, so that a process needing a file the image
// lacks, a capability it was not given or a writable root fails here as it would on a node.
type Image struct {
	Rootfs  string // the unpacked image: overlayfs's lower layer, never written
	Scratch string // the container's own directory for its writable layer (emptied at each start)
	// ReadOnlyRoot is securityContext.readOnlyRootFilesystem.
	ReadOnlyRoot bool
	UID, GID     uint32
	Groups       []uint32 // supplementary groups
	// Caps is the capability bounding set, by name without CAP_ (NET_RAW). A process running as
	// uid 0 has them all; any other user has none, as on a node (no ambient capabilities).
	Caps []string
	// NoNewPrivs is allowPrivilegeEscalation: false.
	NoNewPrivs bool
}

// capNames are the capabilities by number (capability(7)).
var capNames = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN",
	"SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND",
	"AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"}

// CapNames returns every capability name this package knows, in number order.
func CapNames() []string { return slices.Clone(capNames) }

// capNumber returns a capability's number from its name, with or without CAP_, in any case.
func capNumber(name string) (int, bool) {
	n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	i := slices.Index(capNames, n)
	return i, i >= 0
}

func (im *Image) args() []string {
	out := []string{"--rootfs", im.Rootfs, "--scratch", im.Scratch,
		"--user", fmt.Sprintf("%d:%d", im.UID, im.GID), "--caps", strings.Join(im.Caps, ",")}
	if len(im.Groups) > 0 {
		gs := make([]string, len(im.Groups))
		for i, g := range im.Groups {
			gs[i] = strconv.FormatUint(uint64(g), 10)
		}
		out = append(out, "--groups", strings.Join(gs, ","))
	}
	if im.ReadOnlyRoot {
		out = append(out, "--read-only-root", "true")
	}
	if im.NoNewPrivs {
		out = append(out, "--no-new-privs", "true")
	}
	return out
}

// parseImageFlag sets one image flag; ok is false for a flag that is not one.
func parseImageFlag(s *Spec, flag, v string) (bool, error) {
	im := s.Image
	if im == nil {
		im = &Image{}
	}
	switch flag {
	case "--rootfs", "--scratch":
		if !filepath.IsAbs(v) {
			return true, fmt.Errorf("container: %s %q: want an absolute path", flag, v)
		}
		if flag == "--rootfs" {
			im.Rootfs = v
		} else {
			im.Scratch = v
		}
	case "--user":
		u, g, ok := strings.Cut(v, ":")
		uid, err1 := strconv.ParseUint(u, 10, 32)
		gid, err2 := strconv.ParseUint(g, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return true, fmt.Errorf("container: --user %q: want uid:gid", v)
		}
		im.UID, im.GID = uint32(uid), uint32(gid)
	case "--groups":
		for _, g := range strings.Split(v, ",") {
			n, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return true, fmt.Errorf("container: --groups %q: want gid,gid", v)
			}
			im.Groups = append(im.Groups, uint32(n))
		}
	case "--caps":
		im.Caps = nil
		for _, c := range strings.Split(v, ",") {
			if c == "" {
				continue
			}
			if _, ok := capNumber(c); !ok {
				return true, fmt.Errorf("container: --caps: unknown capability %q", c)
			}
			im.Caps = append(im.Caps, c)
		}
	case "--read-only-root", "--no-new-privs":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return true, fmt.Errorf("container: %s %q: want true or false", flag, v)
		}
		if flag == "--read-only-root" {
			im.ReadOnlyRoot = b
		} else {
			im.NoNewPrivs = b
		}
	default:
		return false, nil
	}
	s.Image = im
	return true, nil
}

// execImage is Exec for a container of an image. The thread is locked and mounts are private.
func execImage(s Spec, env []string) error {
	im := s.Image
	if im.Rootfs == "" || im.Scratch == "" {
		return errors.New("container: an image needs --rootfs and --scratch")
	}
	// The network namespace first: the /sys mounted below shows the pod's interfaces.
	if err := joinNetNS(s.NetNS); err != nil {
		return err
	}
	// Hold every source open before anything is mounted (one descriptor per source, however
	// many mounts use it; close-on-exec ends them all).
	src := map[string]*os.File{}
	for _, mt := range s.Mounts {
		if _, ok := src[mt.Source]; ok {
			continue
		}
		f, err := os.OpenFile(mt.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("container: volume %s: %w", mt.Source, err)
		}
		src[mt.Source] = f
	}
	// The writable layer: fresh at every start, as a new container's is.
	upper, work, root := filepath.Join(im.Scratch, "upper"), filepath.Join(im.Scratch, "work"), filepath.Join(im.Scratch, "merged")
	for _, d := range []string{upper, work} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("container: writable layer: %w", err)
		}
	}
	for _, d := range []string{upper, work, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("container: writable layer: %w", err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", overlayEscape(im.Rootfs), overlayEscape(upper), overlayEscape(work))
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("container: overlayfs on %s: %w (the lab's image mode needs overlayfs: modprobe overlay)", im.Rootfs, err)
	}
	// What a runtime gives every container.
	system := []struct {
		target, fstype, data string
		flags                uintptr
	}{
		{"/proc", "proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"/dev", "tmpfs", "mode=755,size=65536k", unix.MS_NOSUID | unix.MS_STRICTATIME},
		{"/dev/shm", "tmpfs", "mode=1777,size=65536k", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"/sys", "sysfs", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY},
	}
	for _, m := range system {
		p, err := mountPoint(root, m.target, true)
		if err != nil {
			return fmt.Errorf("container: %s: %w", m.target, err)
		}
		if err := unix.Mount(m.fstype, p, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("container: mount %s at %s: %w", m.fstype, m.target, err)
		}
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p, err := mountPoint(root, "/dev/"+d, false)
		if err == nil {
			err = unix.Mount("/dev/"+d, p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("container: /dev/%s: %w", d, err)
		}
	}
	for link, to := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(to, filepath.Join(root, "dev", link)); err != nil {
			return fmt.Errorf("container: /dev/%s: %w", link, err)
		}
	}
	mounts := slices.Clone(s.Mounts)
	slices.SortStableFunc(mounts, func(a, b Mount) int { return strings.Count(a.Target, "/") - strings.Count(b.Target, "/") })
	for _, mt := range mounts {
		f := src[mt.Source]
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("container: volume %s: %w", mt.Source, err)
		}
		p, err := mountPoint(root, mt.Target, st.IsDir())
		if err == nil {
			err = unix.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), p, "", unix.MS_BIND|unix.MS_REC, "")
		}
		if err == nil && mt.ReadOnly {
			err = unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
		}
		if err != nil {
			return fmt.Errorf("container: mount %s at %s: %w", mt.Source, mt.Target, err)
		}
	}
	if im.ReadOnlyRoot {
		if err := unix.Mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("container: read-only root: %w", err)
		}
	}
	// pivot_root as runc does: the old root is stacked under the new one, then detached.
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("container: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("container: pivot_root into %s: %w", root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("container: detach the host's root: %w", err)
	}
	if err := setHostname(s.Hostname); err != nil {
		return err
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("container: working directory %s: %w", dir, err)
	}
	bin, err := LookPath("/", s.Argv[0], env)
	if err != nil {
		return err
	}
	if err := dropPrivileges(im); err != nil {
		return err
	}
	return syscall.Exec(bin, s.Argv, env)
}

// overlayEscape escapes a path for overlayfs's options, where ',' and ':' separate.
func overlayEscape(p string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ":", `\:`).Replace(p)
}

// mountPoint returns where target is inside root (symbolic links resolved in root's scope),
// creating it as a directory or an empty file when it does not exist.
func mountPoint(root, target string, dir bool) (string, error) {
	p, err := securejoin.SecureJoin(root, target)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(p); err == nil {
		return p, nil
	}
	return p, makeMountPoint(p, dir)
}

// LookPath finds a command in the file system rooted at root ("/" inside the container, the
// unpacked image outside it) as execvp does with the container's PATH, and returns its path
// as the container sees it. Symbolic links resolve inside root.
func LookPath(root, cmd string, env []string) (string, error) {
	inRoot := func(p string) (os.FileInfo, error) {
		hp, err := securejoin.SecureJoin(root, p)
		if err != nil {
			return nil, err
		}
		return os.Stat(hp)
	}
	if strings.Contains(cmd, "/") {
		if _, err := inRoot(cmd); err != nil {
			return "", fmt.Errorf("container: %s: not in the image: %w", cmd, err)
		}
		return cmd, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, cmd)
		if st, err := inRoot(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("container: %q: executable file not found in the image's PATH %q", cmd, path)
}

// dropPrivileges limits the capability bounding set, sets no_new_privs, and becomes the user.
func dropPrivileges(im *Image) error {
	keep := map[int]bool{}
	for _, c := range im.Caps {
		n, _ := capNumber(c)
		keep[n] = true
	}
	last := len(capNames) - 1
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("container: drop capability %d from the bounding set: %w", c, err)
		}
	}
	// Nothing passes execve but the bounding set: no ambient and no inheritable capabilities
	// (a host that hands its processes inheritable ones would otherwise widen what root keeps).
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("container: clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("container: capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("container: clear inheritable capabilities: %w", err)
	}
	if im.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("container: no_new_privs: %w", err)
		}
	}
	groups := make([]int, len(im.Groups))
	for i, g := range im.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("container: supplementary groups %v: %w", im.Groups, err)
	}
	if err := syscall.Setgid(int(im.GID)); err != nil {
		return fmt.Errorf("container: gid %d: %w", im.GID, err)
	}
	if err := syscall.Setuid(int(im.UID)); err != nil {
		return fmt.Errorf("container: uid %d: %w", im.UID, err)
	}
	return nil
}
