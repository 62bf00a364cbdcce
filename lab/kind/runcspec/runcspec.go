// Package runcspec adjusts an OCI runtime spec (a bundle's config.json) to what this host's
// root may do, for the runc wrapper (cmd/ironlab-runc) that Docker and the Kind nodes' containerd
// run instead of runc. Some hosts (sandboxes, some VMs) run root without CAP_SYS_RESOURCE in its
// bounding set: runc then fails to give a container that capability (Kind's nodes are privileged
// and get every one), to set a negative oom_score_adj (Docker's daemon, the kubelet's critical
// pods) or to raise a resource limit above the host's hard limit. The spec is changed only where
// it asks for more than the host's root has; everything else is kept as it is, field for field.
package runcspec

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Host is what this host's root may do.
type Host struct {
	// Bounding lists the capabilities root has ("CAP_SYS_ADMIN", ...).
	Bounding []string
	// HardLimits are root's hard resource limits by name ("RLIMIT_NOFILE"); a limit not named
	// is left as the spec has it.
	HardLimits map[string]uint64
}

// capabilitySets are the sets of process.capabilities.
var capabilitySets = []string{"bounding", "effective", "inheritable", "permitted", "ambient"}

// Adjust returns spec with what h cannot give taken out of its process (AdjustProcess). It
// lists what it changed.
func Adjust(spec []byte, h Host) ([]byte, []string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, nil, fmt.Errorf("config.json: %w", err)
	}
	raw, ok := doc["process"]
	if !ok || string(raw) == "null" {
		return spec, nil, nil
	}
	proc, changed, err := AdjustProcess(raw, h)
	if err != nil {
		return nil, nil, fmt.Errorf("config.json: %w", err)
	}
	if len(changed) == 0 {
		return spec, nil, nil
	}
	doc["process"] = proc
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("config.json: %w", err)
	}
	return out, changed, nil
}

// AdjustProcess returns a spec's process (a bundle's, or the one `runc exec --process` reads)
// with what h cannot give taken out: capabilities outside h.Bounding, a negative oomScoreAdj
// (raised to 0) and resource limits above h.HardLimits (lowered to them). It lists what it
// changed; with no change it returns proc itself.
func AdjustProcess(raw []byte, h Host) ([]byte, []string, error) {
	var proc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &proc); err != nil {
		return nil, nil, fmt.Errorf("process: %w", err)
	}
	if proc == nil {
		return raw, nil, nil
	}
	var changed []string
	if c, ok := proc["capabilities"]; ok && string(c) != "null" {
		var caps map[string][]string
		if err := json.Unmarshal(c, &caps); err != nil {
			return nil, nil, fmt.Errorf("process.capabilities: %w", err)
		}
		n := len(changed)
		for _, set := range capabilitySets {
			have, ok := caps[set]
			if !ok {
				continue
			}
			kept := slices.DeleteFunc(slices.Clone(have), func(c string) bool { return !slices.Contains(h.Bounding, c) })
			if len(kept) != len(have) {
				for _, c := range have {
					if !slices.Contains(kept, c) {
						changed = append(changed, fmt.Sprintf("capabilities.%s: dropped %s", set, c))
					}
				}
				caps[set] = kept
			}
		}
		if len(changed) > n {
			if proc["capabilities"], ok = marshal(caps); !ok {
				return nil, nil, fmt.Errorf("process.capabilities: cannot encode")
			}
		}
	}
	if o, ok := proc["oomScoreAdj"]; ok && string(o) != "null" {
		var adj int
		if err := json.Unmarshal(o, &adj); err != nil {
			return nil, nil, fmt.Errorf("process.oomScoreAdj: %w", err)
		}
		if adj < 0 {
			proc["oomScoreAdj"] = json.RawMessage("0")
			changed = append(changed, fmt.Sprintf("oomScoreAdj: %d raised to 0", adj))
		}
	}
	if r, ok := proc["rlimits"]; ok && string(r) != "null" {
		var limits []struct {
			Type string `json:"type"`
			Hard uint64 `json:"hard"`
			Soft uint64 `json:"soft"`
		}
		if err := json.Unmarshal(r, &limits); err != nil {
			return nil, nil, fmt.Errorf("process.rlimits: %w", err)
		}
		n := len(changed)
		for i, l := range limits {
			max, ok := h.HardLimits[l.Type]
			if !ok || l.Hard <= max {
				continue
			}
			limits[i].Hard = max
			limits[i].Soft = min(l.Soft, max)
			changed = append(changed, fmt.Sprintf("rlimits.%s: hard %d lowered to %d", l.Type, l.Hard, max))
		}
		if len(changed) > n {
			if proc["rlimits"], ok = marshal(limits); !ok {
				return nil, nil, fmt.Errorf("process.rlimits: cannot encode")
			}
		}
	}
	if len(changed) == 0 {
		return raw, nil, nil
	}
	out, ok := marshal(proc)
	if !ok {
		return nil, nil, fmt.Errorf("process: cannot encode")
	}
	return out, changed, nil
}

func marshal(v any) (json.RawMessage, bool) {
	b, err := json.Marshal(v)
	return b, err == nil
}

// What a runc command line starts, for Target.
const (
	None    = ""        // nothing: another subcommand
	Bundle  = "bundle"  // a container: create or run, from a bundle directory
	Process = "process" // a process in a container: exec --process FILE
)

// Target finds what a runc command line (runc [global options] COMMAND [options] ID) starts and
// the file that describes it: the bundle's config.json for create and run (the bundle is
// --bundle/-b, or the working directory), the process file for exec --process/-p. An exec
// without a process file (its process from flags) gives None.
func Target(args []string) (kind, file string) {
	cmd := -1
	for i, a := range args {
		if a == "create" || a == "run" || a == "exec" {
			cmd = i
			break
		}
		if a == "--" || (len(a) > 0 && a[0] != '-' && !globalValue(args, i)) {
			return None, "" // another subcommand
		}
	}
	if cmd < 0 {
		return None, ""
	}
	long, short := "--bundle", "-b"
	if args[cmd] == "exec" {
		long, short = "--process", "-p"
	}
	for i := cmd + 1; i < len(args); i++ {
		a := args[i]
		var v string
		switch {
		case a == "--" || (len(a) > 0 && a[0] != '-'):
			// the container's id: what follows is exec's command, not runc's options
			i = len(args)
			continue
		case takesValue[a]:
			i++ // another option's value, which may look like an id
			continue
		case (a == long || a == short) && i+1 < len(args):
			v = args[i+1]
		case strings.HasPrefix(a, long+"="):
			v = a[len(long)+1:]
		case strings.HasPrefix(a, short+"="):
			v = a[len(short)+1:]
		default:
			continue
		}
		if args[cmd] == "exec" {
			return Process, v
		}
		return Bundle, filepath.Join(v, "config.json")
	}
	if args[cmd] == "exec" {
		return None, ""
	}
	return Bundle, "config.json"
}

// takesValue are the options of create, run and exec that take a value as the next argument.
var takesValue = map[string]bool{
	"--console-socket": true, "--pid-file": true, "--preserve-fds": true, "--cwd": true,
	"--env": true, "-e": true, "--user": true, "-u": true, "--additional-gids": true, "-g": true,
	"--cap": true, "-c": true, "--apparmor": true, "--process-label": true, "--cgroup": true,
}

// globalValue says whether args[i] is the value of a global option that takes one (runc's
// --root, --log, --log-format, --criu).
func globalValue(args []string, i int) bool {
	if i == 0 {
		return false
	}
	switch args[i-1] {
	case "--root", "--log", "--log-format", "--criu":
		return true
	}
	return false
}
