package topology

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Schema returns the JSON Schema of the Topology format, generated from the Go types: field
// names from the yaml tags, descriptions from the doc tags, required fields where the tag has no
// omitempty, and no unknown fields anywhere (as the parser).
func Schema() ([]byte, error) { return SchemaDocument(Topology{}, "topology", APIVersion, Kind) }

// ReferenceDoc is the Markdown reference of the Topology format (docs/reference/topology.md).
func ReferenceDoc() ([]byte, error) {
	return []byte(Reference(Topology{}, "Topology reference", "Every field of a topology file (`apiVersion: "+APIVersion+"`, `kind: "+Kind+"`); see docs/lab.md for what a topology is.")), nil
}

// SchemaDocument returns the JSON Schema document of a lab file format whose struct v has
// apiVersion and kind fields, which the schema pins to the given values.
func SchemaDocument(v any, name, apiVersion, kind string) ([]byte, error) {
	s := schemaFor(reflect.TypeOf(v))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://ironlb.io/schemas/" + name + ".json"
	s["title"] = "IronLB lab " + name + " (" + apiVersion + ")"
	props := s["properties"].(map[string]any)
	props["apiVersion"].(map[string]any)["const"] = apiVersion
	props["kind"].(map[string]any)["const"] = kind
	return json.MarshalIndent(s, "", "  ")
}

func schemaFor(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		return schemaFor(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		m := map[string]any{"type": "integer"}
		if t.Kind() >= reflect.Uint16 {
			m["minimum"] = 0
		}
		return m
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaFor(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaFor(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "" || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			p := schemaFor(f.Type)
			if doc := f.Tag.Get("doc"); doc != "" {
				p["description"] = doc
			}
			props[name] = p
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		m := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			m["required"] = required
		}
		return m
	}
	return map[string]any{}
}
