//go:build linux

package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// file is one file of a volume with API content.
type file struct {
	data []byte
	mode os.FileMode
}

// volumes holds a pod's volumes on the host, under its directory in the lab state.
type volumes struct {
	mu     sync.Mutex              // serialises sync; guards paths
	dir    string                  // <state>/pods/<uid>/volumes
	paths  map[string]string       // volume name -> host path
	hashes map[string]string       // volume name -> content last written
	tokens map[string]tokenRefresh // volume name/path -> when to ask for a new token
}

type tokenRefresh struct {
	at   time.Time
	data []byte
}

func newVolumes(dir string) *volumes {
	return &volumes{dir: dir, paths: map[string]string{}, hashes: map[string]string{}, tokens: map[string]tokenRefresh{}}
}

// dynamic reports whether a volume's content comes from the API (and is kept up to date).
func dynamic(v corev1.Volume) bool {
	return v.Secret != nil || v.ConfigMap != nil || v.Projected != nil || v.DownwardAPI != nil
}

// sync creates every volume of the pod (the first time) and rewrites the API-backed ones whose
// content changed, atomically (a new directory behind the ..data link, as the kubelet does), so
// that a container reading a file sees the old or the new content, never a mix.
func (a *Agent) syncVolumes(ctx context.Context, p *corev1.Pod, rp *pod) error {
	vs := rp.vols
	vs.mu.Lock()
	defer vs.mu.Unlock()
	for i, v := range p.Spec.Volumes {
		path := fmt.Sprintf("spec.volumes[%d] (%s)", i, v.Name)
		switch {
		case v.HostPath != nil:
			if _, err := os.Stat(v.HostPath.Path); err != nil {
				return fmt.Errorf("%s: hostPath: %w", path, err)
			}
			vs.paths[v.Name] = v.HostPath.Path
			continue
		case v.EmptyDir != nil:
			if _, ok := vs.paths[v.Name]; !ok {
				d := filepath.Join(vs.dir, v.Name)
				if err := os.MkdirAll(d, 0o777); err != nil {
					return fmt.Errorf("%s: emptyDir: %w", path, err)
				}
				_ = os.Chmod(d, 0o777) // as the kubelet: writable by any user of the pod
				vs.paths[v.Name] = d
			}
			continue
		case !dynamic(v):
			return fmt.Errorf("%s: this kind of volume is not supported by the lab (use emptyDir, hostPath, secret, configMap, projected or downwardAPI)", path)
		}
		files, err := a.volumeFiles(ctx, p, rp, v)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		d := filepath.Join(vs.dir, v.Name)
		sum := hashFiles(files)
		if vs.hashes[v.Name] == sum {
			continue
		}
		if err := writeAtomic(d, files); err != nil {
			return fmt.Errorf("%s: write: %w", path, err)
		}
		vs.paths[v.Name], vs.hashes[v.Name] = d, sum
	}
	return nil
}

// volumeFiles is the content of an API-backed volume, by path inside it.
func (a *Agent) volumeFiles(ctx context.Context, p *corev1.Pod, rp *pod, v corev1.Volume) (map[string]file, error) {
	files := map[string]file{}
	mode := func(m *int32, def os.FileMode) os.FileMode {
		if m != nil {
			return os.FileMode(*m) & 0o777
		}
		return def
	}
	switch {
	case v.Secret != nil:
		return files, a.secretFiles(ctx, p.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode, 0o644), files)
	case v.ConfigMap != nil:
		return files, a.configMapFiles(ctx, p.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode, 0o644), files)
	case v.DownwardAPI != nil:
		return files, a.downwardFiles(p, rp, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode, 0o644), files)
	}
	def := mode(v.Projected.DefaultMode, 0o644)
	for i, src := range v.Projected.Sources {
		var err error
		switch {
		case src.Secret != nil:
			err = a.secretFiles(ctx, p.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional, def, files)
		case src.ConfigMap != nil:
			err = a.configMapFiles(ctx, p.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, def, files)
		case src.DownwardAPI != nil:
			err = a.downwardFiles(p, rp, src.DownwardAPI.Items, def, files)
		case src.ServiceAccountToken != nil:
			var tok []byte
			tok, err = a.token(ctx, p, rp, v.Name+"/"+src.ServiceAccountToken.Path, src.ServiceAccountToken)
			files[src.ServiceAccountToken.Path] = file{tok, 0o600 | def&0o044}
		default:
			err = fmt.Errorf("this projected source is not supported by the lab")
		}
		if err != nil {
			return nil, fmt.Errorf("projected.sources[%d]: %w", i, err)
		}
	}
	return files, nil
}

// pick adds the keys of data (all, or those the items name, at their paths) as files.
func pick(data map[string][]byte, items []corev1.KeyToPath, def os.FileMode, files map[string]file, what string) error {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = file{v, def}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("%s has no key %q", what, it.Key)
		}
		m := def
		if it.Mode != nil {
			m = os.FileMode(*it.Mode) & 0o777
		}
		files[it.Path] = file{v, m}
	}
	return nil
}

func (a *Agent) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, def os.FileMode, files map[string]file) error {
	return a.objectFiles(ctx, ns, "Secret", name, items, optional, def, files)
}

func (a *Agent) configMapFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, def os.FileMode, files map[string]file) error {
	return a.objectFiles(ctx, ns, "ConfigMap", name, items, optional, def, files)
}

// objectFiles adds a Secret's or ConfigMap's keys (all, or the items) as files.
func (a *Agent) objectFiles(ctx context.Context, ns, kind, name string, items []corev1.KeyToPath, optional *bool, def os.FileMode, files map[string]file) error {
	data, err := a.objectData(ctx, ns, kind, name, true)
	if apierrors.IsNotFound(err) && optional != nil && *optional {
		return nil
	}
	if err != nil {
		return err
	}
	return pick(data, items, def, files, kind+" "+name)
}

func (a *Agent) downwardFiles(p *corev1.Pod, rp *pod, items []corev1.DownwardAPIVolumeFile, def os.FileMode, files map[string]file) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = a.fieldValue(p, rp, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			var c *corev1.Container
			for i := range p.Spec.Containers {
				if p.Spec.Containers[i].Name == it.ResourceFieldRef.ContainerName {
					c = &p.Spec.Containers[i]
				}
			}
			v, err = a.resourceValue(c, it.ResourceFieldRef)
		}
		if err != nil {
			return fmt.Errorf("downwardAPI %s: %w", it.Path, err)
		}
		m := def
		if it.Mode != nil {
			m = os.FileMode(*it.Mode) & 0o777
		}
		files[it.Path] = file{[]byte(v), m}
	}
	return nil
}

// token asks the TokenRequest API for the pod's service account token, bound to the pod, and asks
// again once 80% of its lifetime has passed (as the kubelet does).
func (a *Agent) token(ctx context.Context, p *corev1.Pod, rp *pod, key string, src *corev1.ServiceAccountTokenProjection) ([]byte, error) {
	if t, ok := rp.vols.tokens[key]; ok && time.Now().Before(t.at) {
		return t.data, nil
	}
	exp := int64(3600)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	var aud []string
	if src.Audience != "" {
		aud = []string{src.Audience}
	}
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := a.cs.CoreV1().ServiceAccounts(p.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: aud, ExpirationSeconds: &exp,
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("service account token for %s: %w", sa, err)
	}
	life := time.Until(tr.Status.ExpirationTimestamp.Time)
	rp.vols.tokens[key] = tokenRefresh{at: time.Now().Add(life * 8 / 10), data: []byte(tr.Status.Token)}
	return []byte(tr.Status.Token), nil
}

// path is where a volume is on the host.
func (vs *volumes) path(name string) (string, bool) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	p, ok := vs.paths[name]
	return p, ok
}

func hashFiles(files map[string]file) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", k, files[k].mode, len(files[k].data))
		h.Write(files[k].data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeAtomic makes dir hold exactly files: each is written into a new timestamped directory,
// ..data is switched to it with one rename, and the visible names are links through ..data.
func writeAtomic(dir string, files map[string]file) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for name, f := range files {
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) || strings.Contains(name, "/../") {
			return fmt.Errorf("file name %q is not allowed", name)
		}
		p := filepath.Join(ts, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	// The visible top-level names: a link through ..data for each, stale ones removed.
	top := map[string]bool{}
	for name := range files {
		first, _, _ := strings.Cut(name, "/")
		top[first] = true
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, "..") && !top[n] {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			return err
		}
	}
	if old != "" && old != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}
