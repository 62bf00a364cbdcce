package cli

import "testing"

func TestParseContainerRecord(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want containerRecord
		ok   bool
	}{
		{"pod.worker.metallb-system.speaker-x2.speaker", containerRecord{"worker", "metallb-system", "speaker-x2", "speaker"}, true},
		{"pod.w.default.web.v1.app", containerRecord{"w", "default", "web.v1", "app"}, true},
		{"pod.w.default.app", containerRecord{}, false},
		{"node-worker", containerRecord{}, false},
		{"pod.w.ns..c", containerRecord{}, false},
	} {
		got, ok := parseContainerRecord(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseContainerRecord(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
