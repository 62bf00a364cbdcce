package faults

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ContainerRecord is what the record name of a process pod's container says.
type ContainerRecord struct{ Node, Namespace, Pod, Container string }

// ParseContainerRecord reads pod.NODE.NAMESPACE.POD.CONTAINER (node, namespace and container
// names have no dots; a pod name may).
func ParseContainerRecord(name string) (ContainerRecord, bool) {
	rest, ok := strings.CutPrefix(name, "pod.")
	if !ok {
		return ContainerRecord{}, false
	}
	f := strings.SplitN(rest, ".", 3)
	i := strings.LastIndexByte(rest, '.')
	if len(f) != 3 || i <= len(f[0])+len(f[1])+2 {
		return ContainerRecord{}, false
	}
	return ContainerRecord{Node: f[0], Namespace: f[1], Pod: rest[len(f[0])+len(f[1])+2 : i], Container: rest[i+1:]}, true
}

// ParseNetem reads a loss percentage ("10%") and a delay ("50ms"); either may be empty.
func ParseNetem(loss, delay string) (float64, time.Duration, error) {
	var l float64
	var d time.Duration
	var err error
	if loss != "" {
		l, err = strconv.ParseFloat(strings.TrimSuffix(loss, "%"), 64)
		if err != nil || l < 0 || l > 100 {
			return 0, 0, fmt.Errorf("loss %q: want a percentage such as 10%%", loss)
		}
	}
	if delay != "" {
		d, err = time.ParseDuration(delay)
		if err != nil || d < 0 {
			return 0, 0, fmt.Errorf("delay %q: want a duration such as 50ms", delay)
		}
	}
	return l, d, nil
}
