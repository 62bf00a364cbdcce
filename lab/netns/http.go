//go:build linux

package netns

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTPGet makes one HTTP GET from inside a host's namespace and returns the body. The socket is
// made by net.Dial on the namespace's locked thread (an http.Transport dials from other threads,
// which are in the caller's namespace), and the request is written on it by hand.
func (l Lab) HTTPGet(host, url string, timeout time.Duration) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	hostPort := req.URL.Host
	if req.URL.Port() == "" {
		hostPort = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	var conn net.Conn
	if err := l.Do(host, func() (err error) {
		conn, err = net.DialTimeout("tcp", hostPort, timeout)
		return err
	}); err != nil {
		return "", fmt.Errorf("GET %s from %s: %w", url, host, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	req.Close = true
	if err := req.Write(conn); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return "", fmt.Errorf("GET %s from %s: %w", url, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
