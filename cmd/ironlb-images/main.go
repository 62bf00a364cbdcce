// Command ironlb-images builds the OCI images of ironlb-controller, ironlb-speaker and ironlab
// from Go alone (no Docker engine, no registry, no base image), and pushes them (`make images`,
// `make push`). See impl/images.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ironlb/ironlb/impl/images"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) < 2 || (os.Args[1] != "build" && os.Args[1] != "push") {
		fmt.Fprintln(os.Stderr, "usage: ironlb-images build|push [flags] (-h for the flags)")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("ironlb-images "+os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "bin/images", "output directory: <name>/ (OCI layout) and <name>.tar per image")
	var err error
	if os.Args[1] == "build" {
		err = build(ctx, fs, dir)
	} else {
		err = push(ctx, fs, dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ironlb-images:", err)
		os.Exit(1)
	}
}

// clean is true when the work tree has no change, tracked or untracked, against HEAD.
func clean(ctx context.Context) bool {
	out, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=normal").Output()
	return err == nil && len(bytes.TrimSpace(out)) == 0
}

func build(ctx context.Context, fs *flag.FlagSet, dir *string) error {
	compiler := images.GoCompiler{}
	o := images.BuildOptions{Images: images.Default(), Compiler: compiler, Progress: progress}
	version := fs.String("version", "", "version stamped into the binaries and labels (default: git describe --tags --always --dirty)")
	fs.StringVar(&o.Repo, "repo", images.DefaultRepo, "the archives name the images REPO/<name>:<version>")
	fs.StringVar(&o.CAPath, "ca", images.CABundlePath, "the host's CA bundle to copy into the base (absent: none, and the labels say so)")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch")
	only := fs.String("only", "", "build only these images (comma-separated names, e.g. ironlb-controller,ironlb-speaker for a lab)")
	force := fs.Bool("force", false, "build even when the output directory holds this clean commit's images")
	_ = fs.Parse(os.Args[2:])
	if *only != "" {
		var picked []images.Image
		for _, name := range strings.Split(*only, ",") {
			i := slices.IndexFunc(o.Images, func(im images.Image) bool { return im.Name == name })
			if i < 0 {
				return fmt.Errorf("-only: no image %q", name)
			}
			picked = append(picked, o.Images[i])
		}
		o.Images = picked
	}
	o.OutDir = *dir
	src, err := images.GitSource(ctx, ".")
	if err != nil {
		return err
	}
	if *version != "" {
		src.Version = *version
	}
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		if src.Time, err = images.ParseEpoch(e); err != nil {
			return err
		}
	}
	o.Source = src
	if o.Platforms, err = images.ParsePlatforms(strings.Split(*platforms, ",")); err != nil {
		return err
	}
	// A clean commit's images are the same every time: built once (the key names what they
	// depend on). A tree with changes, tracked or not, is built every time.
	key := ""
	if clean(ctx) {
		caPath := o.CAPath
		if caPath == "" {
			caPath = images.CABundlePath
		}
		ca, err := images.ReadCABundle(caPath)
		if err != nil && !errors.Is(err, images.ErrNoCABundle) {
			return err
		}
		toolchain, err := compiler.Toolchain(ctx)
		if err != nil {
			return err
		}
		key = images.BuildKey(o, ca, toolchain)
		if !*force && images.UpToDate(o, key) {
			progress("images: up to date: %s at %s in %s (-force builds them again)", src.Version, src.Revision, o.OutDir)
			return nil
		}
	}
	progress("%s at %s (%s), time stamps %s", src.Version, src.Revision, src.URL, src.Time.Format("2006-01-02T15:04:05Z"))
	if err := images.WriteStamp(o, ""); err != nil {
		return err
	}
	if _, err := images.BuildAll(ctx, o); err != nil {
		return err
	}
	// The tree may have changed while it was being built (an edit, a checkout): then what was
	// built is not surely the commit's, and it gets no key.
	if key != "" {
		if now, err := images.GitSource(ctx, "."); err != nil || now.Revision != src.Revision || !clean(ctx) {
			progress("images: the work tree changed during the build; they will be built again next time")
			key = ""
		}
	}
	return images.WriteStamp(o, key)
}

func push(ctx context.Context, fs *flag.FlagSet, dir *string) error {
	registry := fs.String("registry", "", "registry and namespace to push to: REGISTRY/<name>:<version> (required), e.g. ghcr.io/ironlb")
	var tags tagList
	fs.Var(&tags, "tag", "an extra tag, such as latest (repeatable)")
	_ = fs.Parse(os.Args[2:])
	if *registry == "" {
		return fmt.Errorf("-registry: required (make push REGISTRY=ghcr.io/ironlb)")
	}
	// Credentials as `docker login` (or docker/login-action) leaves them in ~/.docker/config.json.
	pushed, err := images.PushDir(ctx, *dir, images.Default(), *registry, tags,
		remote.WithAuthFromKeychain(authn.DefaultKeychain))
	for _, p := range pushed {
		for _, ref := range p.Refs {
			fmt.Printf("%s@%s\n", ref, p.Digest)
		}
	}
	return err
}

type tagList []string

func (t *tagList) String() string     { return strings.Join(*t, ",") }
func (t *tagList) Set(s string) error { *t = append(*t, s); return nil }

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
