package images

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
)

// StampFile, in the output directory, holds the key of the build that wrote it.
const StampFile = ".build-key"

// BuildKey is what the outputs of a build from a clean commit depend on: the source (its
// revision names every file), the images, platforms and repository, the CA bundle and the Go
// toolchain with its settings (toolchain). A build from a tree with changes has no key: its
// files are not named by the revision.
func BuildKey(o BuildOptions, ca []byte, toolchain string) string {
	sum := sha256.Sum256(ca)
	b, _ := json.Marshal(struct {
		Source    Source
		Repo      string
		Images    []Image
		Platforms []string
		CA        string
		Toolchain string
	}{o.Source, o.Repo, o.Images, platformNames(o), hex.EncodeToString(sum[:]), toolchain})
	key := sha256.Sum256(b)
	return hex.EncodeToString(key[:])
}

func platformNames(o BuildOptions) []string {
	var out []string
	for _, p := range o.Platforms {
		out = append(out, p.String())
	}
	return out
}

// UpToDate reports whether OutDir holds every image's layout and archive from the build of key.
// It checks that the files are there, not what is in them: a stamp is written only after a build
// has written them all (and removed before one starts), so an edit by hand goes unseen; -force
// (or removing the output directory) builds them again.
func UpToDate(o BuildOptions, key string) bool {
	old, err := os.ReadFile(filepath.Join(o.OutDir, StampFile))
	if err != nil || string(old) != key+"\n" {
		return false
	}
	for _, im := range o.Images {
		for _, p := range []string{filepath.Join(o.OutDir, im.Name, "index.json"), filepath.Join(o.OutDir, im.Name+".tar")} {
			if _, err := os.Stat(p); err != nil {
				return false
			}
		}
	}
	return true
}

// WriteStamp records that OutDir holds the build of key; key "" removes the record (a build
// from a tree with changes).
func WriteStamp(o BuildOptions, key string) error {
	p := filepath.Join(o.OutDir, StampFile)
	if key == "" {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	return os.WriteFile(p, []byte(key+"\n"), 0o644)
}
