// Command images writes the images kubeadm runs, built from binaries of this host, as one
// docker-archive tar per image for the Kind node image (lab/kind/build/node-image.sh): the node
// imports them into containerd at boot, so that kubeadm finds every image it asks for
// (`kubeadm config images list`) without a registry.
//
//	go run ./lab/kind/build/images -out DIR -version v1.37.2 -bins K8S_BINS -kubeadm KUBEADM \
//	    -coredns COREDNS -base DEBIAN.tar
//
// kube-apiserver, kube-controller-manager, kube-scheduler and etcd are their static binary in
// /usr/local/bin on the static base of IronLB's images; kube-proxy is Debian's root (for nft,
// iptables and conntrack) with the binary; CoreDNS is /coredns; pause is lab/kind/build/pause.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ironlb/ironlb/impl/images"
)

func main() {
	out := flag.String("out", "", "directory for the image tars")
	version := flag.String("version", "", "Kubernetes version (v1.37.2)")
	bins := flag.String("bins", "", "directory of kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and etcd")
	kubeadm := flag.String("kubeadm", "", "the kubeadm binary, asked which images it wants")
	coredns := flag.String("coredns", "", "the coredns binary")
	base := flag.String("base", "", "a tar of Debian's root, kube-proxy's base")
	flag.Parse()
	if err := run(*out, *version, *bins, *kubeadm, *coredns, *base); err != nil {
		fmt.Fprintln(os.Stderr, "kind images:", err)
		os.Exit(1)
	}
}

func run(out, version, bins, kubeadm, coredns, base string) error {
	list, err := exec.Command(kubeadm, "config", "images", "list", "--kubernetes-version", version).Output()
	if err != nil {
		return fmt.Errorf("kubeadm config images list: %w", err)
	}
	work, err := os.MkdirTemp("", "kind-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	pause := filepath.Join(work, "pause")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", pause, "./lab/kind/build/pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build pause: %w\n%s", err, b)
	}
	static, err := layer(work, "static", images.BaseFiles(nil))
	if err != nil {
		return err
	}
	debian, err := tarball.LayerFromFile(base)
	if err != nil {
		return fmt.Errorf("base %s: %w", base, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	refs := strings.Fields(string(list))
	// containerd's sandbox image in kind's configuration, beside kubeadm's.
	refs = append(refs, "registry.k8s.io/pause:3.10")
	for _, ref := range refs {
		repo := path.Base(strings.SplitN(ref, ":", 2)[0])
		var (
			lower v1.Layer = static
			file  string
			at    string
			cfg   v1.Config
		)
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		switch repo {
		case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd":
			file, at = filepath.Join(bins, repo), "usr/local/bin/"+repo
		case "kube-proxy":
			lower, file, at = debian, filepath.Join(bins, repo), "usr/local/bin/"+repo
		case "coredns":
			file, at, cfg.Entrypoint = coredns, "coredns", []string{"/coredns"}
		case "pause":
			file, at, cfg.Entrypoint = pause, "pause", []string{"/pause"}
		default:
			return fmt.Errorf("kubeadm asks for %s: no recipe for it here", ref)
		}
		f, err := images.HostFile(at, 0o755, file)
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		top, err := layer(work, repo, []images.File{f})
		if err != nil {
			return err
		}
		img, err := mutate.AppendLayers(empty.Image, lower, top)
		if err != nil {
			return err
		}
		if img, err = mutate.Config(img, cfg); err != nil {
			return err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", runtime.GOARCH
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return err
		}
		tag, err := name.NewTag(ref)
		if err != nil {
			return err
		}
		dst := filepath.Join(out, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
		if err := tarball.WriteToFile(dst, tag, img); err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		fmt.Fprintf(os.Stderr, "kind images: %s\n", ref)
	}
	return nil
}

func layer(work, name string, files []images.File) (v1.Layer, error) {
	p := filepath.Join(work, name+".tar.gz")
	if err := images.WriteLayerFile(p, files, time.Unix(0, 0)); err != nil {
		return nil, fmt.Errorf("layer %s: %w", name, err)
	}
	return tarball.LayerFromFile(p)
}
