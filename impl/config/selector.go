package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Selector is a label selector (matchLabels AND matchExpressions). The zero Selector matches
// everything.
type Selector struct {
	MatchLabels      map[string]string
	MatchExpressions []Requirement
}

// Requirement is one matchExpressions entry.
type Requirement struct {
	Key      string
	Operator string // In, NotIn, Exists, DoesNotExist
	Values   []string
}

// Matches reports whether labels satisfy the selector.
func (s Selector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		v, ok := labels[r.Key]
		switch r.Operator {
		case "In":
			if !ok || !slices.Contains(r.Values, v) {
				return false
			}
		case "NotIn":
			if ok && slices.Contains(r.Values, v) {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// MatchesAny reports whether labels satisfy any of the selectors; an empty list matches all.
func MatchesAny(sels []Selector, labels map[string]string) bool {
	if len(sels) == 0 {
		return true
	}
	for _, s := range sels {
		if s.Matches(labels) {
			return true
		}
	}
	return false
}

var (
	labelNameRe  = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`)
	labelValueRe = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	dnsSubRe     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

func labelKeyProblem(k string) string {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix && (prefix == "" || len(prefix) > 253 || !dnsSubRe.MatchString(prefix)) {
		return fmt.Sprintf("label key %q: the prefix must be a DNS subdomain", k)
	}
	if name == "" || len(name) > 63 || !labelNameRe.MatchString(name) {
		return fmt.Sprintf("label key %q: the name must be 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric", k)
	}
	return ""
}

func labelValueProblem(v string) string {
	if len(v) > 63 || !labelValueRe.MatchString(v) {
		return fmt.Sprintf("label value %q: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric", v)
	}
	return ""
}

// validateSelectors checks a list of selectors at path (e.g. spec.nodeSelectors).
func validateSelectors(c collector, path string, sels []Selector) {
	for i, s := range sels {
		p := fmt.Sprintf("%s[%d]", path, i)
		for _, k := range sortedKeys(s.MatchLabels) {
			if msg := labelKeyProblem(k); msg != "" {
				c.add(p+".matchLabels", "%s", msg)
			}
			if msg := labelValueProblem(s.MatchLabels[k]); msg != "" {
				c.add(p+".matchLabels["+k+"]", "%s", msg)
			}
		}
		for j, r := range s.MatchExpressions {
			rp := fmt.Sprintf("%s.matchExpressions[%d]", p, j)
			if msg := labelKeyProblem(r.Key); msg != "" {
				c.add(rp+".key", "%s", msg)
			}
			switch r.Operator {
			case "In", "NotIn":
				if len(r.Values) == 0 {
					c.add(rp+".values", "operator %s needs at least one value", r.Operator)
				}
				for k, v := range r.Values {
					if msg := labelValueProblem(v); msg != "" {
						c.add(fmt.Sprintf("%s.values[%d]", rp, k), "%s", msg)
					}
				}
			case "Exists", "DoesNotExist":
				if len(r.Values) != 0 {
					c.add(rp+".values", "operator %s takes no values", r.Operator)
				}
			default:
				c.add(rp+".operator", "%q is not one of In, NotIn, Exists, DoesNotExist", r.Operator)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
