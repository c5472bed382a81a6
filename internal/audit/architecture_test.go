package audit

import (
	"go/build"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/work365/audit/"

// layers are the package dependency rules of docs/architecture.md: a package imports only packages of a lower
// layer (never its own, never a higher one), so the pipeline has no back-edges. A new package is added here
// and to the document.
var layers = map[string]int{
	"policies": 0, "internal/snapshot": 0, "internal/termtext": 0, "internal/glob": 0, "internal/cloud": 0,
	"internal/filelock": 0, "internal/schedule": 0, "internal/api": 0, "internal/emulator": 0, "testdata/tenants": 0,
	"internal/config": 1, "internal/auth": 1, "internal/collect": 1, "internal/policy": 1,
	"internal/report": 2, "internal/fix": 2,
	"internal/drift": 3, "internal/notify": 3, "internal/doctor": 3, "internal/progress": 3, "internal/demo": 3, "internal/bench": 3,
	"internal/metrics": 3,
	"internal/history": 4, "internal/historyreport": 4,
	"internal/audit": 5,
	"cmd/audit":      6, "cmd/audit-bench": 6,
}

// imports lists the module's own packages a package directory imports (test files left out).
func imports(t *testing.T, dir string) []string {
	t.Helper()
	pkg, err := build.ImportDir(dir, 0)
	require.NoError(t, err, dir)
	var out []string
	for _, imp := range pkg.Imports {
		if p, ok := strings.CutPrefix(imp, module); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func TestPackagesImportOnlyLowerLayers(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	var dirs []string
	for _, top := range []string{"cmd", "internal"} {
		entries, err := os.ReadDir(filepath.Join(root, top))
		require.NoError(t, err)
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, top+"/"+e.Name())
			}
		}
	}
	dirs = append(dirs, "policies", "testdata/tenants")
	for _, d := range dirs {
		layer, ok := layers[d]
		if !assert.True(t, ok, "%s is not placed in a layer: add it to docs/architecture.md and to this test", d) {
			continue
		}
		for _, imp := range imports(t, filepath.Join(root, d)) {
			assert.Less(t, layers[imp], layer, "%s (layer %d) imports %s (layer %d): a back-edge or a sideways edge", d, layer, imp, layers[imp])
		}
	}
	// The emulator is a second reading of Microsoft's documentation: it imports nothing of ours.
	assert.Empty(t, imports(t, filepath.Join(root, "internal", "emulator")))
}
