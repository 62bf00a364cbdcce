package install

import (
	"testing"

	"github.com/ironlb/ironlb/lab/apply"
)

func TestRelaxInt32Maximum(t *testing.T) {
	objs, err := apply.Decode([]byte(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: bgppeers.metallb.io}
spec:
  versions:
  - name: v1beta2
    schema:
      openAPIV3Schema:
        properties:
          spec:
            properties:
              myASN: {type: integer, format: int32, maximum: 4294967295}
              peerPort: {type: integer, maximum: 16384, minimum: 1}
              holdTime: {type: integer, format: int32, maximum: 100}
`))
	if err != nil {
		t.Fatal(err)
	}
	fixed := relaxInt32Maximum(objs)
	if len(fixed) != 1 {
		t.Fatalf("relaxed %v; want only myASN", fixed)
	}
	props := objs[0].Object["spec"].(map[string]any)["versions"].([]any)[0].(map[string]any)["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)["properties"].(map[string]any)["spec"].(map[string]any)["properties"].(map[string]any)
	if _, ok := props["myASN"].(map[string]any)["maximum"]; ok {
		t.Error("myASN keeps its maximum")
	}
	if props["peerPort"].(map[string]any)["maximum"] == nil || props["holdTime"].(map[string]any)["maximum"] == nil {
		t.Error("bounds within int32 must stay")
	}
}
