// Package kubeconfig puts a lab into the user's own kubeconfig as context ironlab-NAME, and takes
// it out again, as Kind does with kind-NAME: `kubectl --context ironlab-l2 get nodes` works from
// the user who ran `sudo ironlab up`, without reading root's files. Merge and Remove are pure
// (clientcmd's api.Config in, api.Config out); Update does the file, its owner and its lock.
package kubeconfig

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the name a lab has in a user's kubeconfig (cluster, user and context alike).
func ContextName(lab string) string { return "ironlab-" + lab }

// Merge adds (or replaces) the lab's admin config from lab under ContextName and makes it the
// current context. Other entries are kept.
func Merge(into, lab *api.Config, name string) error {
	ctxName := lab.CurrentContext
	c, ok := lab.Contexts[ctxName]
	if !ok {
		return fmt.Errorf("the lab's kubeconfig has no current context %q", ctxName)
	}
	cl, ok := lab.Clusters[c.Cluster]
	if !ok {
		return fmt.Errorf("the lab's kubeconfig has no cluster %q", c.Cluster)
	}
	au, ok := lab.AuthInfos[c.AuthInfo]
	if !ok {
		return fmt.Errorf("the lab's kubeconfig has no user %q", c.AuthInfo)
	}
	n := ContextName(name)
	if into.Clusters == nil {
		into.Clusters = map[string]*api.Cluster{}
	}
	if into.AuthInfos == nil {
		into.AuthInfos = map[string]*api.AuthInfo{}
	}
	if into.Contexts == nil {
		into.Contexts = map[string]*api.Context{}
	}
	into.Clusters[n] = cl.DeepCopy()
	into.AuthInfos[n] = au.DeepCopy()
	into.Contexts[n] = &api.Context{Cluster: n, AuthInfo: n, Namespace: c.Namespace}
	into.CurrentContext = n
	return nil
}

// Remove takes the lab's entries out; the current context is unset when it was the lab's. It
// reports whether there was anything to remove.
func Remove(from *api.Config, name string) bool {
	n := ContextName(name)
	_, had := from.Contexts[n]
	_, hadCluster := from.Clusters[n]
	delete(from.Contexts, n)
	delete(from.Clusters, n)
	delete(from.AuthInfos, n)
	if from.CurrentContext == n {
		from.CurrentContext = ""
	}
	return had || hadCluster
}

// Target is the kubeconfig file of the user who invoked ironlab: $KUBECONFIG's first file when
// set, else ~/.kube/config of that user (under sudo, SUDO_USER's, not root's), with the uid and
// gid that should own it.
type Target struct {
	Path     string
	UID, GID int
}

// InvokingUser finds the Target.
func InvokingUser() (Target, error) {
	t := Target{UID: os.Getuid(), GID: os.Getgid()}
	home := ""
	if su := os.Getenv("SUDO_USER"); su != "" && os.Geteuid() == 0 {
		u, err := user.Lookup(su)
		if err != nil {
			return Target{}, fmt.Errorf("SUDO_USER %s: %w", su, err)
		}
		t.UID, _ = strconv.Atoi(u.Uid)
		t.GID, _ = strconv.Atoi(u.Gid)
		home = u.HomeDir
	}
	if kc := filepath.SplitList(os.Getenv("KUBECONFIG")); len(kc) > 0 && kc[0] != "" {
		t.Path = kc[0]
		return t, nil
	}
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return Target{}, err
		}
	}
	t.Path = filepath.Join(home, ".kube", "config")
	return t, nil
}

// Update loads t's file (an absent one is empty), applies change and writes it back (0600, owned
// by t's user) when change reports a change.
func Update(t Target, change func(*api.Config) (bool, error)) error {
	cfg, err := clientcmd.LoadFromFile(t.Path)
	if errors.Is(err, os.ErrNotExist) {
		cfg, err = api.NewConfig(), nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Path, err)
	}
	changed, err := change(cfg)
	if err != nil || !changed {
		return err
	}
	dir := filepath.Dir(t.Path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		_ = os.Chown(dir, t.UID, t.GID)
	}
	if err := clientcmd.WriteToFile(*cfg, t.Path); err != nil {
		return fmt.Errorf("write %s: %w", t.Path, err)
	}
	if err := os.Chmod(t.Path, 0o600); err != nil {
		return err
	}
	return os.Chown(t.Path, t.UID, t.GID)
}
