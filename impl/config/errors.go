package config

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of the objects that errors name.
const (
	KindIPAddressPool    = "IPAddressPool"
	KindL2Advertisement  = "L2Advertisement"
	KindBGPAdvertisement = "BGPAdvertisement"
	KindBGPPeer          = "BGPPeer"
	KindBFDProfile       = "BFDProfile"
	KindCommunity        = "Community"
)

// ErrInvalid is matched (errors.Is) by every validation error of this package.
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one problem, with the object and field it concerns. The same type carries the
// warnings of Config.Warnings, which do not make a configuration invalid.
type FieldError struct {
	Kind   string // e.g. IPAddressPool
	Name   string // the object's name
	Field  string // field path, e.g. spec.addresses[2]
	Detail string // what is wrong, in plain words
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s %q: %s: %s", e.Kind, e.Name, e.Field, e.Detail)
}

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Errors is every problem found in one configuration, in a stable order.
type Errors []*FieldError

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Is makes Errors match ErrInvalid.
func (es Errors) Is(target error) bool { return target == ErrInvalid && len(es) > 0 }

// For returns the problems that concern one object.
func (es Errors) For(kind, name string) Errors {
	var out Errors
	for _, e := range es {
		if e.Kind == kind && e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// collector gathers problems for one object: errors, and warnings when warns is set.
type collector struct {
	errs  *Errors
	kind  string
	name  string
	warns *Errors
}

// warn records a problem that costs only this object, never the configuration.
func (c collector) warn(field, format string, args ...any) {
	*c.warns = append(*c.warns, &FieldError{Kind: c.kind, Name: c.name, Field: field, Detail: fmt.Sprintf(format, args...)})
}

func (c collector) add(field, format string, args ...any) {
	*c.errs = append(*c.errs, &FieldError{Kind: c.kind, Name: c.name, Field: field, Detail: fmt.Sprintf(format, args...)})
}
