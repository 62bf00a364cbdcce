package kubeconfig

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/clientcmd/api"
)

func labConfig(server string) *api.Config {
	c := api.NewConfig()
	c.Clusters["lab"] = &api.Cluster{Server: server, CertificateAuthorityData: []byte("ca")}
	c.AuthInfos["admin"] = &api.AuthInfo{ClientCertificateData: []byte("cert"), ClientKeyData: []byte("key")}
	c.Contexts["lab"] = &api.Context{Cluster: "lab", AuthInfo: "admin"}
	c.CurrentContext = "lab"
	return c
}

func TestMergeAndRemove(t *testing.T) {
	user := api.NewConfig()
	user.Clusters["prod"] = &api.Cluster{Server: "https://prod:6443"}
	user.AuthInfos["me"] = &api.AuthInfo{Token: "t"}
	user.Contexts["prod"] = &api.Context{Cluster: "prod", AuthInfo: "me"}
	user.CurrentContext = "prod"

	if err := Merge(user, labConfig("https://127.0.0.1:40001"), "l2"); err != nil {
		t.Fatal(err)
	}
	if user.CurrentContext != "ironlab-l2" || user.Clusters["ironlab-l2"].Server != "https://127.0.0.1:40001" ||
		string(user.AuthInfos["ironlab-l2"].ClientKeyData) != "key" || user.Contexts["prod"] == nil {
		t.Fatalf("after merge: %+v", user)
	}
	// A lab brought up again replaces its entries.
	if err := Merge(user, labConfig("https://127.0.0.1:40002"), "l2"); err != nil {
		t.Fatal(err)
	}
	if len(user.Contexts) != 2 || user.Clusters["ironlab-l2"].Server != "https://127.0.0.1:40002" {
		t.Fatalf("after a second merge: %d contexts, server %s", len(user.Contexts), user.Clusters["ironlab-l2"].Server)
	}
	if !Remove(user, "l2") || user.CurrentContext != "" || user.Contexts["ironlab-l2"] != nil || user.Clusters["ironlab-l2"] != nil || user.AuthInfos["ironlab-l2"] != nil {
		t.Fatalf("after remove: %+v", user)
	}
	if user.Contexts["prod"] == nil || user.AuthInfos["me"] == nil {
		t.Fatal("remove took the user's own entries")
	}
	if Remove(user, "l2") {
		t.Fatal("a second remove found something")
	}
	// Another lab's removal leaves the current context alone.
	user.CurrentContext = "prod"
	_ = Merge(user, labConfig("https://127.0.0.1:40003"), "bgp")
	user.CurrentContext = "prod"
	Remove(user, "bgp")
	if user.CurrentContext != "prod" {
		t.Fatalf("current context %q", user.CurrentContext)
	}
}

func TestMergeRefusesABrokenLabConfig(t *testing.T) {
	broken := labConfig("https://x")
	delete(broken.AuthInfos, "admin")
	if err := Merge(api.NewConfig(), broken, "l2"); err == nil {
		t.Fatal("want an error for a context whose user is missing")
	}
}

func TestUpdateWritesTheUsersFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", ".kube", "config")
	tg := Target{Path: path, UID: os.Getuid(), GID: os.Getgid()}
	if err := Update(tg, func(c *api.Config) (bool, error) { return true, Merge(c, labConfig("https://127.0.0.1:1"), "l2") }); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file %v, mode %v", err, st)
	}
	c, err := clientcmd.LoadFromFile(path)
	if err != nil || c.CurrentContext != "ironlab-l2" {
		t.Fatalf("read back: %v, %+v", err, c)
	}
	if err := Update(tg, func(c *api.Config) (bool, error) { return Remove(c, "l2"), nil }); err != nil {
		t.Fatal(err)
	}
	c, _ = clientcmd.LoadFromFile(path)
	if len(c.Contexts) != 0 {
		t.Fatalf("after remove: %+v", c.Contexts)
	}
}
