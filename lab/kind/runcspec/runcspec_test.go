package runcspec

import (
	"encoding/json"
	"reflect"
	"testing"
)

var host = Host{
	Bounding:   []string{"CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"},
	HardLimits: map[string]uint64{"RLIMIT_NOFILE": 1048576},
}

func TestAdjust(t *testing.T) {
	for _, tc := range []struct {
		name, spec  string
		wantProcess string // "" when the spec must come back unchanged, byte for byte
		wantChanged int
	}{
		{"nothing to change", `{"ociVersion":"1.0.2","process":{"oomScoreAdj":0,"capabilities":{"bounding":["CAP_CHOWN"]}}}`, "", 0},
		{"no process", `{"ociVersion":"1.0.2"}`, "", 0},
		{"privileged: a capability root lacks, in every set", `{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"],"permitted":["CAP_SYS_RESOURCE","CAP_SYS_ADMIN"]},"args":["sh"]}}`,
			`{"args":["sh"],"capabilities":{"bounding":["CAP_CHOWN"],"effective":[],"permitted":["CAP_SYS_ADMIN"]}}`, 3},
		{"negative oom_score_adj", `{"process":{"oomScoreAdj":-999}}`, `{"oomScoreAdj":0}`, 1},
		{"positive oom_score_adj kept", `{"process":{"oomScoreAdj":500}}`, "", 0},
		{"a limit above root's", `{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":4194304,"soft":4194304},{"type":"RLIMIT_NPROC","hard":9,"soft":9}]}}`,
			`{"rlimits":[{"type":"RLIMIT_NOFILE","hard":1048576,"soft":1048576},{"type":"RLIMIT_NPROC","hard":9,"soft":9}]}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := Adjust([]byte(tc.spec), host)
			if err != nil {
				t.Fatal(err)
			}
			if len(changed) != tc.wantChanged {
				t.Fatalf("changed %q, want %d changes", changed, tc.wantChanged)
			}
			if tc.wantProcess == "" {
				if string(out) != tc.spec {
					t.Fatalf("spec changed: %s", out)
				}
				return
			}
			var got, want struct{ Process any }
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.wantProcess), &want.Process); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Process, want.Process) {
				t.Fatalf("process = %s\nwant      %s", out, tc.wantProcess)
			}
		})
	}
}

// The rest of a spec survives untouched: fields the package does not know are kept.
func TestAdjustKeepsTheRest(t *testing.T) {
	spec := `{"ociVersion":"1.2.0","root":{"path":"rootfs"},"linux":{"sysctl":{"net.ipv4.ip_forward":"1"}},"process":{"oomScoreAdj":-1000,"user":{"uid":0},"noNewPrivileges":true}}`
	out, _, err := Adjust([]byte(spec), host)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	_ = json.Unmarshal([]byte(`{"ociVersion":"1.2.0","root":{"path":"rootfs"},"linux":{"sysctl":{"net.ipv4.ip_forward":"1"}},"process":{"oomScoreAdj":0,"user":{"uid":0},"noNewPrivileges":true}}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %s", out)
	}
}

func TestAdjustRejectsBadSpecs(t *testing.T) {
	for _, spec := range []string{``, `[]`, `{"process":[]}`, `{"process":{"capabilities":{"bounding":"CAP_X"}}}`, `{"process":{"oomScoreAdj":"x"}}`, `{"process":{"rlimits":{}}}`} {
		if _, _, err := Adjust([]byte(spec), host); err == nil {
			t.Errorf("Adjust(%q): no error", spec)
		}
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		kind, file string
	}{
		{[]string{"--root", "/run/runc", "create", "--bundle", "/b", "id"}, Bundle, "/b/config.json"},
		{[]string{"create", "-b", "/b", "id"}, Bundle, "/b/config.json"},
		{[]string{"--log", "/l", "--log-format", "json", "run", "--bundle=/b", "id"}, Bundle, "/b/config.json"},
		{[]string{"run", "-b=/c", "id"}, Bundle, "/c/config.json"},
		{[]string{"create", "id"}, Bundle, "config.json"},
		{[]string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"}, Process, "/tmp/p.json"},
		{[]string{"exec", "-p=/tmp/p.json", "id"}, Process, "/tmp/p.json"},
		{[]string{"exec", "--tty", "id", "sh"}, None, ""},
		{[]string{"exec", "id", "--", "sh", "-p", "x"}, None, ""},
		{[]string{"exec", "id", "sh", "-p", "x"}, None, ""},
		{[]string{"create", "id", "--bundle", "/b"}, Bundle, "config.json"},
		{[]string{"create", "--pid-file", "/run/p", "--bundle", "/b", "id"}, Bundle, "/b/config.json"},
		{[]string{"exec", "--pid-file", "/run/p", "-p", "/tmp/p.json", "--detach", "id"}, Process, "/tmp/p.json"},
		{[]string{"--root", "/run/runc", "start", "id"}, None, ""},
		{[]string{"delete", "create"}, None, ""},
		{[]string{"--version"}, None, ""},
		{nil, None, ""},
	} {
		if kind, file := Target(tc.args); kind != tc.kind || file != tc.file {
			t.Errorf("Target(%q) = %q %q, want %q %q", tc.args, kind, file, tc.kind, tc.file)
		}
	}
}

// docker exec --privileged: the process file asks for every capability.
func TestAdjustProcess(t *testing.T) {
	out, changed, err := AdjustProcess([]byte(`{"args":["cat","/kind/version"],"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"]},"oomScoreAdj":-500}`), host)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	_ = json.Unmarshal(out, &got)
	_ = json.Unmarshal([]byte(`{"args":["cat","/kind/version"],"capabilities":{"bounding":["CAP_CHOWN"],"effective":[]},"oomScoreAdj":0}`), &want)
	if !reflect.DeepEqual(got, want) || len(changed) != 3 {
		t.Fatalf("AdjustProcess = %s, %q", out, changed)
	}
}

func FuzzAdjust(f *testing.F) {
	for _, s := range []string{`{"process":{"oomScoreAdj":-999,"capabilities":{"bounding":["CAP_SYS_RESOURCE"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":99999999,"soft":1}]}}`, `{}`, `null`, `{"process":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, spec []byte) {
		out, _, err := Adjust(spec, host)
		if err != nil {
			return
		}
		// What comes out is a spec, and adjusting it again changes nothing.
		again, changed, err := Adjust(out, host)
		if err != nil || len(changed) > 0 || string(again) != string(out) {
			t.Fatalf("second Adjust of %s: %s, %q, %v", out, again, changed, err)
		}
	})
}
