//go:build linux

package node

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultPath is the PATH a container gets when its spec sets none (the usual image default).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// containerEnv resolves a container's environment as the kubelet does: image defaults, the
// kubernetes Service variables, envFrom, then env in order with $(VAR) references expanded.
// imageEnv is the image's own environment (image mode): it comes before the kubelet's.
func (a *Agent) containerEnv(ctx context.Context, p *corev1.Pod, rp *pod, c *corev1.Container, imageEnv []string) ([]string, map[string]string, error) {
	env := map[string]string{"PATH": defaultPath, "HOSTNAME": rp.hostname}
	order := []string{"PATH", "HOSTNAME"}
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, kv := range imageEnv {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			set(k, v)
		}
	}
	set("HOSTNAME", rp.hostname) // the kubelet's, over an image's
	svc, err := a.cs.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read the kubernetes Service for KUBERNETES_SERVICE_HOST: %w", err)
	}
	host, port := svc.Spec.ClusterIP, "443"
	if len(svc.Spec.Ports) > 0 {
		port = strconv.Itoa(int(svc.Spec.Ports[0].Port))
	}
	url := "tcp://" + host + ":" + port
	if strings.Contains(host, ":") {
		url = "tcp://[" + host + "]:" + port
	}
	for _, kv := range [][2]string{{"KUBERNETES_SERVICE_HOST", host}, {"KUBERNETES_SERVICE_PORT", port},
		{"KUBERNETES_SERVICE_PORT_HTTPS", port}, {"KUBERNETES_PORT", url}, {"KUBERNETES_PORT_" + port + "_TCP", url},
		{"KUBERNETES_PORT_" + port + "_TCP_PROTO", "tcp"}, {"KUBERNETES_PORT_" + port + "_TCP_PORT", port},
		{"KUBERNETES_PORT_" + port + "_TCP_ADDR", host}} {
		set(kv[0], kv[1])
	}
	ns := p.Namespace
	for i, ef := range c.EnvFrom {
		kind, name, optional := "ConfigMap", "", false
		switch {
		case ef.ConfigMapRef != nil:
			name, optional = ef.ConfigMapRef.Name, ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional
		case ef.SecretRef != nil:
			kind, name, optional = "Secret", ef.SecretRef.Name, ef.SecretRef.Optional != nil && *ef.SecretRef.Optional
		default:
			continue
		}
		data, err := a.objectData(ctx, ns, kind, name, false)
		if apierrors.IsNotFound(err) && optional {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("envFrom[%d]: %w", i, err)
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			set(ef.Prefix+k, string(data[k]))
		}
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for i, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, skip, err := a.envFrom(ctx, p, rp, c, e.ValueFrom)
		if err != nil {
			return nil, nil, fmt.Errorf("env[%d] %s: %w", i, e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out, env, nil
}

// envFrom resolves one valueFrom; skip is true for a missing optional key.
func (a *Agent) envFrom(ctx context.Context, p *corev1.Pod, rp *pod, c *corev1.Container, src *corev1.EnvVarSource) (v string, skip bool, err error) {
	switch {
	case src.FieldRef != nil:
		v, err = a.fieldValue(p, rp, src.FieldRef.FieldPath)
		return v, false, err
	case src.ResourceFieldRef != nil:
		v, err = a.resourceValue(c, src.ResourceFieldRef)
		return v, false, err
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		return a.keyValue(ctx, p.Namespace, "Secret", r.Name, r.Key, r.Optional != nil && *r.Optional)
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		return a.keyValue(ctx, p.Namespace, "ConfigMap", r.Name, r.Key, r.Optional != nil && *r.Optional)
	}
	return "", false, fmt.Errorf("valueFrom: no source the lab knows")
}

// objectData reads a Secret's data, or a ConfigMap's (with its binaryData when binary is set,
// as volumes have it; env takes string data only). A missing object's error satisfies
// apierrors.IsNotFound.
func (a *Agent) objectData(ctx context.Context, ns, kind, name string, binary bool) (map[string][]byte, error) {
	if kind == "Secret" {
		s, err := a.cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read Secret %s: %w", name, err)
		}
		return s.Data, nil
	}
	cm, err := a.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read ConfigMap %s: %w", name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	if binary {
		maps.Copy(data, cm.BinaryData)
	}
	return data, nil
}

// keyValue is one key of a Secret or ConfigMap (secretKeyRef, configMapKeyRef); skip is true
// when it is optional and missing.
func (a *Agent) keyValue(ctx context.Context, ns, kind, name, key string, optional bool) (v string, skip bool, err error) {
	data, err := a.objectData(ctx, ns, kind, name, false)
	if apierrors.IsNotFound(err) && optional {
		return "", true, nil
	}
	if err != nil {
		return "", false, err
	}
	b, ok := data[key]
	if !ok {
		if optional {
			return "", true, nil
		}
		return "", false, fmt.Errorf("%s %s has no key %q", kind, name, key)
	}
	return string(b), false, nil
}

// fieldValue is what the downward API gives for a field path.
func (a *Agent) fieldValue(p *corev1.Pod, rp *pod, path string) (string, error) {
	hostIPs := []string{a.cfg.Address}
	if a.cfg.Address6 != "" {
		hostIPs = append(hostIPs, a.cfg.Address6)
	}
	podIPs := []string{rp.ip.String()}
	if rp.ip6.IsValid() {
		podIPs = append(podIPs, rp.ip6.String())
	}
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "metadata.labels":
		return formatMap(p.Labels), nil
	case "metadata.annotations":
		return formatMap(p.Annotations), nil
	case "spec.nodeName":
		return a.cfg.Name, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return a.cfg.Address, nil
	case "status.hostIPs":
		return strings.Join(hostIPs, ","), nil
	case "status.podIP":
		return rp.ip.String(), nil
	case "status.podIPs":
		return strings.Join(podIPs, ","), nil
	}
	for _, m := range []struct {
		prefix string
		from   map[string]string
	}{{"metadata.labels['", p.Labels}, {"metadata.annotations['", p.Annotations}} {
		if k, ok := strings.CutPrefix(path, m.prefix); ok && strings.HasSuffix(k, "']") {
			return m.from[strings.TrimSuffix(k, "']")], nil
		}
	}
	return "", fmt.Errorf("fieldRef %q is not supported", path)
}

// formatMap is the downward API's rendering of labels and annotations: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// resourceValue is a container's limit or request (the node's allocatable for an unset limit),
// divided by the divisor and rounded up, as the kubelet does.
func (a *Agent) resourceValue(c *corev1.Container, r *corev1.ResourceFieldSelector) (string, error) {
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef needs a container")
	}
	kind, name, ok := strings.Cut(r.Resource, ".")
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %q: want limits.NAME or requests.NAME", r.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		q, ok = a.nodeStatus().Allocatable[corev1.ResourceName(name)]
		if kind == "requests" || !ok {
			q = resource.Quantity{}
		}
	}
	div := r.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if name == "cpu" {
		m, dm := q.MilliValue(), div.MilliValue()
		return strconv.FormatInt((m+dm-1)/dm, 10), nil
	}
	v, dv := q.Value(), div.Value()
	return strconv.FormatInt((v+dv-1)/dv, 10), nil
}
