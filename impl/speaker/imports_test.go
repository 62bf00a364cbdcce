package speaker

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The speaker and the controller share what they must agree on through packages below both
// (impl/lbclass, impl/api/scheme, impl/internal/...): the speaker does not import the controller.
func TestSpeakerDoesNotImportController(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range ast.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == "github.com/ironlb/ironlb/impl/controller" {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
