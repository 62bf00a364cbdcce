// Package docs_test checks that what the Markdown pages name exists: the files and directories
// they point at, the make targets they tell a reader to run, and the files their command lines
// apply. A page that sends a reader to something that is not there fails here, not in front of
// the reader.
package docs_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository (this file is in docs/).
const root = ".."

var (
	link      = regexp.MustCompile(`\]\(([^)#\s]+)(?:#[^)]*)?\)`)
	code      = regexp.MustCompile("`([^`\n]+)`")
	fence     = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	makeCall  = regexp.MustCompile(`(?:^|[\s;&|(])make\s+((?:[A-Z_]+=\S+\s+)*)([a-z][a-z0-9-]*)`)
	applyFile = regexp.MustCompile(`(?:kubectl|ironlab kubectl --?)\s.*?(?:apply|create|delete)\s+(?:.*\s)?-f\s+(\S+)`)
	// A path into the repository: a top-level directory of it, then more.
	repoPath = regexp.MustCompile(`^(?:\./)?(?:impl|lab|cmd|docs|scenarios|topologies|charts|examples|hack|\.ci|\.github)/[A-Za-z0-9_./-]*$`)
)

func pages(t *testing.T) []string {
	ps, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append(ps, filepath.Join(root, "README.md"))
}

func makeTargets(t *testing.T) map[string]bool {
	f, err := os.Open(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	target := regexp.MustCompile(`^([a-z][a-z0-9-]*)\s*:`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := target.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
	return err == nil
}

// existsOrSymbol is exists, or a Go symbol of a package that exists (lab/install.Lookup).
func existsOrSymbol(p string) bool {
	if exists(p) {
		return true
	}
	dir, last := filepath.Split(p)
	pkg, _, ok := strings.Cut(last, ".")
	if !ok || pkg == "" {
		return false
	}
	st, err := os.Stat(filepath.Join(root, filepath.FromSlash(dir+pkg)))
	return err == nil && st.IsDir()
}

// commands is the text a reader runs: code spans and fenced blocks.
func commands(page string) []string {
	var out []string
	for _, m := range fence.FindAllStringSubmatch(page, -1) {
		out = append(out, strings.Split(m[1], "\n")...)
	}
	for _, m := range code.FindAllStringSubmatch(fence.ReplaceAllString(page, ""), -1) {
		out = append(out, m[1])
	}
	return out
}

// produced are paths the docs name that a command makes (reports, caches), not files of the
// repository.
func produced(p string) bool {
	for _, pre := range []string{"/tmp/", "bin/", "ironlab-report", "soak-report", "conformance-report", ".ironlab/", "lab/controlplane/build/kubernetes/_"} {
		if strings.HasPrefix(strings.TrimPrefix(p, "./"), pre) {
			return true
		}
	}
	return strings.ContainsAny(p, "*{}<>$") || strings.Contains(p, "NAME") || strings.Contains(p, "...")
}

func TestNamedPathsExist(t *testing.T) {
	for _, page := range pages(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, page)
		dir := filepath.Dir(rel)
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if !exists(filepath.ToSlash(filepath.Join(dir, target))) {
				t.Errorf("%s links to %s, which does not exist", rel, target)
			}
		}
		for _, m := range code.FindAllStringSubmatch(string(b), -1) {
			p := strings.TrimSuffix(m[1], ":")
			if !repoPath.MatchString(p) || produced(p) {
				continue
			}
			if !existsOrSymbol(p) {
				t.Errorf("%s names %s, which does not exist", rel, p)
			}
		}
	}
}

func TestMakeTargetsExist(t *testing.T) {
	targets := makeTargets(t)
	for _, page := range pages(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, page)
		for _, c := range commands(string(b)) {
			for _, m := range makeCall.FindAllStringSubmatch(c, -1) {
				if !targets[m[2]] {
					t.Errorf("%s tells the reader to run `make %s`, which the Makefile does not have (targets: %s)", rel, m[2], strings.Join(slices.Sorted(keys(targets)), ", "))
				}
			}
		}
	}
}

// The files command lines apply are in the repository (relative to its root, where the pages'
// commands run).
func TestAppliedFilesExist(t *testing.T) {
	for _, page := range pages(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, page)
		for _, line := range commands(string(b)) {
			m := applyFile.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			f := strings.Trim(m[1], "`'\"")
			if f == "-" || strings.Contains(f, "://") || produced(f) {
				continue
			}
			if !exists(f) {
				t.Errorf("%s applies %s, which does not exist (commands run from the repository's root): %s", rel, f, strings.TrimSpace(line))
			}
		}
	}
}

func keys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
