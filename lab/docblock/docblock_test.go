package docblock

import (
	"reflect"
	"testing"
)

func TestBlocks(t *testing.T) {
	const m = "<!-- tested: x -->"
	for _, tc := range []struct {
		name, page string
		want       [][]string
	}{
		{"none", "text\n```sh\nls\n```\n", nil},
		{"one, blank lines dropped", m + "\n```sh\nmake lab-up   # comment\n\n  ls\n```\n", [][]string{{"make lab-up   # comment", "  ls"}}},
		{"two, an unmarked one between", m + "\n```sh\na\n```\n```sh\nb\n```\n" + m + "\n```sh\nc\n```", [][]string{{"a"}, {"c"}}},
		{"marker before another language", m + "\n```yaml\na: b\n```\n", nil},
		{"unterminated", m + "\n```sh\na\n", nil},
		{"another marker", "<!-- tested: y -->\n```sh\na\n```\n", nil},
	} {
		if got := Blocks(tc.page, m); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCommand(t *testing.T) {
	for in, want := range map[string]string{
		"sudo ironlab up -t x":   "ironlab up -t x",
		"  make lab-up  ":        "make lab-up",
		"ironlab exec -- sudo x": "ironlab exec -- sudo x",
	} {
		if got := Command(in); got != want {
			t.Errorf("Command(%q) = %q, want %q", in, got, want)
		}
	}
}
