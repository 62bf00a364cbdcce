package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is matched by every parse and validation error of this package.
var ErrInvalid = errors.New("invalid")

// Problem is one problem of a topology, with its field path.
type Problem struct {
	Path   string // e.g. nodes[2].networks[0].address
	Detail string
}

func (p Problem) String() string { return p.Path + ": " + p.Detail }

// Problems are every problem of a topology, in file order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return "invalid:\n  " + strings.Join(lines, "\n  ")
}

// Is makes Problems match ErrInvalid.
func (ps Problems) Is(target error) bool { return target == ErrInvalid }

// Load reads, parses, defaults and validates a topology file.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse decodes a topology strictly (unknown fields are errors), fills in defaults and validates
// it, returning every problem at once.
func Parse(data []byte) (*Topology, error) {
	t := &Topology{}
	if err := DecodeStrict(data, t, func() (string, string) { return t.APIVersion, t.Kind }, APIVersion, Kind); err != nil {
		return nil, err
	}
	if ps := Default(t); len(ps) > 0 {
		return nil, ps
	}
	if ps := Validate(t); len(ps) > 0 {
		return nil, ps
	}
	return t, nil
}

// DecodeStrict decodes one YAML document into v, refusing unknown fields, more than one document
// and a header (read back through header) other than apiVersion/kind. The lab's file formats share it.
func DecodeStrict(data []byte, v any, header func() (string, string), apiVersion, kind string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return Problems{{Path: "(file)", Detail: "empty: a " + kind + " starts with apiVersion: " + apiVersion + " and kind: " + kind}}
		}
		return Problems{{Path: "(file)", Detail: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Problems{{Path: "(file)", Detail: "holds more than one document; a " + kind + " is one"}}
	}
	if av, k := header(); av != apiVersion || k != kind {
		return Problems{{Path: "apiVersion/kind", Detail: fmt.Sprintf("got %q/%q, want %s/%s", av, k, apiVersion, kind)}}
	}
	return nil
}
