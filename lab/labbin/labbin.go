// Package labbin builds what a lab needs into a directory, laid out as `make build` and `make
// images` lay out bin/: ironlab, ironlab-runc (the kind provider's), IronLB's binaries (--impl
// ironlb-dev) and its images for this host's platform under images/ (--impl ironlb). Test suites that bring labs up use it.
package labbin

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/ironlb/ironlb/lab/install"
)

// Build builds into dir from the module at root; it returns ironlab's path.
func Build(root, dir string) (string, error) {
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/ironlab", "./cmd/ironlab-runc", "./cmd/ironlb-controller", "./cmd/ironlb-speaker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	imgs := exec.Command("go", "run", "./cmd/ironlb-images", "build", "-dir", filepath.Join(dir, install.ImagesDir),
		"-platforms", "linux/"+runtime.GOARCH, "-only", "ironlb-controller,ironlb-speaker")
	imgs.Dir = root
	if out, err := imgs.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ironlb-images build: %w\n%s", err, out)
	}
	return filepath.Join(dir, "ironlab"), nil
}
