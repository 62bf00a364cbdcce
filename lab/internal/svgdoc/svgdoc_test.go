package svgdoc

import "testing"

func TestNum(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{12, "12"}, {12.5, "12.5"}, {12.04, "12"}, {12.06, "12.1"}, {-0.01, "0"}, {0, "0"}} {
		if got := Num(c.v); got != c.want {
			t.Errorf("Num(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestEsc(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`a<b>&"c'`, "a&lt;b&gt;&amp;&#34;c&#39;"},
		{"tab\tline\nret\r", "tab\tline\nret&#xD;"},
		{"nul\x00 bad\xff", "nul\uFFFD bad\uFFFD"},
		{"fc00::c8 → ok", "fc00::c8 → ok"},
	} {
		if got := Esc(c.in); got != c.want {
			t.Errorf("Esc(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestWriter(t *testing.T) {
	var w Writer
	w.Rect(1, 2.25, 0, 4, "#fff", `class="x"`, "a<b")
	w.Label(5, 6, 11, "middle", "", "x&y")
	want := `<rect x="1" y="2.3" width="0.5" height="4" fill="#fff" class="x"><title>a&lt;b</title></rect>` +
		`<text x="5" y="6" font-size="11" text-anchor="middle">x&amp;y</text>`
	if got := w.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
