//go:build linux

package netns

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"

	vnetns "github.com/vishvananda/netns"
)

// ExecIn replaces the current process with argv, running inside the network namespace at path.
// It is what `ironlab` runs (as a hidden subcommand) to start a lab process in a host's
// namespace: the PID stays the same, so the process is recorded and stopped like any other.
func ExecIn(path string, argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("exec in %s: no command", path)
	}
	runtime.LockOSThread() // setns applies to this thread; execve keeps it
	h, err := vnetns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("exec in %s: %w", path, err)
	}
	if err := vnetns.Set(h); err != nil {
		return fmt.Errorf("exec in %s: setns: %w", path, err)
	}
	return syscall.Exec(argv[0], argv, os.Environ())
}

// Forward accepts TCP connections on listen (in the caller's namespace, normally loopback of the
// host) and joins each to target, dialled inside the namespace at nsPath. It is how the host
// reaches a lab's API server without any route into the lab. It returns when the listener fails.
func Forward(listen, nsPath, target string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("forward %s: %w", listen, err)
	}
	defer ln.Close()
	for {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("forward %s: %w", listen, err)
		}
		go func() {
			defer c.Close()
			up, err := dialIn(nsPath, target)
			if err != nil {
				return
			}
			defer up.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(up, c); closeWrite(up) }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, up); closeWrite(c) }()
			wg.Wait()
		}()
	}
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// dialIn opens a TCP connection from inside the namespace at path.
func dialIn(path, target string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		h, err := vnetns.GetFromPath(path)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer h.Close()
		if err := vnetns.Set(h); err != nil {
			ch <- result{err: err}
			return
		}
		c, err := net.Dial("tcp", target)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
