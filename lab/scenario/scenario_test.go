package scenario

import (
	"errors"
	"github.com/ironlb/ironlb/lab/internal/wantfile"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	s, err := Load("testdata/valid/l2-node-failure.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Implementation != "ironlb" || s.Timeout != DefaultTimeout.String() {
		t.Errorf("defaults: %q %q", s.Implementation, s.Timeout)
	}
	if s.Topology != filepath.Join("testdata", "valid", "..", "..", "topologies", "l2.yaml") && !strings.HasSuffix(s.Topology, "topologies/l2.yaml") {
		t.Errorf("topology path not made relative to the file: %s", s.Topology)
	}
	if s.Steps[0].Name != "1-apply" || s.Steps[4].Name != "kill the owner" {
		t.Errorf("step names: %q %q", s.Steps[0].Name, s.Steps[4].Name)
	}
	st := s.Steps[2].Traffic.Start
	if st.Interval != "10ms" || st.Port != 80 || st.Protocol != "http" || st.Family != "ipv4" {
		t.Errorf("stream defaults: %+v", st)
	}
	if !strings.HasSuffix(s.Steps[0].Apply.File, "testdata/valid/manifests/echo.yaml") {
		t.Errorf("manifest path: %s", s.Steps[0].Apply.File)
	}
}

// TestInvalid: each file of testdata/invalid fails with exactly the problems its "# want:" lines name.
func TestInvalid(t *testing.T) {
	wantfile.Check(t, "testdata/invalid", 8, func(b []byte) error { _, err := Parse(b); return err }, wantfile.As[Problems](ErrInvalid))
}

// TestValidHostAndServedBy: a stream's Host header and the servedBy expectation come through.
func TestValidHostAndServedBy(t *testing.T) {
	s, err := Load("testdata/valid/ingress.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if h := s.Steps[0].Traffic.Start.Host; h != "app1.example" {
		t.Errorf("host = %q", h)
	}
	if h := s.Steps[2].Traffic.Start.Host; h != "[fc00::1]" {
		t.Errorf("IPv6 host = %q", h)
	}
	if sb := s.Steps[4].Expect.ServedBy; sb == nil || sb.Stream != "app2" || sb.Deployment != "default/app2" {
		t.Errorf("servedBy = %+v", sb)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"testdata/valid/l2-node-failure.yaml", "testdata/valid/ingress.yaml"} {
		if data, err := os.ReadFile(seed); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if ps := Validate(s); len(ps) > 0 {
			t.Fatalf("accepted scenario fails validation again: %v", ps)
		}
	})
}

// TestSchemaIsFresh keeps scenarios/scenario.schema.json equal to what the types generate.
func TestSchemaIsFresh(t *testing.T) {
	wantfile.Fresh(t, "../../scenarios/scenario.schema.json", Schema)
}

// TestShippedScenarios: every scenario of the suite in scenarios/ parses and validates.
func TestShippedScenarios(t *testing.T) {
	files, _ := filepath.Glob("../../scenarios/*.yaml")
	if len(files) < 10 {
		t.Fatalf("the suite has %d scenarios, want at least 10", len(files))
	}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, m := range s.Manifests {
			if _, err := os.Stat(m); err != nil {
				t.Errorf("%s: manifest %v", f, err)
			}
		}
		if _, err := os.Stat(s.Topology); err != nil {
			t.Errorf("%s: topology %v", f, err)
		}
	}
}

// TestReferenceIsFresh keeps docs/reference/scenario.md equal to what the types generate.
func TestReferenceIsFresh(t *testing.T) {
	wantfile.Fresh(t, "../../docs/reference/scenario.md", ReferenceDoc)
}
