// Package images builds the OCI images of IronLB's binaries from Go alone: no Docker engine, no
// registry and no pulled base image. A minimal static base (users, nsswitch.conf, CA certificates,
// /tmp) is made here; each binary is cross-compiled for every platform and put on it; one image
// index per image is written as an OCI layout and as an archive that `ctr images import` (and so
// `kind load image-archive`) and `docker load` read; Push sends a layout to a registry.
//
// Builds are reproducible: the same commit, Go toolchain and CA bundle give the same digests.
// Every time stamp is the commit time (SOURCE_DATE_EPOCH), tar entries are sorted with fixed
// owners and modes, and binaries are built with -trimpath and an empty build ID.
//
// The pure parts (the image specs, labels, configuration, the base files and the deterministic
// tar) take plain values; compiling goes through the Compiler interface.
package images

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is one image: a binary of this module on the static base.
type Image struct {
	// Name is the image's repository name and the binary's, at the root: /ironlb-controller.
	Name string
	// Package is the binary's Go package, relative to the module root (./cmd/ironlb-controller);
	// its last element must be Name.
	Package string
	// User is "uid:gid" for the image configuration.
	User string
	// Description is the org.opencontainers.image.description label.
	Description string
}

// Users of the base image's /etc/passwd.
const (
	NonRootUID = 65532 // nonroot, as in distroless: what the controller runs as
	NobodyUID  = 65534 // nobody: what the native manifest runs the controller as (runAsUser)
)

// Default returns IronLB's images: the controller as nonroot; the speaker as root, because it
// opens raw sockets for ARP and NDP (the native manifest drops every capability but NET_RAW);
// ironlab as root, because it makes network namespaces.
func Default() []Image {
	return []Image{
		{
			Name: "ironlb-controller", Package: "./cmd/ironlb-controller", User: "65532:65532",
			Description: "IronLB controller: assigns addresses from IPAddressPools to LoadBalancer Services",
		},
		{
			Name: "ironlb-speaker", Package: "./cmd/ironlb-speaker", User: "0:0",
			Description: "IronLB speaker: announces Service addresses by ARP/NDP and BGP; runs as root, needs CAP_NET_RAW",
		},
		{
			Name: "ironlab", Package: "./cmd/ironlab", User: "0:0",
			Description: "ironlab: IronLB's lab of network namespaces, scenarios and soak; runs as root",
		},
	}
}

// Platforms returns the platforms every image is built for.
func Platforms() []v1.Platform {
	return []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
}

// Source is what the images are built from: it is stamped into labels and annotations, and its
// Time is every time stamp the images carry.
type Source struct {
	URL      string    // org.opencontainers.image.source
	Version  string    // `git describe --tags --always --dirty`
	Revision string    // the commit
	Time     time.Time // the commit time (SOURCE_DATE_EPOCH)
}

// DefaultSourceURL is the repository the images say they come from.
const DefaultSourceURL = "https://github.com/ironlb/ironlb"

// Label keys.
const (
	LabelTitle       = "org.opencontainers.image.title"
	LabelDescription = "org.opencontainers.image.description"
	LabelSource      = "org.opencontainers.image.source"
	LabelVersion     = "org.opencontainers.image.version"
	LabelRevision    = "org.opencontainers.image.revision"
	LabelCreated     = "org.opencontainers.image.created"
	// LabelCACertificates says where /etc/ssl/certs/ca-certificates.crt came from, or that the
	// image has none.
	LabelCACertificates = "io.github.ironlb.ca-certificates"
)

// CABundlePath is where the base image keeps the CA certificates (where Go's crypto/x509 looks
// first on Linux), and where the build reads the host's.
const CABundlePath = "/etc/ssl/certs/ca-certificates.crt"

// CAAbsent is the CA certificate label of an image without a bundle.
const CAAbsent = "none: the build host had no " + CABundlePath + "; mount a bundle there for TLS to anything but the API server"

// CALabel returns the CA certificate label for the bundle ca: where it came from and its
// sha256, which the image digests depend on.
func CALabel(ca []byte) string {
	if ca == nil {
		return CAAbsent
	}
	return fmt.Sprintf("copied from the build host's %s, sha256 %x", CABundlePath, sha256.Sum256(ca))
}

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	userRE    = regexp.MustCompile(`^[0-9]+:[0-9]+$`)
	versionRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$`)
)

// Validate returns every problem of the image list at once, each with its field path.
func Validate(images []Image) error {
	var errs []error
	seen := map[string]bool{}
	for i, im := range images {
		at := fmt.Sprintf("images[%d]", i)
		switch {
		case !nameRE.MatchString(im.Name):
			errs = append(errs, fmt.Errorf("%s.name %q: want lower-case letters, digits and . _ - between them", at, im.Name))
		case seen[im.Name]:
			errs = append(errs, fmt.Errorf("%s.name %q: given twice", at, im.Name))
		}
		seen[im.Name] = true
		if !strings.HasPrefix(im.Package, "./") || im.Package[strings.LastIndex(im.Package, "/")+1:] != im.Name {
			errs = append(errs, fmt.Errorf("%s.package %q: want ./path/%s (the binary is named after the package's last element)", at, im.Package, im.Name))
		}
		if !userRE.MatchString(im.User) {
			errs = append(errs, fmt.Errorf("%s.user %q: want uid:gid", at, im.User))
		}
	}
	if len(images) == 0 {
		errs = append(errs, errors.New("images: none given"))
	}
	return errors.Join(errs...)
}

// ValidateSource checks what the build stamps into the binaries and the images.
func ValidateSource(s Source) error {
	var errs []error
	if !versionRE.MatchString(s.Version) {
		errs = append(errs, fmt.Errorf("version %q: want letters, digits and _ . + - (at most 128)", s.Version))
	}
	if s.Revision == "" {
		errs = append(errs, errors.New("revision: empty"))
	}
	if s.Time.IsZero() {
		errs = append(errs, errors.New("time: not set (the commit time, or SOURCE_DATE_EPOCH)"))
	}
	return errors.Join(errs...)
}

// Tag turns a version into an image tag: `+` (allowed in versions, not in tags) becomes `-`.
func Tag(version string) (string, error) {
	if !versionRE.MatchString(version) {
		return "", fmt.Errorf("version %q cannot be a tag: want letters, digits and _ . + - (at most 128)", version)
	}
	return strings.ReplaceAll(version, "+", "-"), nil
}

// Labels returns the image's OCI labels; ca is the base's CA bundle (nil: none).
func Labels(im Image, src Source, ca []byte) map[string]string {
	return map[string]string{
		LabelTitle:          im.Name,
		LabelDescription:    im.Description,
		LabelSource:         src.URL,
		LabelVersion:        src.Version,
		LabelRevision:       src.Revision,
		LabelCreated:        src.Time.UTC().Format(time.RFC3339),
		LabelCACertificates: CALabel(ca),
	}
}

// BinaryPath is where an image keeps its one program (HostFile puts it at the root, Config
// makes it the entrypoint); labs that run a program from an image ask here.
func BinaryPath(name string) string { return "/" + name }

// Config returns the image configuration for one platform (without the root filesystem and
// history, which come with the layers); ca is the base's CA bundle (nil: none).
func Config(im Image, p v1.Platform, src Source, ca []byte) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: src.Time.UTC()},
		Config: v1.Config{
			Entrypoint: []string{BinaryPath(im.Name)},
			User:       im.User,
			Env:        []string{"PATH=/"},
			WorkingDir: "/",
			Labels:     Labels(im, src, ca),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
}

// Ref returns the reference an image is known by locally (in the archive's index.json and
// manifest.json): repo/name:tag.
func Ref(repo, name, tag string) string {
	return strings.TrimSuffix(repo, "/") + "/" + name + ":" + tag
}
