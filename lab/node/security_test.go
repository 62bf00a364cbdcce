//go:build linux

package node

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/lab/container"
	"github.com/ironlb/ironlb/lab/topology"
)

func TestImageArgv(t *testing.T) {
	u := &topology.Unpacked{Entrypoint: []string{"/app", "--base"}, Cmd: []string{"--default"}}
	expand := func(s string) string { return strings.ReplaceAll(s, "$(X)", "x") }
	for _, tc := range []struct {
		name          string
		command, args []string
		image         *topology.Unpacked
		want          []string
		wantErr       string
	}{
		{"the image's entrypoint and cmd", nil, nil, u, []string{"/app", "--base", "--default"}, ""},
		{"args replace cmd", nil, []string{"--v=$(X)"}, u, []string{"/app", "--base", "--v=x"}, ""},
		{"command replaces both", []string{"/other", "$(X)"}, nil, u, []string{"/other", "x"}, ""},
		{"command and args", []string{"/other"}, []string{"-a"}, u, []string{"/other", "-a"}, ""},
		{"cmd alone", nil, nil, &topology.Unpacked{Cmd: []string{"sh"}}, []string{"sh"}, ""},
		{"nothing to run", nil, nil, &topology.Unpacked{}, nil, "no command"},
	} {
		got, err := imageArgv(&corev1.Container{Name: "c", Command: tc.command, Args: tc.args}, tc.image, expand)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestImageSecurity(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	yes, no := true, false
	passwd := []byte("root:x:0:0:root:/root:/sbin/nologin\n# comment\nnobody:x:65534:65534::/:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n")
	group := []byte("root:x:0:\nnonroot:x:65532:\nnet:x:700:\n")
	speaker := &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_RAW"}}}
	for _, tc := range []struct {
		name      string
		pod       *corev1.PodSecurityContext
		ctr       *corev1.SecurityContext
		imageUser string
		want      container.Image
		wantErr   string
	}{
		{name: "defaults: the image's root, containerd's capabilities", want: container.Image{Caps: defaultCaps}},
		{name: "IronLB's speaker", ctr: speaker, imageUser: "0:0",
			want: container.Image{Caps: []string{"NET_RAW"}, ReadOnlyRoot: true, NoNewPrivs: true}},
		{name: "IronLB's controller: the pod's user over the image's", imageUser: "65532:65532",
			pod:  &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: i64(65534), FSGroup: i64(65534)},
			ctr:  &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			want: container.Image{UID: 65534, GID: 65534, Groups: []uint32{65534}, ReadOnlyRoot: true, NoNewPrivs: true}},
		{name: "the container's user over the pod's; runAsGroup", pod: &corev1.PodSecurityContext{RunAsUser: i64(1), SupplementalGroups: []int64{5, 6}},
			ctr:  &corev1.SecurityContext{RunAsUser: i64(65532), RunAsGroup: i64(9)},
			want: container.Image{UID: 65532, GID: 9, Groups: []uint32{5, 6}, Caps: defaultCaps}},
		{name: "a user unknown to the image's passwd: group 0", ctr: &corev1.SecurityContext{RunAsUser: i64(1234)}, want: container.Image{UID: 1234, Caps: defaultCaps}},
		{name: "image user by name and group name", imageUser: "nonroot:net", want: container.Image{UID: 65532, GID: 700, Caps: defaultCaps}},
		{name: "image user by number without group", imageUser: "65534", want: container.Image{UID: 65534, GID: 65534, Caps: defaultCaps}},
		{name: "non-root image passes runAsNonRoot", imageUser: "65532:65532", pod: &corev1.PodSecurityContext{RunAsNonRoot: &yes},
			want: container.Image{UID: 65532, GID: 65532, Caps: defaultCaps}},
		{name: "privileged: every capability", ctr: &corev1.SecurityContext{Privileged: &yes}, want: container.Image{Caps: container.CapNames()}},
		{name: "drop some, add with CAP_ and lower case", ctr: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{
			Drop: []corev1.Capability{"MKNOD", "KILL", "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "SETGID", "SETUID", "SETFCAP", "SETPCAP", "SYS_CHROOT", "AUDIT_WRITE"},
			Add:  []corev1.Capability{"CAP_NET_ADMIN", "net_raw"}}},
			want: container.Image{Caps: []string{"NET_RAW", "NET_BIND_SERVICE", "NET_ADMIN"}}},
		{name: "add ALL", ctr: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"ALL"}}},
			want: container.Image{Caps: container.CapNames()}},
		{name: "runAsNonRoot and a root image", pod: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, imageUser: "0:0", wantErr: "container c: runAsNonRoot is set and the image will run as root"},
		{name: "runAsNonRoot and no image user", ctr: &corev1.SecurityContext{RunAsNonRoot: &yes}, wantErr: "image will run as root"},
		{name: "runAsNonRoot and runAsUser 0", ctr: &corev1.SecurityContext{RunAsNonRoot: &yes, RunAsUser: i64(0)}, wantErr: "securityContext.runAsUser 0 breaks the runAsNonRoot policy"},
		{name: "runAsNonRoot and a named image user", pod: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, imageUser: "nonroot", wantErr: "non-numeric user (nonroot)"},
		{name: "container says root is fine", pod: &corev1.PodSecurityContext{RunAsNonRoot: &yes}, ctr: &corev1.SecurityContext{RunAsNonRoot: &no}, want: container.Image{Caps: defaultCaps}},
		{name: "image user missing from passwd", imageUser: "ghost", wantErr: `the image's user "ghost" is not in its /etc/passwd`},
		{name: "image group missing from group", imageUser: "nonroot:ghosts", wantErr: `the image's group "ghosts" is not in its /etc/group`},
		{name: "unknown capability", ctr: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_RAW", "FLY"}}},
			wantErr: `securityContext.capabilities.add[1]: unknown capability "FLY"`},
	} {
		p := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: tc.pod}}
		got, err := imageSecurity(p, &corev1.Container{Name: "c", SecurityContext: tc.ctr}, tc.imageUser, passwd, group)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got.UID != tc.want.UID || got.GID != tc.want.GID || !slices.Equal(got.Groups, tc.want.Groups) ||
			!slices.Equal(got.Caps, tc.want.Caps) || got.ReadOnlyRoot != tc.want.ReadOnlyRoot || got.NoNewPrivs != tc.want.NoNewPrivs {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}
