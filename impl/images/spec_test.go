package images

import (
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestValidate(t *testing.T) {
	ok := Image{Name: "ironlb-controller", Package: "./cmd/ironlb-controller", User: "65532:65532"}
	for _, tc := range []struct {
		name   string
		images []Image
		want   []string // every problem, with its field path; none: valid
	}{
		{"the defaults", Default(), nil},
		{"one", []Image{ok}, nil},
		{"none", nil, []string{"images: none given"}},
		{"upper-case name and a package named otherwise", []Image{{Name: "Ctl", Package: "./cmd/ctl", User: "0:0"}},
			[]string{`images[0].name "Ctl"`, `images[0].package "./cmd/ctl": want ./path/Ctl`}},
		{"twice", []Image{ok, ok}, []string{`images[1].name "ironlb-controller": given twice`}},
		{"absolute package, user without group", []Image{{Name: "x", Package: "github.com/a/x", User: "0"}},
			[]string{`images[0].package "github.com/a/x"`, `images[0].user "0": want uid:gid`}},
		{"named user", []Image{{Name: "x", Package: "./x", User: "nonroot"}}, []string{`images[0].user "nonroot"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.images)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v\nwant it to say %q", err, w)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tc.want) {
				t.Errorf("Validate gave %d problems, want %d: %v", n, len(tc.want), err)
			}
		})
	}
}

func TestTag(t *testing.T) {
	for _, tc := range []struct{ version, want, err string }{
		{"v0.3.0", "v0.3.0", ""},
		{"v0.3.0-4-g53490db-dirty", "v0.3.0-4-g53490db-dirty", ""},
		{"53490db", "53490db", ""},
		{"v1.0.0+meta", "v1.0.0-meta", ""},
		{"", "", "cannot be a tag"},
		{"-x", "", "cannot be a tag"},
		{"v1 2", "", "cannot be a tag"},
		{"a/b", "", "cannot be a tag"},
		{strings.Repeat("a", 129), "", "cannot be a tag"},
	} {
		got, err := Tag(tc.version)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Tag(%q) = %q, %v; want %q, error with %q", tc.version, got, err, tc.want, tc.err)
		}
	}
}

func TestValidateSource(t *testing.T) {
	good := Source{URL: DefaultSourceURL, Version: "v1", Revision: "abc", Time: time.Unix(1, 0)}
	if err := ValidateSource(good); err != nil {
		t.Fatal(err)
	}
	err := ValidateSource(Source{Version: "a b"})
	for _, w := range []string{`version "a b"`, "revision: empty", "time: not set"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("ValidateSource = %v, want it to say %q", err, w)
		}
	}
}

func TestParseEpoch(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1700000000", time.Unix(1700000000, 0).UTC(), true},
		{" 0\n", time.Unix(0, 0).UTC(), true},
		{"-1", time.Time{}, false},
		{"2024-01-01", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, err := ParseEpoch(tc.in)
		if !got.Equal(tc.want) || (err == nil) != tc.ok {
			t.Errorf("ParseEpoch(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParsePlatforms(t *testing.T) {
	got, err := ParsePlatforms([]string{"linux/amd64", "linux/arm64"})
	if err != nil || len(got) != 2 || !got[1].Equals(v1.Platform{OS: "linux", Architecture: "arm64"}) {
		t.Fatalf("ParsePlatforms = %v, %v", got, err)
	}
	_, err = ParsePlatforms([]string{"linux", "linux/arm/v7", "", "linux/amd64", "linux/amd64"})
	for _, w := range []string{`"linux"`, `"linux/arm/v7"`, `""`, `"linux/amd64": given twice`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("ParsePlatforms = %v, want it to name %s", err, w)
		}
	}
}

func TestConfig(t *testing.T) {
	src := Source{URL: DefaultSourceURL, Version: "v0.3.0", Revision: "0123abc", Time: time.Unix(1700000000, 0)}
	ctl, speaker := Default()[0], Default()[1]
	for _, tc := range []struct {
		im       Image
		bundle   []byte
		user, ca string
	}{
		{ctl, []byte("CERTS\n"), "65532:65532", "copied from the build host's /etc/ssl/certs/ca-certificates.crt, sha256 4eb7c26074c094566db916f88503a170d0d39d16c14db862f7f13d5fc2fe6218"},
		{speaker, []byte("CERTS\n"), "0:0", ""},
		{ctl, nil, "65532:65532", CAAbsent},
	} {
		if tc.ca == "" {
			tc.ca = CALabel(tc.bundle)
		}
		c := Config(tc.im, v1.Platform{OS: "linux", Architecture: "arm64"}, src, tc.bundle)
		if c.Config.User != tc.user || c.Config.Entrypoint[0] != "/"+tc.im.Name || c.Architecture != "arm64" || c.OS != "linux" {
			t.Errorf("%s: config user %q entrypoint %q platform %s/%s", tc.im.Name, c.Config.User, c.Config.Entrypoint, c.OS, c.Architecture)
		}
		if !c.Created.Equal(src.Time) {
			t.Errorf("%s: created %v, want the commit time %v", tc.im.Name, c.Created, src.Time)
		}
		want := map[string]string{
			LabelTitle: tc.im.Name, LabelSource: DefaultSourceURL, LabelVersion: "v0.3.0", LabelRevision: "0123abc",
			LabelCreated: "2023-11-14T22:13:20Z", LabelCACertificates: tc.ca,
		}
		for k, v := range want {
			if c.Config.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", tc.im.Name, k, c.Config.Labels[k], v)
			}
		}
	}
}

func TestPushRefs(t *testing.T) {
	for _, tc := range []struct {
		registry, version string
		extra             []string
		want              []string
		err               error
		errText           string
	}{
		{"ghcr.io/ironlb", "v0.3.0", []string{"latest"}, []string{"ghcr.io/ironlb/ironlb-controller:v0.3.0", "ghcr.io/ironlb/ironlb-controller:latest"}, nil, ""},
		{"localhost:5000/", "53490db", nil, []string{"localhost:5000/ironlb-controller:53490db"}, nil, ""},
		{"ghcr.io/ironlb", "v0.3.0-1-gabc-dirty", nil, nil, ErrDirty, ""},
		{"ghcr.io/ironlb", "", nil, nil, nil, "cannot be a tag"},
		{"ghcr.io/IronLB", "v1", nil, nil, nil, `registry "ghcr.io/IronLB"`},
		{"ghcr.io/ironlb", "v1", []string{"bad tag"}, nil, nil, `tag "bad tag"`},
	} {
		refs, err := PushRefs(tc.registry, "ironlb-controller", tc.version, tc.extra)
		var got []string
		for _, r := range refs {
			got = append(got, r.String())
		}
		switch {
		case tc.err != nil && !errors.Is(err, tc.err),
			tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)),
			tc.err == nil && tc.errText == "" && err != nil,
			strings.Join(got, " ") != strings.Join(tc.want, " "):
			t.Errorf("PushRefs(%q, %q, %q) = %q, %v; want %q, error %v %q", tc.registry, tc.version, tc.extra, got, err, tc.want, tc.err, tc.errText)
		}
	}
}
