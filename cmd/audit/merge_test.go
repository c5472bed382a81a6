package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/report"
)

var allFormats = strings.Join(report.Names(), ",")

// Sharded scans cover every environment in exactly one part, and merging the parts' JSON reports gives the
// unsharded scan's reports byte for byte, in every format, with the same exit code: summary, tenant errors,
// GOV.1 and the warnings of waivers that one part used and another did not included.
func TestShardsCoverEveryEnvironmentOnceAndMergeEqualsTheUnshardedScan(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	demo := mustRead(t, "../../testdata/tenants/demo-config.yaml")
	appendConfig(t, h, demo[strings.Index(demo, "waivers:"):])
	h.g.termWidth = 100

	whole := filepath.Join(h.dir, "whole")
	wantCode := h.run("scan", "--config", h.cfgPath, "--format", allFormats, "--output", whole)
	require.Equal(t, exitUnaudited, wantCode, h.stderr.String())
	wantTable := h.stdout.String()
	wholeRep := readReport(t, whole)
	var all []string
	for _, e := range wholeRep.Environments {
		all = append(all, e.ID)
	}
	sort.Strings(all)
	require.NotEmpty(t, wholeRep.Warnings, "the demo waivers give warnings that depend on the environments a part sees")

	for _, n := range []int{2, 3, 5} {
		t.Run(fmt.Sprintf("%d parts", n), func(t *testing.T) {
			var parts, covered []string
			for i := 1; i <= n; i++ {
				dir := filepath.Join(h.dir, fmt.Sprintf("shard-%d-of-%d", i, n))
				h.run("scan", "--config", h.cfgPath, "--shard", fmt.Sprintf("%d/%d", i, n), "--format", "json", "--output", dir, "--quiet")
				rep := readReport(t, dir)
				require.NotNil(t, rep.Shard)
				assert.Equal(t, report.Shard{Index: i, Count: n}, *rep.Shard)
				for _, e := range rep.Environments {
					covered = append(covered, e.ID)
				}
				parts = append(parts, filepath.Join(dir, "report.json"))
			}
			sort.Strings(covered)
			assert.Equal(t, all, covered, "every environment in exactly one part")

			merged := filepath.Join(h.dir, fmt.Sprintf("merged-%d", n))
			// The parts in any order.
			args := append([]string{"merge", "--config", h.cfgPath, "--format", allFormats, "--output", merged}, parts[1:]...)
			code := h.run(append(args, parts[0])...)
			assert.Equal(t, wantCode, code, h.stderr.String())
			assert.Equal(t, wantTable, h.stdout.String())
			for _, ext := range []string{"json", "html", "sarif", "xml", "csv", "md"} {
				want, err := os.ReadFile(filepath.Join(whole, "report."+ext))
				require.NoError(t, err)
				got, err := os.ReadFile(filepath.Join(merged, "report."+ext))
				require.NoError(t, err)
				if string(want) != string(got) {
					t.Errorf("merged report.%s differs from the unsharded scan's:\n%s", ext, firstDifference(string(want), string(got)))
				}
			}
		})
	}
}

func TestMergeRefusesAnIncompleteSetOfParts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	one := filepath.Join(h.dir, "one")
	h.run("scan", "--config", h.cfgPath, "--shard", "1/2", "--format", "json", "--output", one, "--quiet")
	assert.Equal(t, exitUsage, h.run("merge", filepath.Join(one, "report.json")))
	assert.Contains(t, h.stderr.String(), "merge: part 2/2 of the sharded scan is missing: merge needs the reports of all 2 parts")

	whole := filepath.Join(h.dir, "whole")
	h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", whole, "--quiet")
	assert.Equal(t, exitUsage, h.run("merge", filepath.Join(whole, "report.json")))
	assert.Contains(t, h.stderr.String(), "is not the report of a part of a sharded scan")

	require.NoError(t, os.WriteFile(filepath.Join(h.dir, "junk.json"), []byte(`{"hello": 1}`), 0o600))
	assert.Equal(t, exitUsage, h.run("merge", filepath.Join(h.dir, "junk.json")))
	assert.Contains(t, h.stderr.String(), "is not a JSON report of audit scan")
}
