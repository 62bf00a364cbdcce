package layer2

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSkip(t *testing.T) {
	ex, err := NewExclusion([]string{"^storage[0-9]+$", "mgmt"})
	if err != nil {
		t.Fatal(err)
	}
	eth := func(name string) Link { return Link{Name: name, Up: true, Ethernet: true} }
	with := func(l Link, f func(*Link)) Link { f(&l); return l }
	for _, tc := range []struct {
		name  string
		link  Link
		named bool
		want  skipReason
	}{
		{"an up Ethernet interface", eth("eth0"), false, useIt},
		{"a bridge itself (the node's address on br0)", eth("br0"), false, useIt},
		{"a bond itself", eth("bond0"), false, useIt},
		{"a VRF member", with(eth("eth2"), func(l *Link) { l.Master = "vrf" }), false, useIt},
		{"down", with(eth("eth0"), func(l *Link) { l.Up = false }), false, skipDown},
		{"down, even named", with(eth("eth0"), func(l *Link) { l.Up = false }), true, skipDown},
		{"loopback", Link{Name: "lo", Up: true, Loopback: true}, false, skipLoopback},
		{"no MAC (wireguard, ipip)", Link{Name: "wg0", Up: true}, false, skipNoMAC},
		{"NOARP", with(eth("gre1"), func(l *Link) { l.NoARP = true }), false, skipNoARP},
		{"NOARP, even named", with(eth("gre1"), func(l *Link) { l.NoARP = true }), true, skipNoARP},
		{"a bond's member (IFF_SLAVE)", with(eth("eth1"), func(l *Link) { l.Slave = true; l.Master = "bond" }), false, skipPort},
		{"a bond's member, even named", with(eth("eth1"), func(l *Link) { l.Slave = true }), true, skipPort},
		{"a bridge's port", with(eth("enp1s0"), func(l *Link) { l.Master = "bridge" }), false, skipPort},
		{"an Open vSwitch port", with(eth("enp2s0"), func(l *Link) { l.Master = "openvswitch" }), false, skipPort},
		{"Calico pod interface", eth("cali1234abcd"), false, skipExcluded},
		{"Cilium pod interface", eth("lxc5678"), false, skipExcluded},
		{"Cilium host interface", eth("cilium_host"), false, skipExcluded},
		{"veth", eth("veth0a1b"), false, skipExcluded},
		{"docker0", eth("docker0"), false, skipExcluded},
		{"flannel", eth("flannel.1"), false, skipExcluded},
		{"configured, anchored", eth("storage0"), false, skipExcluded},
		{"configured anchored pattern leaves longer names", eth("storage0x"), false, useIt},
		{"configured, unanchored (matched anywhere, as MetalLB)", eth("eth0-mgmt"), false, skipExcluded},
		{"excluded by name but named by an L2Advertisement", eth("dummy0"), true, useIt},
		{"configured exclusion but named", eth("storage1"), true, useIt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := skip(tc.link, ex, tc.named); got != tc.want {
				t.Errorf("skip(%+v, named %v) = %q, want %q", tc.link, tc.named, got, tc.want)
			}
		})
	}
}

func TestExcludeL2(t *testing.T) {
	// MetalLB's own ConfigMap content (config/native/exclude-l2-config.yaml).
	metallb := `announcedInterfacesToExclude: ["^docker.*", "^cbr.*", "^dummy.*", "^virbr.*", "^lxcbr.*", "^veth.*", "^lo$", "^cali.*", "^tunl.*", "^flannel.*", "^kube-ipvs.*", "^cni.*", "^nodelocaldns.*", "^lxc.*"]`
	for _, tc := range []struct {
		name, yaml string
		want       int
		wantErr    bool
	}{
		{"MetalLB's default ConfigMap", metallb, 14, false},
		{"block list", "announcedInterfacesToExclude:\n- ^eth1$\n- ^ens4$\n", 2, false},
		{"empty", "", 0, false},
		{"other keys ignored (as MetalLB)", "other: 1\nannouncedInterfacesToExclude: [x]", 1, false},
		{"not YAML", "announcedInterfacesToExclude: [", 0, true},
		{"wrong type", "announcedInterfacesToExclude: 3", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseExcludeL2([]byte(tc.yaml))
			if (err != nil) != tc.wantErr || len(got) != tc.want {
				t.Errorf("ParseExcludeL2 = %v, %v; want %d patterns, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ex, err := ReadExclusion(filepath.Join(dir, "absent.yaml"))
	if err != nil || !ex.Excludes("cali0") || ex.Excludes("eth1") {
		t.Errorf("no file: want the defaults alone, got error %v", err)
	}
	ex, err = ReadExclusion(write("ok.yaml", "announcedInterfacesToExclude: ['^eth1$']"))
	if err != nil || !ex.Excludes("eth1") || !ex.Excludes("cali0") || ex.Excludes("eth0") {
		t.Errorf("configured: want eth1 and the defaults excluded, got error %v", err)
	}
	if _, err := ReadExclusion(write("bad.yaml", "announcedInterfacesToExclude: ['^eth1$', '(']")); err == nil {
		t.Error("an invalid pattern is accepted")
	}
}
