//go:build linux

package node

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/lab/container"
	"github.com/ironlb/ironlb/lab/topology"
)

// This file is pure: what a container of an image runs, and as whom, from the pod, the
// container and the image, as the kubelet and containerd decide it.

// defaultCaps are the capabilities a container gets when its securityContext changes none
// (containerd's default OCI specification).
var defaultCaps = []string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}

// imageArgv is the command line of a container of an image: command replaces the entrypoint
// (and drops the image's cmd), args replace the image's cmd. expand resolves $(VAR) in the
// pod's command and args, not in the image's.
func imageArgv(c *corev1.Container, u *topology.Unpacked, expand func(string) string) ([]string, error) {
	var argv []string
	switch {
	case len(c.Command) > 0:
		for _, s := range c.Command {
			argv = append(argv, expand(s))
		}
		for _, s := range c.Args {
			argv = append(argv, expand(s))
		}
	default:
		argv = slices.Clone(u.Entrypoint)
		if len(c.Args) > 0 {
			for _, s := range c.Args {
				argv = append(argv, expand(s))
			}
		} else {
			argv = append(argv, u.Cmd...)
		}
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("container %s: no command: the image has no entrypoint or cmd and the container sets no command", c.Name)
	}
	return argv, nil
}

// imageSecurity is who a container of an image runs as and what it may do: the user (the
// container's securityContext, else the pod's, else the image's, with names and the primary
// group read from the image's /etc/passwd and /etc/group), the supplementary groups (the pod's
// and its fsGroup), the capabilities (containerd's defaults, then drop, then add; every one when
// privileged), the read-only root and no_new_privs. runAsNonRoot is enforced as the kubelet does.
// The error names the field at fault.
func imageSecurity(p *corev1.Pod, c *corev1.Container, imageUser string, passwd, group []byte) (container.Image, error) {
	var im container.Image
	psc, csc := p.Spec.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	pick := func(cv, pv *int64) *int64 {
		if cv != nil {
			return cv
		}
		return pv
	}
	runAsUser, runAsGroup := pick(csc.RunAsUser, psc.RunAsUser), pick(csc.RunAsGroup, psc.RunAsGroup)
	nonRoot := csc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	switch {
	case runAsUser != nil:
		im.UID = uint32(*runAsUser)
		im.GID = primaryGroup(passwd, im.UID)
	default:
		u, g, hasGroup := strings.Cut(imageUser, ":")
		if u == "" {
			u = "0"
		}
		if n, err := strconv.ParseUint(u, 10, 32); err == nil {
			im.UID = uint32(n)
			im.GID = primaryGroup(passwd, im.UID)
		} else if nonRoot != nil && *nonRoot {
			return im, fmt.Errorf("container %s: runAsNonRoot: the image has the non-numeric user (%s), cannot verify the user is non-root", c.Name, u)
		} else if uid, gid, ok := lookupUser(passwd, u); ok {
			im.UID, im.GID = uid, gid
		} else {
			return im, fmt.Errorf("container %s: the image's user %q is not in its /etc/passwd", c.Name, u)
		}
		if hasGroup {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				im.GID = uint32(n)
			} else if gid, ok := lookupGroup(group, g); ok {
				im.GID = gid
			} else {
				return im, fmt.Errorf("container %s: the image's group %q is not in its /etc/group", c.Name, g)
			}
		}
	}
	if runAsGroup != nil {
		im.GID = uint32(*runAsGroup)
	}
	if nonRoot != nil && *nonRoot && im.UID == 0 {
		if runAsUser != nil {
			return im, fmt.Errorf("container %s: securityContext.runAsUser 0 breaks the runAsNonRoot policy", c.Name)
		}
		return im, fmt.Errorf("container %s: runAsNonRoot is set and the image will run as root (set securityContext.runAsUser, or use an image with a non-root user)", c.Name)
	}
	for _, g := range psc.SupplementalGroups {
		im.Groups = append(im.Groups, uint32(g))
	}
	if psc.FSGroup != nil && !slices.Contains(im.Groups, uint32(*psc.FSGroup)) {
		im.Groups = append(im.Groups, uint32(*psc.FSGroup))
	}
	caps, err := capabilities(c.Name, csc)
	if err != nil {
		return im, err
	}
	im.Caps = caps
	im.ReadOnlyRoot = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
	im.NoNewPrivs = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
	return im, nil
}

// capabilities is the container's capability set: every one when privileged, else
// containerd's defaults without drop (ALL: none) and with add (ALL: every one).
func capabilities(name string, sc *corev1.SecurityContext) ([]string, error) {
	all := container.CapNames()
	if sc.Privileged != nil && *sc.Privileged {
		return all, nil
	}
	set := slices.Clone(defaultCaps)
	if sc.Capabilities == nil {
		return set, nil
	}
	norm := func(field string, i int, c corev1.Capability) (string, error) {
		n := strings.TrimPrefix(strings.ToUpper(string(c)), "CAP_")
		if n != "ALL" && !slices.Contains(all, n) {
			return "", fmt.Errorf("container %s: securityContext.capabilities.%s[%d]: unknown capability %q", name, field, i, c)
		}
		return n, nil
	}
	for i, c := range sc.Capabilities.Drop {
		n, err := norm("drop", i, c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = nil
			continue
		}
		set = slices.DeleteFunc(set, func(s string) bool { return s == n })
	}
	for i, c := range sc.Capabilities.Add {
		n, err := norm("add", i, c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			return all, nil
		}
		if !slices.Contains(set, n) {
			set = append(set, n)
		}
	}
	return set, nil
}

// lookupUser finds a user by name in an /etc/passwd.
func lookupUser(passwd []byte, name string) (uid, gid uint32, ok bool) {
	for _, f := range records(passwd) {
		if len(f) >= 4 && f[0] == name {
			u, err1 := strconv.ParseUint(f[2], 10, 32)
			g, err2 := strconv.ParseUint(f[3], 10, 32)
			if err1 == nil && err2 == nil {
				return uint32(u), uint32(g), true
			}
		}
	}
	return 0, 0, false
}

// primaryGroup is the group of uid in an /etc/passwd, or 0 (what containerd does).
func primaryGroup(passwd []byte, uid uint32) uint32 {
	for _, f := range records(passwd) {
		if len(f) >= 4 && f[2] == strconv.FormatUint(uint64(uid), 10) {
			if g, err := strconv.ParseUint(f[3], 10, 32); err == nil {
				return uint32(g)
			}
		}
	}
	return 0
}

// lookupGroup finds a group by name in an /etc/group.
func lookupGroup(group []byte, name string) (uint32, bool) {
	for _, f := range records(group) {
		if len(f) >= 3 && f[0] == name {
			if g, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				return uint32(g), true
			}
		}
	}
	return 0, false
}

// records splits a colon-separated file into its records, skipping comments and blank lines.
func records(data []byte) [][]string {
	var out [][]string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.Split(l, ":"))
	}
	return out
}
