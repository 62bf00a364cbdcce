//go:build linux

package netns

import (
	"slices"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	in := `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
73 27 0:39 / /run rw,relatime shared:1 - tmpfs tmpfs rw,mode=755
76 73 0:39 /netns /run/netns rw,relatime shared:1 - tmpfs tmpfs rw,mode=755
77 76 0:4 net:[4026532460] /run/netns/l2-switch rw shared:2 - nsfs nsfs rw
90 27 0:50 / /mnt/with\040space\134and\011tab rw - tmpfs tmpfs rw
`
	got, err := parseMountInfo([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []mountInfo{{27, 1, "/"}, {73, 27, "/run"}, {76, 73, "/run/netns"}, {77, 76, "/run/netns/l2-switch"},
		{90, 27, "/mnt/with space\\and\ttab"}}
	if !slices.Equal(got, want) {
		t.Errorf("parseMountInfo:\n got %v\nwant %v", got, want)
	}
	if _, err := parseMountInfo([]byte("x 1 0:1 / / rw - tmpfs tmpfs rw\n")); err == nil {
		t.Error("a line without a numeric mount ID must be an error")
	}
	// The latest mount on a path is the top of the stack.
	m, ok := findMount(append(got, mountInfo{91, 77, "/run/netns/l2-switch"}), func(m mountInfo) bool { return m.point == "/run/netns/l2-switch" })
	if !ok || m.id != 91 {
		t.Errorf("findMount = %v, %v; want mount 91", m, ok)
	}
}
