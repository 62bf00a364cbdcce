package report

import (
	"math"
	"sort"
)

// Summarize aggregates runs per (scenario name, implementation), in the order each pair is first
// seen. For every measurement name it computes Stats over the runs that have that measurement:
// the value of a run is its ValueMs, or its Count as a float64; a measurement with neither is
// ignored. Percentiles use the nearest-rank method on the sorted values.
func Summarize(scenarios []Scenario) []Summary {
	type key struct{ name, impl string }
	index := map[key]int{}
	var out []Summary
	values := []map[string][]float64{}
	for i := range scenarios {
		s := &scenarios[i]
		k := key{s.Name, s.Implementation}
		j, ok := index[k]
		if !ok {
			j = len(out)
			index[k] = j
			out = append(out, Summary{Scenario: s.Name, Implementation: s.Implementation})
			values = append(values, map[string][]float64{})
		}
		out[j].Runs++
		if s.Passed {
			out[j].Passed++
		}
		for name, m := range s.Measurements {
			if v, ok := measurementValue(m); ok {
				values[j][name] = append(values[j][name], v)
			}
		}
	}
	for j := range out {
		if len(values[j]) == 0 {
			continue
		}
		out[j].Measurements = make(map[string]Stats, len(values[j]))
		for name, vs := range values[j] {
			out[j].Measurements[name] = ComputeStats(vs)
		}
	}
	return out
}

// measurementValue is a measurement as one number: ValueMs, or Count; ok is false when neither is set.
func measurementValue(m Measurement) (v float64, ok bool) {
	switch {
	case m.ValueMs != nil:
		return *m.ValueMs, true
	case m.Count != nil:
		return float64(*m.Count), true
	}
	return 0, false
}

// ComputeStats returns the statistics of values (which it does not modify): minimum, maximum,
// mean and the nearest-rank 50th, 90th and 99th percentiles. It returns the zero Stats for no values.
func ComputeStats(values []float64) Stats {
	n := len(values)
	if n == 0 {
		return Stats{}
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	sum := 0.0
	for _, v := range sorted {
		sum += v
	}
	return Stats{
		N:    n,
		Min:  sorted[0],
		P50:  nearestRank(sorted, 50),
		P90:  nearestRank(sorted, 90),
		P99:  nearestRank(sorted, 99),
		Max:  sorted[n-1],
		Mean: sum / float64(n),
	}
}

// nearestRank is the p-th percentile (0 < p <= 100) of sorted by the nearest-rank method: the
// value at rank ceil(p/100 × n), counting from 1.
func nearestRank(sorted []float64, p int) float64 {
	n := len(sorted)
	rank := (p*n + 99) / 100 // integer ceil(p*n/100): no floating-point rounding surprises
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// fmtNumber formats a millisecond value or count for people: integers without decimals, other
// values with three significant digits or one decimal, whichever is longer.
func fmtNumber(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return formatFloat(v, 0)
	case math.Abs(v) >= 100:
		return formatFloat(v, 0)
	case math.Abs(v) >= 10:
		return formatFloat(v, 1)
	}
	return formatFloat(v, 2)
}
