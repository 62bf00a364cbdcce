//go:build linux

package netns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A named namespace is a bind mount of the namespace on a file in Dir. iproute2's `ip netns add`
// also makes Dir a shared mount, and when Dir is not a mount point yet it first bind-mounts Dir
// over itself (netns_add in iproute2's ip/ipnetns.c). Run while a lab is up, that bind covers
// the lab's mounts: `ip netns del` and the lab unmount the copy on top, and removing the file then
// fails with EBUSY while the covered mount stays (issue #18). So the lab prepares Dir as iproute2
// does before it makes a namespace, and its removal also finds covered mounts.

// maxStack bounds the unmounts of one path: mounts stacked on it, not a loop.
const maxStack = 64

// prepareDir makes Dir a shared mount of its own, as iproute2 does, so that a later
// `ip netns add` finds it ready and mounts nothing over the lab's namespaces. A Dir that is not a
// mount point but already holds mounts (namespaces made before, by an ironlab without this or
// by another tool) is left as it is: covering them would make their removal fail the same way.
func prepareDir() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", Dir, err)
	}
	// iproute2 takes this lock for the same work, so that two of them do not stack two mounts;
	// like iproute2, go on without it.
	if fd, err := unix.Open(Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		defer unix.Close(fd)
		_ = unix.Flock(fd, unix.LOCK_EX)
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) { // EINVAL: not a mount point
		return fmt.Errorf("make %s a shared mount: %w", Dir, err)
	}
	dir, err := filepath.EvalSymlinks(Dir)
	if err != nil {
		return err
	}
	below, err := mountOf(Dir)
	if err != nil {
		return err
	}
	mounts, err := readMountInfo()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if m.parent == below && strings.HasPrefix(m.point, dir+"/") {
			return nil // someone's namespaces
		}
	}
	if err := unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mount %s on itself: %w", Dir, err)
	}
	if err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s a shared mount: %w", Dir, err)
	}
	return nil
}

// removeNamed unmounts a named namespace and removes its file: every mount on the path (a
// mount may be stacked on another: unmounted until the path is no longer a mount point), then
// any mount on the same name that a later mount on Dir covers.
func removeNamed(name string) error {
	path := filepath.Join(Dir, name)
	for i := 0; ; i++ {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) { // not (or no longer) a mount point
			break
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
		if i == maxStack {
			return fmt.Errorf("unmount %s: still a mount point after %d unmounts", path, maxStack)
		}
	}
	if err := unmountCovered(name); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// unmountCovered unmounts the mounts on Dir/name that lie under a later mount on Dir, found in
// /proc/self/mountinfo. No path leads to them: a path through Dir ends in the mount on top. So
// the covered directory is opened by its file handle through the mount below (iproute2 binds Dir
// on itself: the same directory, on the mount beneath), and the mount on name unmounted through
// /proc/self/fd, which leads there without crossing the mount on top.
func unmountCovered(name string) error {
	dir, err := filepath.EvalSymlinks(Dir)
	if err != nil {
		return err
	}
	target := filepath.Join(dir, name)
	for i := 0; ; i++ {
		mounts, err := readMountInfo()
		if err != nil {
			return err
		}
		m, ok := findMount(mounts, func(m mountInfo) bool { return m.point == target })
		if !ok {
			return nil
		}
		if i == maxStack {
			return fmt.Errorf("unmount %s: still mounted after %d unmounts", target, maxStack)
		}
		parent, ok := findMount(mounts, func(p mountInfo) bool { return p.id == m.parent })
		if !ok {
			return fmt.Errorf("unmount %s (mount %d): its parent mount %d is not in mountinfo", target, m.id, m.parent)
		}
		if err := unmountUnder(parent, dir, name); err != nil {
			return fmt.Errorf("unmount %s (mount %d, under a later mount on %s): %w", target, m.id, dir, err)
		}
	}
}

// unmountUnder unmounts the mount on dir/name whose parent mount is parent.
func unmountUnder(parent mountInfo, dir, name string) error {
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, 0)
	if err != nil {
		return fmt.Errorf("file handle of %s: %w", dir, err)
	}
	root, err := openOnMount(parent.point, parent.id)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	fd, err := unix.OpenByHandleAt(root, h, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open %s on mount %d: %w", dir, parent.id, err)
	}
	defer unix.Close(fd)
	if id, err := mountID(fd); err != nil || id != parent.id {
		return fmt.Errorf("open %s on mount %d: got mount %d (%v)", dir, parent.id, id, err)
	}
	p := fmt.Sprintf("/proc/self/fd/%d/%s", fd, name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount through %s: %w", p, err)
	}
	return nil
}

// openOnMount opens the directory path (not O_PATH: open_by_handle_at refuses those), checking
// that it is on the mount id: a mount point that a later mount covers leads elsewhere.
func openOnMount(path string, id int) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	if got, err := mountID(fd); err != nil || got != id {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is not the root of mount %d (it is on mount %d: covered?) %v", path, id, got, err)
	}
	return fd, nil
}

// mountOf is the ID of the mount path is on.
func mountOf(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	id, err := mountID(fd)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

func mountID(fd int) (int, error) {
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &st); err != nil {
		return 0, fmt.Errorf("statx: %w", err)
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errors.New("statx: no mount ID (kernel older than 5.8)")
	}
	return int(st.Mnt_id), nil
}

// mountInfo is one line of /proc/self/mountinfo, the fields used here.
type mountInfo struct {
	id, parent int
	point      string // the mount point, unescaped
}

func findMount(mounts []mountInfo, f func(mountInfo) bool) (mountInfo, bool) {
	for i := len(mounts) - 1; i >= 0; i-- { // latest first: the top of a stack
		if f(mounts[i]) {
			return mounts[i], true
		}
	}
	return mountInfo{}, false
}

func readMountInfo() ([]mountInfo, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountInfo(data)
}

// parseMountInfo reads the mount ID, parent ID and mount point (fields 1, 2 and 5) of each line.
func parseMountInfo(data []byte) ([]mountInfo, error) {
	var out []mountInfo
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("mountinfo line %q: %w", sc.Text(), err)
		}
		out = append(out, mountInfo{id: id, parent: parent, point: unescapeOctal(f[4])})
	}
	return out, sc.Err()
}

// unescapeOctal undoes the kernel's \ooo escapes in mountinfo (space, tab, newline, backslash).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
