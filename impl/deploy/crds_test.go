package deploy_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/internal/testenv"
)

// documents splits a YAML file into objects.
func documents(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// wants returns the "# want: text" lines of a file: what the rejection must mention.
func wants(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no '# want:' line", path)
	}
	return out
}

// TestCRDsAcceptMetalLBExamples installs the generated CRDs into a real kube-apiserver, then
// creates (server-side dry run, strict field validation, as kubectl apply does) every example of
// MetalLB's documentation, which must be accepted unchanged, and every invalid object, which
// must be rejected with a message naming the field.
func TestCRDsAcceptMetalLBExamples(t *testing.T) {
	cfg := testenv.Start(t)
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "metallb-system"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	create := func(u *unstructured.Unstructured) error {
		return c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict"))
	}

	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(valid) < 20 || len(invalid) < 15 {
		t.Fatalf("testdata is missing: %d valid, %d invalid files", len(valid), len(invalid))
	}
	for _, path := range valid {
		t.Run("valid/"+filepath.Base(path), func(t *testing.T) {
			for _, u := range documents(t, path) {
				if err := create(u); err != nil {
					t.Errorf("%s %s was rejected: %v", u.GetKind(), u.GetName(), err)
				}
			}
		})
	}
	for _, path := range invalid {
		t.Run("invalid/"+filepath.Base(path), func(t *testing.T) {
			docs := documents(t, path)
			if len(docs) != 1 {
				t.Fatalf("an invalid example holds one object, got %d", len(docs))
			}
			err := create(docs[0])
			if err == nil {
				t.Fatalf("%s %s was accepted", docs[0].GetKind(), docs[0].GetName())
			}
			t.Logf("rejected as expected: %v", err)
			for _, w := range wants(t, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("rejection does not mention %q: %v", w, err)
				}
			}
		})
	}
}
