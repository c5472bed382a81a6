package report

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// update rewrites the golden files of the fixed report instead of comparing with them.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// The fixed report (fixture: every status, waivers, every kind of action, an unreadable environment and
// tenant, hostile names) rendered in every format is compared with testdata/golden/fixture.<ext>: a change of
// any format shows as a diff to review, and is accepted with go test ./internal/report -update.
func TestEveryFormatOfTheFixedReportMatchesItsGoldenFile(t *testing.T) {
	t.Parallel()
	r := fixture()
	for _, name := range Names() {
		f, err := Lookup(name)
		require.NoError(t, err)
		got := render(t, name, r, Options{Width: 100, Source: &SourceFile{URI: "audit.yaml", Lines: map[string]int{"contoso": 3}}})
		golden := filepath.Join("testdata", "golden", "fixture."+f.Ext)
		switch {
		case name == Terminal:
			golden = filepath.Join("testdata", "golden", "fixture.txt")
		case f.File != "":
			golden = filepath.Join("testdata", "golden", "fixture-"+f.File)
		}
		if *update {
			require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
			require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			continue
		}
		want, err := os.ReadFile(golden)
		require.NoError(t, err, "refresh with go test ./internal/report -run TestEveryFormatOfTheFixedReportMatchesItsGoldenFile -update")
		if got != string(want) {
			t.Errorf("%s differs from %s (review the change and refresh it with -update):\n%s", name, golden, firstLineDiff(string(want), got))
		}
	}
}

func firstLineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return "(no difference by line)"
}
