// Package svgdoc writes the lab's SVG pictures (the report's timelines, ironlab graph's topology
// pictures): XML-escaped text, compact coordinates and the few elements they draw, in one style.
// It is pure: it only builds strings.
package svgdoc

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Writer builds the text of an SVG document.
type Writer struct {
	strings.Builder
}

// F writes a coordinate.
func (w *Writer) F(v float64) { w.WriteString(Num(v)) }

// Text writes s escaped.
func (w *Writer) Text(s string) { EscapeXML(&w.Builder, s) }

// Title writes a <title> tooltip.
func (w *Writer) Title(s string) {
	w.WriteString("<title>")
	w.Text(s)
	w.WriteString("</title>")
}

// Rect writes a rectangle; attrs are extra attributes, written as they are; tip, when not empty,
// becomes its tooltip.
func (w *Writer) Rect(x, y, wd, h float64, fill, attrs, tip string) {
	w.WriteString(`<rect x="`)
	w.F(x)
	w.WriteString(`" y="`)
	w.F(y)
	w.WriteString(`" width="`)
	w.F(max(wd, 0.5))
	w.WriteString(`" height="`)
	w.F(h)
	w.WriteString(`" fill="`)
	w.WriteString(fill)
	w.WriteString(`"`)
	if attrs != "" {
		w.WriteString(" " + attrs)
	}
	if tip == "" {
		w.WriteString("/>")
		return
	}
	w.WriteString(">")
	w.Title(tip)
	w.WriteString("</rect>")
}

// Label writes a text element at (x, y); anchor is "start", "middle" or "end"; attrs are extra
// attributes, written as they are.
func (w *Writer) Label(x, y, size float64, anchor, attrs, s string) {
	w.WriteString(`<text x="`)
	w.F(x)
	w.WriteString(`" y="`)
	w.F(y)
	fmt.Fprintf(w, `" font-size="%g"`, size)
	if anchor != "start" {
		w.WriteString(` text-anchor="` + anchor + `"`)
	}
	if attrs != "" {
		w.WriteString(" " + attrs)
	}
	w.WriteString(">")
	w.Text(s)
	w.WriteString("</text>")
}

// Num formats a coordinate: at most one decimal, none when it is zero ("12", "12.5").
func Num(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10+0, 'f', -1, 64)
}

// EscapeXML appends s to b escaped for XML (and HTML) text and attribute values: the five special
// characters become references, and characters XML does not allow (NUL and other C0 controls,
// invalid UTF-8) become U+FFFD. Tabs and line feeds are kept; carriage returns are referenced.
func EscapeXML(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var rep string
		switch {
		case r == '&':
			rep = "&amp;"
		case r == '<':
			rep = "&lt;"
		case r == '>':
			rep = "&gt;"
		case r == '"':
			rep = "&#34;"
		case r == '\'':
			rep = "&#39;"
		case r == '\r':
			rep = "&#xD;"
		case r == utf8.RuneError && size == 1, !xmlChar(r):
			rep = "\uFFFD"
		}
		if rep != "" {
			b.WriteString(s[last:i])
			b.WriteString(rep)
			last = i + size
		}
		i += size
	}
	b.WriteString(s[last:])
}

// Esc returns s escaped for XML and HTML.
func Esc(s string) string {
	var b strings.Builder
	EscapeXML(&b, s)
	return b.String()
}

// xmlChar reports whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
