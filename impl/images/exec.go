package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// GoCompiler compiles with the go command: static (CGO_ENABLED=0), -trimpath, an empty build ID
// and no symbol table (-s -w), so that the same source and toolchain give the same bytes
// wherever they are built.
type GoCompiler struct {
	Go  string   // the go command ("go" if empty)
	Dir string   // the module root (the current directory if empty)
	Env []string // the environment (os.Environ() if nil); GOOS, GOARCH and CGO_ENABLED are set over it
}

// LDFlags returns the linker flags of a build of version.
func LDFlags(version string) string {
	return "-s -w -buildid= -X main.version=" + version
}

// Compile implements Compiler.
func (c GoCompiler) Compile(ctx context.Context, p v1.Platform, version string, pkgs []string, dir string) error {
	if strings.ContainsAny(version, " \t\n'\"") {
		return fmt.Errorf("version %q: no spaces or quotes (it goes into -ldflags)", version)
	}
	if p.Variant != "" {
		return fmt.Errorf("platform %s: variants are not supported", p)
	}
	goCmd := c.Go
	if goCmd == "" {
		goCmd = "go"
	}
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	args := append([]string{"build", "-trimpath", "-ldflags", LDFlags(version), "-o", dir + string(os.PathSeparator)}, pkgs...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = c.Dir
	cmd.Env = append(env[:len(env):len(env)], "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	return run(cmd)
}

// toolchainVars are the go env settings that change what Compile writes (-trimpath keeps paths
// such as GOPATH and GOROOT out of the binaries; CGO_ENABLED, GOOS and GOARCH are set by Compile).
var toolchainVars = []string{"GOVERSION", "GOTOOLCHAIN", "GOFLAGS", "GOEXPERIMENT", "GOFIPS140", "GOAMD64", "GOARM", "GOARM64", "GO386", "GOPPC64", "GORISCV64", "GOWASM"}

// Toolchain names the toolchain Compile uses and its settings, as the go command that compiles
// reports them (go env, in Compile's environment): part of a build's key.
func (c GoCompiler) Toolchain(ctx context.Context) (string, error) {
	goCmd := c.Go
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, append([]string{"env", "-json"}, toolchainVars...)...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := run(cmd); err != nil {
		return "", fmt.Errorf("the toolchain's settings (%s env): %w", goCmd, err)
	}
	var env map[string]string
	if err := json.Unmarshal(out.Bytes(), &env); err != nil {
		return "", fmt.Errorf("the toolchain's settings (%s env -json): %w", goCmd, err)
	}
	var kv []string
	for _, k := range toolchainVars {
		kv = append(kv, k+"="+env[k])
	}
	return strings.Join(kv, " "), nil
}

// GitSource returns the source of the work tree at dir: the revision (HEAD), the commit time and
// `git describe --tags --always --dirty` as the version.
func GitSource(ctx context.Context, dir string) (Source, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout = &out
		err := run(cmd)
		return strings.TrimSpace(out.String()), err
	}
	rev, err := git("rev-parse", "HEAD")
	if err != nil {
		return Source{}, err
	}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return Source{}, err
	}
	t, err := ParseEpoch(ct)
	if err != nil {
		return Source{}, fmt.Errorf("commit time: %w", err)
	}
	version, err := git("describe", "--tags", "--always", "--dirty")
	if err != nil {
		return Source{}, err
	}
	return Source{URL: DefaultSourceURL, Version: version, Revision: rev, Time: t}, nil
}

// ParseEpoch parses SOURCE_DATE_EPOCH: seconds since 1970 UTC.
func ParseEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%q: want seconds since 1970 (SOURCE_DATE_EPOCH)", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// run runs cmd; its error names the command and carries what it wrote to stderr.
func run(cmd *exec.Cmd) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
		}
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, msg)
	}
	return nil
}

// ErrNoCABundle is returned by ReadCABundle when the host has no bundle.
var ErrNoCABundle = errors.New("no CA bundle")

// ReadCABundle reads the host's CA bundle at path; ErrNoCABundle if there is none.
func ReadCABundle(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoCABundle)
	}
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s is empty: %w", path, ErrNoCABundle)
	}
	return data, nil
}
