package strongroom_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The layers of DESIGN.md. Every package of the module must be listed, so
// that a new package has to take a place in the direction of dependencies.
var layers = map[string]string{
	"strongroom": "root",

	"strongroom/internal/yamlconf": "library",
	"strongroom/policies":          "library",

	"strongroom/internal/identity":   "domain",
	"strongroom/internal/access":     "domain",
	"strongroom/internal/objects":    "domain",
	"strongroom/internal/keys":       "domain",
	"strongroom/internal/audit":      "domain",
	"strongroom/internal/governance": "domain",
	"strongroom/internal/compliance": "domain",
	"strongroom/internal/policy":     "domain",
	"strongroom/internal/scan":       "domain",
	"strongroom/internal/blob":       "domain",

	"strongroom/internal/api":     "transport",
	"strongroom/internal/s3api":   "transport",
	"strongroom/internal/console": "transport",
	"strongroom/internal/sftpd":   "transport",

	"strongroom/internal/store/sqlite":    "adapter",
	"strongroom/internal/store/postgres":  "adapter",
	"strongroom/internal/store/storetest": "adapter",
	"strongroom/internal/blob/fs":         "adapter",
	"strongroom/internal/blob/s3":         "adapter",
	"strongroom/internal/blob/blobtest":   "adapter",
	"strongroom/internal/scan/clamd":      "adapter",
	"strongroom/internal/notify":          "adapter",
	"strongroom/internal/ldap":            "adapter",

	"strongroom/internal/config":  "wiring",
	"strongroom/internal/app":     "wiring",
	"strongroom/internal/cli":     "wiring",
	"strongroom/cmd/strongroom":   "wiring",
	"strongroom/bench":            "wiring",
	"strongroom/internal/testenv": "testsupport",
}

// forbidden lists, for each layer, the layers it must not depend on,
// directly or through any other package.
var forbidden = map[string][]string{
	"root":        {"library", "domain", "transport", "adapter", "wiring", "testsupport"},
	"library":     {"domain", "transport", "adapter", "wiring", "testsupport"},
	"domain":      {"transport", "adapter", "wiring", "testsupport"},
	"transport":   {"adapter", "wiring", "testsupport"},
	"adapter":     {"transport", "wiring", "testsupport"},
	"testsupport": {"wiring"},
	"wiring":      {},
}

type listedPackage struct {
	ImportPath string
	Deps       []string
}

// TestDependencyDirection enforces DESIGN.md: domain packages never import a
// transport, an adapter or the composition root; transports never import an
// adapter; only internal/app, internal/cli and cmd import everything.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, problem := range checkLayers(pkgs) {
		t.Error(problem)
	}
}

// TestCheckLayersCatches proves the check fails on the violations it is
// there for.
func TestCheckLayersCatches(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkg  listedPackage
	}{
		{"domain imports adapter", listedPackage{"strongroom/internal/identity", []string{"strongroom/internal/store/sqlite"}}},
		{"domain imports transport", listedPackage{"strongroom/internal/objects", []string{"strongroom/internal/s3api"}}},
		{"domain imports app", listedPackage{"strongroom/internal/audit", []string{"strongroom/internal/app"}}},
		{"transport imports adapter", listedPackage{"strongroom/internal/api", []string{"strongroom/internal/blob/fs"}}},
		{"root imports domain", listedPackage{"strongroom", []string{"strongroom/internal/policy"}}},
		{"unlisted package", listedPackage{"strongroom/internal/newthing", nil}},
		{"unlisted dependency", listedPackage{"strongroom/internal/identity", []string{"strongroom/internal/helpers"}}},
	} {
		if got := checkLayers([]listedPackage{tc.pkg}); len(got) == 0 {
			t.Errorf("%s: checkLayers(%v) found nothing", tc.name, tc.pkg)
		}
	}
	ok := listedPackage{"strongroom/internal/app", []string{"strongroom/internal/store/sqlite", "strongroom/internal/api", "net/http"}}
	if got := checkLayers([]listedPackage{ok}); len(got) != 0 {
		t.Errorf("checkLayers(app) = %v, want nothing", got)
	}
}

func checkLayers(pkgs []listedPackage) []string {
	var problems []string
	for _, p := range pkgs {
		layer, ok := layers[p.ImportPath]
		if !ok {
			problems = append(problems, fmt.Sprintf("package %s has no layer: add it to the table in deps_test.go (root, library, domain, transport, adapter, wiring)", p.ImportPath))
			continue
		}
		for _, dep := range p.Deps {
			depLayer, ours := layers[dep]
			if !ours {
				if strings.HasPrefix(dep, "strongroom/") {
					problems = append(problems, fmt.Sprintf("%s imports %s, which has no layer", p.ImportPath, dep))
				}
				continue
			}
			for _, f := range forbidden[layer] {
				if depLayer == f {
					problems = append(problems, fmt.Sprintf("%s (%s) depends on %s (%s): DESIGN.md forbids %s -> %s", p.ImportPath, layer, dep, depLayer, layer, f))
				}
			}
		}
	}
	return problems
}
