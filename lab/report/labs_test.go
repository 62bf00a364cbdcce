package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestHTMLShowsLabs: report.html shows each lab's picture once, in a Labs section, and every
// scenario links to the picture of the lab it ran on; report.json names the topology but holds no
// picture.
func TestHTMLShowsLabs(t *testing.T) {
	const picture = `<svg xmlns="http://www.w3.org/2000/svg" class="topology" viewBox="0 0 10 10"><title>Lab l2</title></svg>`
	r := sampleReport()
	for i := range r.Scenarios {
		r.Scenarios[i].Topology = "topologies/l2.yaml"
	}
	r.Labs = []LabPicture{{Topology: "topologies/l2.yaml", SVG: picture}}
	var b strings.Builder
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, picture); n != 1 {
		t.Errorf("the lab's picture is in the page %d times, want once", n)
	}
	if !strings.Contains(page, `id="lab1"`) || !strings.Contains(page, `<a href="#lab1">topologies/l2.yaml</a>`) {
		t.Error("no Labs section with lab1, or no scenario links to it")
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"topology": "topologies/l2.yaml"`) || strings.Contains(js.String(), "<svg") {
		t.Error(`report.json: want "topology" on each scenario and no picture`)
	}

	r.Labs = nil
	b.Reset()
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `id="labs"`) || strings.Contains(b.String(), `href="#lab`) {
		t.Error("without pictures the page still has a Labs section or links to one")
	}
}
