package controlplane

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// CopyLogs copies every log of a lab (its state directory's LogDir: etcd, kube-apiserver, node
// agents, kube-proxies, routers, process pods' containers) into dst, and returns their names.
func CopyLogs(state, dst string) ([]string, error) {
	logs, err := filepath.Glob(filepath.Join(LogDir(state), "*.log"))
	if err != nil {
		return nil, err
	}
	if len(logs) == 0 {
		return nil, fmt.Errorf("no logs in %s", LogDir(state))
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	sort.Strings(logs)
	var names []string
	for _, l := range logs {
		if err := copyFile(l, filepath.Join(dst, filepath.Base(l))); err != nil {
			return names, fmt.Errorf("copy %s: %w", l, err)
		}
		names = append(names, filepath.Base(l))
	}
	return names, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
