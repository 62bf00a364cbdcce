package faults

import "testing"

func TestParseContainerRecord(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ContainerRecord
		ok   bool
	}{
		{"pod.worker.metallb-system.speaker-x2.speaker", ContainerRecord{"worker", "metallb-system", "speaker-x2", "speaker"}, true},
		{"pod.w.default.web.v1.app", ContainerRecord{"w", "default", "web.v1", "app"}, true},
		{"pod.w.default.app", ContainerRecord{}, false},
		{"node-worker", ContainerRecord{}, false},
		{"pod.w.ns..c", ContainerRecord{}, false},
	} {
		got, ok := ParseContainerRecord(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseContainerRecord(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
