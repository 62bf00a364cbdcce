//go:build linux

package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ironlb/ironlb/impl/pki"
)

// KubeletPort is where the agent serves the part of the kubelet API the lab supports (container
// logs and exec), so that `kubectl logs` and `kubectl exec` work through the API server.
const KubeletPort = 10250

// serveKubeletAPI serves /containerLogs/NAMESPACE/POD/CONTAINER and /exec/NAMESPACE/POD/CONTAINER on the node's address over TLS
// with a self-signed certificate (the lab's API server does not verify kubelets, as in Kind).
// Only the lab's API server can reach it: the address is inside the lab's network.
func (a *Agent) serveKubeletAPI(ctx context.Context) error {
	ca, err := pki.NewCA("ironlab-kubelet-" + a.cfg.Name)
	if err != nil {
		return err
	}
	kp, err := ca.Issue(pki.Request{CommonName: a.cfg.Name, DNSNames: []string{a.cfg.Name}, IPs: []net.IP{net.ParseIP(a.cfg.Address)}, Server: true})
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(a.cfg.Address, strconv.Itoa(KubeletPort)))
	if err != nil {
		return fmt.Errorf("kubelet API: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", a.containerLogs)
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", a.serveExec)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.cfg.Log.Error("kubelet API stopped", "node", a.cfg.Name, "error", err)
		}
	}()
	return nil
}

// containerLogs writes a container's log (tailLines, follow).
func (a *Agent) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, ctr := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	if strings.ContainsAny(ns+pod+ctr, "/\x00") {
		http.Error(w, "bad name", http.StatusBadRequest)
		return
	}
	path := filepath.Join(a.logDir(), fmt.Sprintf("pod.%s.%s.%s.%s.log", a.cfg.Name, ns, pod, ctr))
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		// Echo containers run inside the agent and write no log.
		w.Header().Set("Content-Type", "text/plain")
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain")
	if n, err := strconv.Atoi(r.URL.Query().Get("tailLines")); err == nil && n >= 0 {
		if err := seekTail(f, n); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if _, err := io.Copy(w, f); err != nil || r.URL.Query().Get("follow") != "true" {
		return
	}
	flusher, _ := w.(http.Flusher)
	for {
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := io.Copy(w, f); err != nil {
			return
		}
	}
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if n == 0 {
		_, err := f.Seek(size, io.SeekStart)
		return err
	}
	buf := make([]byte, 4096)
	lines, pos := 0, size
	for pos > 0 {
		chunk := min(int64(len(buf)), pos)
		pos -= chunk
		if _, err := f.ReadAt(buf[:chunk], pos); err != nil {
			return err
		}
		for i := chunk - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == size-1 {
				continue
			}
			if lines++; lines == n {
				_, err := f.Seek(pos+i+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}
