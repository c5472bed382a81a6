package report

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
)

// split cuts the fixture into two parts by tenant, as scan --shard does.
func split(t *testing.T) (whole *Report, parts []Part) {
	t.Helper()
	whole = fixture()
	// A scan's results are in canonical order (the policy engine sorts them).
	sort.SliceStable(whole.Results, func(i, j int) bool {
		a, b := whole.Results[i], whole.Results[j]
		if a.EnvironmentName != b.EnvironmentName {
			return a.EnvironmentName < b.EnvironmentName
		}
		return a.RuleID < b.RuleID
	})
	whole.Warnings = []string{
		`waiver for W365.BIND.1 in "Prod" (audit.yaml:20) expired on 2026-10-31 and no longer applies: renew it with a new date or fix the failure`,
		`waiver for W365.ROLES.3 in "Sandbox" (audit.yaml:12) matches no failing result: remove it if the exception is over, or correct its rule or environment`,
		"waiver at audit.yaml:30 names rule W365.NOPE.1, which is not in the catalog (see audit policies list)",
	}
	a, b := *whole, *whole
	a.Shard, b.Shard = &Shard{Index: 1, Count: 2}, &Shard{Index: 2, Count: 2}
	a.Tenants, b.Tenants = whole.Tenants[:1], whole.Tenants[1:]
	b.Environments, b.Results = []Environment{}, []policy.Result{}
	// Part 1 holds the environments: the expired waiver applies there; the unused one in neither part. Part
	// 2 sees no failure at all, so it finds every waiver unused.
	a.Warnings = []string{whole.Warnings[0], whole.Warnings[1], whole.Warnings[2]}
	b.Warnings = []string{
		`waiver for W365.BIND.1 in "Prod" (audit.yaml:20) matches no failing result: remove it if the exception is over, or correct its rule or environment`,
		whole.Warnings[1],
		`waiver for W365.ROLES.1 in "*" (audit.yaml:25) matches no failing result: remove it if the exception is over, or correct its rule or environment`,
		whole.Warnings[2],
	}
	a.Summary, b.Summary = summarize(&a, a.FailOn), summarize(&b, b.FailOn)
	b.CollectedAt = whole.CollectedAt.Add(time.Second)
	return whole, []Part{{Name: "b.json", Report: &b}, {Name: "a.json", Report: &a}}
}

func TestMergeGivesTheWholeScansReport(t *testing.T) {
	t.Parallel()
	whole, parts := split(t)
	got, err := Merge(parts, whole.GeneratedAt)
	require.NoError(t, err)
	assert.Equal(t, render(t, "json", whole, Options{}), render(t, "json", got, Options{}))
	assert.Nil(t, got.Shard)
}

func TestMergeRefusesPartsThatDoNotMakeOneScan(t *testing.T) {
	t.Parallel()
	mk := func(f func(parts []Part) []Part) []Part {
		_, parts := split(t)
		return f(parts)
	}
	cases := map[string]struct {
		parts []Part
		want  string
	}{
		"missing part": {mk(func(p []Part) []Part { return p[:1] }), "part 1/2 of the sharded scan is missing"},
		"twice":        {mk(func(p []Part) []Part { return []Part{p[0], {Name: "c.json", Report: p[0].Report}} }), "part 2/2 is given twice: b.json and c.json"},
		"not a part": {mk(func(p []Part) []Part {
			p[1].Report.Shard = nil
			return p
		}), "a.json is not the report of a part of a sharded scan"},
		"other split": {mk(func(p []Part) []Part {
			p[1].Report.Shard = &Shard{Index: 1, Count: 3}
			return p
		}), "a.json is part 1/3, but b.json is part of a scan split in 2"},
		"other policies": {mk(func(p []Part) []Part {
			p[1].Report.Policy.Digest = "sha256:00"
			return p
		}), "different policy bundles"},
		"other threshold": {mk(func(p []Part) []Part {
			p[1].Report.FailOn = "low"
			return p
		}), "--fail-on low"},
		"tenant twice": {mk(func(p []Part) []Part {
			p[0].Report.Tenants = p[1].Report.Tenants
			return p
		}), "tenant contoso is in b.json and in a.json"},
		"fix run": {mk(func(p []Part) []Part {
			p[1].Report.Fix = &Fix{Mode: "apply"}
			return p
		}), "a.json is the report of a fix run"},
		"nothing": {nil, "no report to merge"},
	}
	for name, tc := range cases {
		_, err := Merge(tc.parts, time.Now())
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), tc.want, name)
		}
	}
}
