package report

import (
	"reflect"
	"testing"
)

func TestComputeStats(t *testing.T) {
	seq := func(n int) []float64 {
		var vs []float64
		for i := n; i >= 1; i-- { // descending: ComputeStats must sort
			vs = append(vs, float64(i))
		}
		return vs
	}
	tests := []struct {
		name   string
		values []float64
		want   Stats
	}{
		{"none", nil, Stats{}},
		{"one", []float64{42}, Stats{N: 1, Min: 42, P50: 42, P90: 42, P99: 42, Max: 42, Mean: 42}},
		{"two", []float64{3, 1}, Stats{N: 2, Min: 1, P50: 1, P90: 3, P99: 3, Max: 3, Mean: 2}},
		{"1..10", seq(10), Stats{N: 10, Min: 1, P50: 5, P90: 9, P99: 10, Max: 10, Mean: 5.5}},
		{"1..20", seq(20), Stats{N: 20, Min: 1, P50: 10, P90: 18, P99: 20, Max: 20, Mean: 10.5}},
		{"1..100", seq(100), Stats{N: 100, Min: 1, P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}},
		{"1..101", seq(101), Stats{N: 101, Min: 1, P50: 51, P90: 91, P99: 100, Max: 101, Mean: 51}},
		{"repeated", []float64{5, 5, 5, 1}, Stats{N: 4, Min: 1, P50: 5, P90: 5, P99: 5, Max: 5, Mean: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.values...)
			if got := ComputeStats(in); got != tt.want {
				t.Errorf("ComputeStats(%v) = %+v, want %+v", tt.values, got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.values) {
				t.Errorf("ComputeStats modified its input: %v", in)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	ms := func(v float64) Measurement { return Measurement{ValueMs: fptr(v)} }
	count := func(v int) Measurement { return Measurement{Count: iptr(v), ByNode: map[string]int{"a": v}} }
	run := func(name, impl string, passed bool, m map[string]Measurement) Scenario {
		return Scenario{Name: name, Implementation: impl, Passed: passed, Measurements: m}
	}
	tests := []struct {
		name string
		in   []Scenario
		want []Summary
	}{
		{"no runs", nil, nil},
		{
			"one run without measurements",
			[]Scenario{run("a", "ironlb", true, nil)},
			[]Summary{{Scenario: "a", Implementation: "ironlb", Runs: 1, Passed: 1}},
		},
		{
			"grouped in first-seen order",
			[]Scenario{
				run("b", "metallb", false, map[string]Measurement{"gap": ms(3000)}),
				run("a", "ironlb", true, map[string]Measurement{"gap": ms(100)}),
				run("b", "ironlb", true, map[string]Measurement{"gap": ms(90)}),
				run("a", "ironlb", true, map[string]Measurement{"gap": ms(300)}),
				run("b", "metallb", true, map[string]Measurement{"gap": ms(2000)}),
				run("a", "ironlb", false, map[string]Measurement{"gap": ms(200)}),
			},
			[]Summary{
				{Scenario: "b", Implementation: "metallb", Runs: 2, Passed: 1, Measurements: map[string]Stats{
					"gap": {N: 2, Min: 2000, P50: 2000, P90: 3000, P99: 3000, Max: 3000, Mean: 2500}}},
				{Scenario: "a", Implementation: "ironlb", Runs: 3, Passed: 2, Measurements: map[string]Stats{
					"gap": {N: 3, Min: 100, P50: 200, P90: 300, P99: 300, Max: 300, Mean: 200}}},
				{Scenario: "b", Implementation: "ironlb", Runs: 1, Passed: 1, Measurements: map[string]Stats{
					"gap": {N: 1, Min: 90, P50: 90, P90: 90, P99: 90, Max: 90, Mean: 90}}},
			},
		},
		{
			"counts, measurements some runs lack, and empty measurements",
			[]Scenario{
				run("a", "ironlb", true, map[string]Measurement{"lost": count(4), "gap": ms(10)}),
				run("a", "ironlb", true, map[string]Measurement{"lost": count(0), "empty": {}}),
				run("a", "ironlb", true, map[string]Measurement{"lost": count(2)}),
			},
			[]Summary{{Scenario: "a", Implementation: "ironlb", Runs: 3, Passed: 3, Measurements: map[string]Stats{
				"lost": {N: 3, Min: 0, P50: 2, P90: 4, P99: 4, Max: 4, Mean: 2},
				"gap":  {N: 1, Min: 10, P50: 10, P90: 10, P99: 10, Max: 10, Mean: 10},
			}}},
		},
		{
			"ten runs",
			func() []Scenario {
				var ss []Scenario
				for _, v := range []float64{7, 3, 10, 1, 9, 2, 8, 4, 6, 5} {
					ss = append(ss, run("a", "ironlb", v != 10, map[string]Measurement{"gap": ms(v)}))
				}
				return ss
			}(),
			[]Summary{{Scenario: "a", Implementation: "ironlb", Runs: 10, Passed: 9, Measurements: map[string]Stats{
				"gap": {N: 10, Min: 1, P50: 5, P90: 9, P99: 10, Max: 10, Mean: 5.5}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Summarize:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFmtNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {5, "5"}, {1234, "1234"}, {0.456, "0.46"}, {12.345, "12.3"}, {123.45, "123"}, {-0.0001, "0.00"},
	}
	for _, tt := range tests {
		if got := fmtNumber(tt.in); got != tt.want {
			t.Errorf("fmtNumber(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
