// Package portforward lets a program on the host (a browser) reach a lab Service's
// load-balancer address: a loopback listener whose connections are dialled from inside a lab
// host (a client namespace), as cloud-provider-kind's users reach Kind's addresses. Nothing is
// routed from the host into the lab: each connection is two sockets and a copy between them.
package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Target is what to forward to: a Service by namespace and name.
type Target struct {
	Namespace, Name string
}

func (t Target) String() string { return t.Namespace + "/" + t.Name }

// ParseTarget reads svc/NAME, service/NAME, svc/NS/NAME or NS/NAME (namespace default).
func ParseTarget(s string) (Target, error) {
	rest := s
	for _, p := range []string{"svc/", "service/", "services/"} {
		if r, ok := strings.CutPrefix(s, p); ok {
			rest = r
			break
		}
	}
	parts := strings.Split(rest, "/")
	var t Target
	switch len(parts) {
	case 1:
		t = Target{Namespace: "default", Name: parts[0]}
	case 2:
		t = Target{Namespace: parts[0], Name: parts[1]}
	default:
		return Target{}, fmt.Errorf("%q: want svc/NAME or NAMESPACE/NAME", s)
	}
	if t.Namespace == "" || t.Name == "" {
		return Target{}, fmt.Errorf("%q: want svc/NAME or NAMESPACE/NAME", s)
	}
	return t, nil
}

// Ports is the local port and the Service's port.
type Ports struct {
	Local, Remote int
}

// ParsePorts reads PORT (the same port locally) or LOCAL:PORT; LOCAL 0 picks a free port.
func ParsePorts(s string) (Ports, error) {
	local, remote, two := strings.Cut(s, ":")
	if !two {
		remote = local
	}
	var p Ports
	var err error
	if p.Remote, err = port(remote, false); err != nil {
		return Ports{}, fmt.Errorf("%q: the Service's port: %w", s, err)
	}
	if p.Local, err = port(local, two); err != nil {
		return Ports{}, fmt.Errorf("%q: the local port: %w", s, err)
	}
	return p, nil
}

func port(s string, zeroOK bool) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return n, nil
}

// Dial opens a connection to the target from inside the lab.
type Dial func(ctx context.Context) (net.Conn, error)

// Serve accepts connections on ln until ctx ends and copies each to a connection opened with
// dial; a failed dial closes the accepted connection and is reported through errs (if set).
// It returns when ctx ends and every connection is closed.
func Serve(ctx context.Context, ln net.Listener, dial Dial, errs func(error)) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			u, err := dial(ctx)
			if err != nil {
				if errs != nil {
					errs(err)
				}
				return
			}
			defer u.Close()
			pipe(ctx, c, u)
		}()
	}
}

// pipe copies both ways until both directions end (or ctx does), passing on half-closes.
func pipe(ctx context.Context, a, b net.Conn) {
	stop := context.AfterFunc(ctx, func() { _ = a.Close(); _ = b.Close() })
	defer stop()
	var wg sync.WaitGroup
	one := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	wg.Add(2)
	go one(a, b)
	go one(b, a)
	wg.Wait()
}

// ErrNoAddress is returned when a Service has no load-balancer address yet.
var ErrNoAddress = errors.New("has no load-balancer address yet")
