package controller_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/controller"
	"github.com/ironlb/ironlb/impl/internal/testenv"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocumentedExamples applies every YAML example of docs/allocation.md that has "# expect:"
// lines, with the controller running, and checks that each named Service gets the addresses the
// page says.
func TestDocumentedExamples(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "allocation.md"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.startController(controller.RunOptions{})
	examples := 0
	for _, m := range yamlBlock.FindAllSubmatch(page, -1) {
		block := m[1]
		var expects [][]string
		for _, line := range strings.Split(string(block), "\n") {
			if e, ok := strings.CutPrefix(line, "# expect: "); ok {
				expects = append(expects, strings.Fields(e))
			}
		}
		if len(expects) == 0 {
			continue
		}
		examples++
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(block), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				break
			}
			if len(u.Object) == 0 {
				continue
			}
			if n := u.GetNamespace(); n != "" {
				_ = h.c.Create(h.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
			}
			if err := h.c.Create(h.ctx, u); err != nil {
				t.Fatalf("example %d: create %s %s: %v", examples, u.GetKind(), u.GetName(), err)
			}
		}
		for _, e := range expects {
			nsName, want := strings.SplitN(e[0], "/", 2), e[1:]
			h.eventually(fmt.Sprintf("example %d: %s gets %v", examples, e[0], want), 20*time.Second, func() (bool, string) {
				s := &corev1.Service{}
				if err := h.c.Get(h.ctx, client.ObjectKey{Namespace: nsName[0], Name: nsName[1]}, s); err != nil {
					return false, err.Error()
				}
				got := ingressIPs(s)
				return slices.Equal(got, want), fmt.Sprint(got)
			})
		}
	}
	if examples < 5 {
		t.Fatalf("found %d examples with expectations in docs/allocation.md", examples)
	}
}
