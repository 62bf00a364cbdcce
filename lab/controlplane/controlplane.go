// Package controlplane brings up a real Kubernetes control plane as processes: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, from the binaries that
// build/k8s-bins.sh builds, with a generated PKI and kubeconfigs. It writes everything under the
// lab's state directory and records every process so that Down finds and stops all of it.
package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	"github.com/ironlb/ironlb/lab/process"
	labstate "github.com/ironlb/ironlb/lab/state"
)

// Components in start order; Down stops them in reverse.
var Components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// Config says where and how to run the control plane.
type Config struct {
	Name     string // lab name: cluster name in kubeconfigs
	StateDir string // the lab's state directory (lab/state.Dir)
	BinDir   string // directory with etcd, kube-apiserver, ...
	// BindAddress is where etcd and the API server listen (127.0.0.1 on the host).
	BindAddress string
	// AdvertiseAddress is the API server's address in the kubernetes Service. kube-apiserver 1.37
	// refuses a loopback one.
	AdvertiseAddress string
	// APIPort, EtcdPort: 0 picks free ports on BindAddress.
	APIPort, EtcdPort int
	ServiceCIDR       string // default 10.96.0.0/16; "v4,v6" for dual stack
	// ExtraSANs are further IPs the API server's certificate is valid for.
	ExtraSANs []net.IP
	// Wrap runs every process through a command, e.g. `ironlab __nsexec NSPATH --` to start it
	// in the control-plane node's namespace. Then the caller picks the ports (the namespace is
	// the control plane's own) and HostServer says how the host reaches the API server.
	Wrap []string
	// HostServer is the API server URL for the admin kubeconfig and the readiness check
	// (default https://BindAddress:APIPort).
	HostServer string
	// NodeMonitorGracePeriod is how long the node-lifecycle controller waits for a node's
	// heartbeat before marking it NotReady (Kubernetes default 50s; the lab uses less).
	NodeMonitorGracePeriod time.Duration
	// Progress receives one line per step; may be nil.
	Progress func(string)
}

// Result says how to reach the running control plane.
type Result struct {
	Server     string // https://host:port
	Kubeconfig string // admin kubeconfig (system:masters)
	PKIDir     string
}

// Paths inside the state directory (lab/state spells the layout).
func pkiDir(state string) string { return labstate.PKIDir(state) }

// RunDir holds the pid files of the lab's processes (state.RunDir).
func RunDir(state string) string { return labstate.RunDir(state) }

// LogDir holds one log per process (state.LogDir).
func LogDir(state string) string { return labstate.LogDir(state) }

// KubeconfigPath is the admin kubeconfig of a lab (state.KubeconfigPath).
func KubeconfigPath(state string) string { return labstate.KubeconfigPath(state) }

// ErrMissingBinary is returned when a control-plane binary is not in BinDir.
var ErrMissingBinary = errors.New("control-plane binary missing")

func (c *Config) progress(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(fmt.Sprintf(format, args...))
	}
}

func (c *Config) defaults() error {
	if c.BindAddress == "" {
		c.BindAddress = "127.0.0.1"
	}
	if c.AdvertiseAddress == "" {
		return errors.New("controlplane: AdvertiseAddress is required (kube-apiserver refuses a loopback one)")
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.96.0.0/16"
	}
	if c.NodeMonitorGracePeriod == 0 {
		c.NodeMonitorGracePeriod = 10 * time.Second
	}
	for _, b := range Components {
		if _, err := os.Stat(filepath.Join(c.BinDir, b)); err != nil {
			return fmt.Errorf("%w: %s not in %s: run `make k8s-bins`", ErrMissingBinary, b, c.BinDir)
		}
	}
	var err error
	if len(c.Wrap) > 0 && (c.APIPort == 0 || c.EtcdPort == 0 || c.HostServer == "") {
		return errors.New("controlplane: a wrapped control plane needs APIPort, EtcdPort and HostServer")
	}
	if c.APIPort == 0 {
		if c.APIPort, err = FreePort(c.BindAddress); err != nil {
			return err
		}
	}
	if c.EtcdPort == 0 {
		if c.EtcdPort, err = FreePort(c.BindAddress); err != nil {
			return err
		}
	}
	return nil
}

// FreePort returns a TCP port that is free on host now.
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// firstServiceIP is the ClusterIP of the kubernetes Service: the first address of the (first) range.
func firstServiceIP(cidrs string) (net.IP, error) {
	cidr, _, _ := strings.Cut(cidrs, ",")
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	ip := append(net.IP(nil), n.IP...)
	ip[len(ip)-1]++
	return ip, nil
}

// Up makes the PKI and starts the control plane, waiting until the API server is ready.
// Processes are detached: they outlive the caller until Down.
func Up(ctx context.Context, c Config) (*Result, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(c.StateDir)
	if err != nil {
		return nil, err
	}
	c.StateDir = abs
	res, err := writePKI(&c)
	if err != nil {
		return nil, fmt.Errorf("make PKI: %w", err)
	}
	run, logs := RunDir(c.StateDir), LogDir(c.StateDir)
	p := pkiDir(c.StateDir)
	// etcd serves the API server alone, on loopback of wherever the control plane runs.
	etcdURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.EtcdPort))

	c.progress("starting etcd on %s", etcdURL)
	etcd, err := process.Start(run, logs, process.Spec{Name: "etcd", Path: filepath.Join(c.BinDir, "etcd"), Wrap: c.Wrap, Args: []string{
		"--name=" + c.Name, "--data-dir=" + labstate.EtcdDir(c.StateDir),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=http://127.0.0.1:0",
		"--unsafe-no-fsync", "--quota-backend-bytes=2147483648", "--log-level=warn",
	}})
	if err != nil {
		return nil, err
	}
	if len(c.Wrap) == 0 { // wrapped, etcd is out of the host's reach: the API server's readiness covers it
		if err := waitHTTP(ctx, etcd, &http.Client{Timeout: time.Second}, etcdURL+"/health", 30*time.Second, `"health":"true"`); err != nil {
			return nil, fmt.Errorf("etcd did not become healthy: %w", err)
		}
	}

	c.progress("starting kube-apiserver on %s", res.Server)
	apiserver, err := process.Start(run, logs, process.Spec{Name: "kube-apiserver", Path: filepath.Join(c.BinDir, "kube-apiserver"), Wrap: c.Wrap, Args: []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + c.BindAddress, "--secure-port=" + strconv.Itoa(c.APIPort),
		"--advertise-address=" + c.AdvertiseAddress,
		"--tls-cert-file=" + filepath.Join(p, "apiserver.crt"), "--tls-private-key-file=" + filepath.Join(p, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(p, "ca.crt"),
		"--service-cluster-ip-range=" + c.ServiceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(p, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(p, "sa.key"),
		"--authorization-mode=Node,RBAC", "--allow-privileged=true", "--profiling=false",
		"--kubelet-preferred-address-types=InternalIP,Hostname", // as Kind: node names do not resolve
		"--enable-priority-and-fairness=false",
	}})
	if err != nil {
		return nil, err
	}
	tlsClient, err := adminHTTPClient(p)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, apiserver, tlsClient, res.Server+"/readyz", 90*time.Second, "ok"); err != nil {
		return nil, fmt.Errorf("kube-apiserver did not become ready: %w", err)
	}

	c.progress("starting kube-controller-manager and kube-scheduler")
	kc := func(n string) string { return filepath.Join(labstate.KubeconfigsDir(c.StateDir), n) }
	if _, err := process.Start(run, logs, process.Spec{Name: "kube-controller-manager", Path: filepath.Join(c.BinDir, "kube-controller-manager"), Wrap: c.Wrap, Args: []string{
		"--kubeconfig=" + kc("controller-manager"), "--authentication-kubeconfig=" + kc("controller-manager"),
		"--authorization-kubeconfig=" + kc("controller-manager"),
		"--bind-address=" + c.BindAddress, "--secure-port=0",
		"--service-account-private-key-file=" + filepath.Join(p, "sa.key"), "--root-ca-file=" + filepath.Join(p, "ca.crt"),
		"--cluster-signing-cert-file=" + filepath.Join(p, "ca.crt"), "--cluster-signing-key-file=" + filepath.Join(p, "ca.key"),
		"--use-service-account-credentials=true", "--leader-elect=false", "--cluster-name=" + c.Name,
		"--service-cluster-ip-range=" + c.ServiceCIDR,
		"--node-monitor-grace-period=" + c.NodeMonitorGracePeriod.String(), "--node-monitor-period=1s",
		"--concurrent-deployment-syncs=10", "--concurrent-endpoint-syncs=10", "--concurrent-service-endpoint-syncs=10",
		"--profiling=false",
		// client-go's limiter at the default 20 requests/s held the start for 5 s: before its
		// first controller runs, the controller manager gets or makes one ServiceAccount per
		// controller (3 requests each, ~40 controllers). Large clusters raise it the same way.
		"--kube-api-qps=200", "--kube-api-burst=400",
	}}); err != nil {
		return nil, err
	}
	if _, err := process.Start(run, logs, process.Spec{Name: "kube-scheduler", Path: filepath.Join(c.BinDir, "kube-scheduler"), Wrap: c.Wrap, Args: []string{
		"--kubeconfig=" + kc("scheduler"), "--authentication-kubeconfig=" + kc("scheduler"),
		"--authorization-kubeconfig=" + kc("scheduler"),
		"--bind-address=" + c.BindAddress, "--secure-port=0", "--leader-elect=false", "--profiling=false",
	}}); err != nil {
		return nil, err
	}
	return res, nil
}

// Down stops every process recorded for the lab (also after a crash or a half-finished Up).
func Down(stateDir string) error {
	return process.StopAll(RunDir(stateDir), Components, 5*time.Second)
}

func writePKI(c *Config) (*Result, error) {
	dir := pkiDir(c.StateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := pki.NewCA(c.Name + "-ca")
	if err != nil {
		return nil, err
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca.PEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), caKey, 0o600); err != nil {
		return nil, err
	}
	svcIP, err := firstServiceIP(c.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	ips := append([]net.IP{net.ParseIP(c.BindAddress), net.ParseIP(c.AdvertiseAddress), svcIP, net.IPv4(127, 0, 0, 1)}, c.ExtraSANs...)
	serving, err := ca.Issue(pki.Request{CommonName: "kube-apiserver", Server: true, IPs: ips,
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}})
	if err != nil {
		return nil, err
	}
	if err := serving.WriteFiles(dir, "apiserver"); err != nil {
		return nil, err
	}
	saPriv, saPub, err := pki.ServiceAccountKey()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), saPriv, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.pub"), saPub, 0o644); err != nil {
		return nil, err
	}
	// Components beside the API server reach it on loopback; the host through HostServer.
	local := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.APIPort))
	server := c.HostServer
	if server == "" {
		server = "https://" + net.JoinHostPort(c.BindAddress, strconv.Itoa(c.APIPort))
	}
	users := []struct {
		file, user string
		groups     []string
	}{
		{"admin", "kubernetes-admin", []string{"system:masters"}},
		{"controller-manager", "system:kube-controller-manager", nil},
		{"scheduler", "system:kube-scheduler", nil},
	}
	for _, u := range users {
		kp, err := ca.Issue(pki.Request{CommonName: u.user, Organization: u.groups, Client: true})
		if err != nil {
			return nil, err
		}
		path := filepath.Join(labstate.KubeconfigsDir(c.StateDir), u.file)
		if u.file == "admin" {
			path = KubeconfigPath(c.StateDir)
			if err := kp.WriteFiles(dir, "admin"); err != nil {
				return nil, err
			}
		}
		url := local
		if u.file == "admin" {
			url = server
		}
		if err := pki.WriteKubeconfig(path, c.Name, url, ca.PEM, u.user, kp); err != nil {
			return nil, err
		}
	}
	return &Result{Server: server, Kubeconfig: KubeconfigPath(c.StateDir), PKIDir: dir}, nil
}

func adminHTTPClient(pkiDir string) (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "admin.crt"), filepath.Join(pkiDir, "admin.key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}

// waitHTTP polls url until its body contains want. It gives up at once, with the end of the log,
// when the process exits.
func waitHTTP(ctx context.Context, p *process.Running, client *http.Client, url string, timeout time.Duration, want string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
				return nil
			}
			last = fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err
		}
		if !p.Alive() {
			return fmt.Errorf("%s exited; the end of %s:\n%s", p.Name, p.LogPath, logTail(p.LogPath, 1500))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w (log: %s)", timeout, last, p.LogPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// UserKubeconfig writes a kubeconfig for a user of some groups that reaches the API server at
// server, under name in the lab's kubeconfigs, and returns its path.
func UserKubeconfig(stateDir, clusterName, name, user string, groups []string, server string) (string, error) {
	ca, err := pki.LoadCA(pkiDir(stateDir))
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", user, err)
	}
	kp, err := ca.Issue(pki.Request{CommonName: user, Organization: groups, Client: true})
	if err != nil {
		return "", err
	}
	path, err := filepath.Abs(filepath.Join(labstate.KubeconfigsDir(stateDir), name))
	if err != nil {
		return "", err
	}
	return path, pki.WriteKubeconfig(path, clusterName, server, ca.PEM, user, kp)
}

// NodeKubeconfig writes a kubeconfig for a node's agent (user system:node:NAME in group
// system:nodes, as the Node authorizer expects) that reaches the API server at server, and
// returns its path.
func NodeKubeconfig(stateDir, clusterName, node, server string) (string, error) {
	return UserKubeconfig(stateDir, clusterName, "node-"+node, "system:node:"+node, []string{"system:nodes"}, server)
}
