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
var ErrInvalid = errors.New("invalid topology")

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
	return "invalid topology:\n  " + strings.Join(lines, "\n  ")
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
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	t := &Topology{}
	if err := dec.Decode(t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{Path: "(file)", Detail: "empty: a topology starts with apiVersion: " + APIVersion + " and kind: " + Kind}}
		}
		return nil, Problems{{Path: "(file)", Detail: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra Topology
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Problems{{Path: "(file)", Detail: "holds more than one document; a topology is one"}}
	}
	if t.APIVersion != APIVersion || t.Kind != Kind {
		return nil, Problems{{Path: "apiVersion/kind", Detail: fmt.Sprintf("got %q/%q, want %s/%s", t.APIVersion, t.Kind, APIVersion, Kind)}}
	}
	if ps := Default(t); len(ps) > 0 {
		return nil, ps
	}
	if ps := Validate(t); len(ps) > 0 {
		return nil, ps
	}
	return t, nil
}
