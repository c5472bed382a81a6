package policy

import (
	"context"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/snapshot"
	"github.com/work365/audit/policies"
)

const (
	usApp = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"
	euApp = "5e56ae97-9be1-40d3-938b-99ea52175a30"
)

func load(t *testing.T, opts Options) *Engine {
	t.Helper()
	e, err := Load(context.Background(), opts)
	require.NoError(t, err)
	return e
}

// The catalog is a public contract: exactly the spec's rule IDs, each with its severity.
func TestCatalogIsTheSpecsRuleCatalog(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"W365.INSTALL.1": "high", "W365.APPUSER.1": "critical", "W365.APPUSER.2": "high", "W365.APPUSER.3": "critical",
		"W365.ROLES.1": "critical", "W365.ROLES.2": "high", "W365.ROLES.3": "medium",
		"W365.SERVICE.1": "critical", "W365.SERVICE.2": "high", "W365.SERVICE.3": "critical",
		"W365.JOBS.1": "high", "W365.BIND.1": "medium", "W365.BIND.2": "medium", "W365.LEGACY.1": "medium", "W365.GOV.1": "low",
	}
	got := map[string]string{}
	for _, r := range load(t, Options{}).Rules() {
		got[r.ID] = r.Severity
		assert.NotEmpty(t, r.Title, r.ID)
		assert.NotEmpty(t, r.Description, r.ID)
		assert.NotEmpty(t, r.Remediation, r.ID)
		assert.NotEmpty(t, r.Guide, r.ID)
		assert.Equal(t, "embedded", r.Source, r.ID)
	}
	assert.Equal(t, want, got)
}

// Every rule package has a test package beside it with at least one passing and one failing case.
func TestEveryRuleHasPassAndFailTests(t *testing.T) {
	t.Parallel()
	tests := map[string]string{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "_test.rego") {
			b, _ := fs.ReadFile(policies.FS, p)
			tests[path.Dir(p)] += string(b)
		}
		return err
	})
	require.NoError(t, err)
	for _, r := range load(t, Options{}).Rules() {
		dir := path.Dir(strings.TrimPrefix(r.File, "policies/"))
		src := tests[dir]
		assert.Contains(t, src, "test_pass", "%s (%s) needs a passing test", r.ID, dir)
		assert.Contains(t, src, "test_fail", "%s (%s) needs a failing test", r.ID, dir)
	}
}

func TestRegoTestsPassWithFullCoverage(t *testing.T) {
	t.Parallel()
	rep, err := Test(context.Background(), nil)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Results)
	for _, r := range rep.Results {
		assert.True(t, r.Pass, "%s.%s: %s", r.Package, r.Name, r.Error)
	}
	assert.GreaterOrEqual(t, rep.Coverage, 95.0)
}

func TestCustomPolicyDirectories(t *testing.T) {
	t.Parallel()
	e := load(t, Options{Dirs: []string{"testdata/custom/good"}})
	r, ok := e.Rule("ACME.NAMING.1")
	require.True(t, ok)
	assert.Equal(t, "testdata/custom/good", r.Source)
	assert.Equal(t, "low", r.Severity)
	assert.Len(t, e.Rules(), 16)

	rep, err := Test(context.Background(), []string{"testdata/custom/good"})
	require.NoError(t, err)
	found := false
	for _, tr := range rep.Results {
		if tr.Package == "acme.naming_test" {
			found = true
			assert.True(t, tr.Pass, tr.Error)
		}
	}
	assert.True(t, found, "the custom policy's own test ran")

	broken := map[string]string{
		"nosev": "testdata/custom/nosev/acme/bad/bad.rego: rule ACME.BAD.1 has no custom.severity",
		"dup":   "testdata/custom/dup/acme/dup/dup.rego: rule id W365.ROLES.1 is already defined in policies/w365/roles/service/service.rego",
		"noid":  "testdata/custom/noid/acme/noid/noid.rego: package acme.noid defines deny but has no METADATA custom.id",
	}
	for dir, want := range broken {
		_, err := Load(context.Background(), Options{Dirs: []string{"testdata/custom/" + dir}})
		require.Error(t, err, dir)
		assert.Contains(t, err.Error(), want)
	}
	_, err = Load(context.Background(), Options{Dirs: []string{"testdata/no-such-dir"}})
	require.Error(t, err)
}

// compliantEnv is an environment that passes every environment-scoped rule.
func compliantEnv(id, name, typ string) snapshot.Environment {
	app := snapshot.User{ID: id + "-app", FullName: "# Work 365", ApplicationID: usApp, AccessMode: 4,
		BusinessUnit: &snapshot.BusinessUnit{ID: id + "-bu", Name: "root"},
		Roles:        []snapshot.Role{{ID: "r1", Name: "Work 365 Service", BusinessUnitID: id + "-bu"}, {ID: "r2", Name: "Work 365 Portal Service", BusinessUnitID: id + "-bu"}}}
	return snapshot.Environment{
		ID: id, Name: name, Type: typ, Region: "unitedstates", HasDataverse: true, Status: snapshot.StatusOK,
		Dataverse: &snapshot.Dataverse{
			RootBusinessUnit: &snapshot.BusinessUnit{ID: id + "-bu", Name: "root"},
			Work365:          snapshot.Solution{Installed: true, UniqueName: "Work365", Version: "3.6.0.0"},
			ApplicationUsers: []snapshot.User{app},
			ServiceUser:      snapshot.ServiceUser{Configured: true, UserID: app.ID, User: &app},
			FailedJobs:       snapshot.FailedJobs{LookbackDays: 7, Recent: []snapshot.Job{}},
		},
	}
}

func statuses(rs []Result) map[string]Status {
	out := map[string]Status{}
	for _, r := range rs {
		out[r.EnvironmentName+"/"+r.RuleID] = r.Status
	}
	return out
}

func TestEvaluateGivesOneResultPerEnvironmentAndRule(t *testing.T) {
	t.Parallel()
	e := load(t, Options{})
	broken := compliantEnv("e3", "Broken", "Production")
	broken.Dataverse.ApplicationUsers[0].Roles = broken.Dataverse.ApplicationUsers[0].Roles[:1]
	broken.Dataverse.ServiceUser.User = &broken.Dataverse.ApplicationUsers[0]
	snap := &snapshot.Snapshot{SchemaVersion: 1, CollectedAt: time.Now(), Tenants: []snapshot.Tenant{{
		Name: "t", ID: "tid", Environments: []snapshot.Environment{
			compliantEnv("e1", "Prod", "Production"),
			compliantEnv("e2", "Sandbox", "Sandbox"),
			broken,
			{ID: "e4", Name: "Unread", Type: "Production", HasDataverse: true, Status: snapshot.StatusError,
				Error: &snapshot.Error{Stage: "systemusers", Message: "HTTP 403"}},
			{ID: "e5", Name: "Default", Type: "Default", Status: snapshot.StatusSkipped, SkipReason: "the environment has no Dataverse database"},
		},
	}}}
	rs, err := e.Evaluate(context.Background(), snap, nil)
	require.NoError(t, err)
	assert.Len(t, rs, 5*15)
	st := statuses(rs)
	for _, r := range e.Rules() {
		assert.Equal(t, StatusPass, st["Prod/"+r.ID], r.ID)
		assert.Equal(t, StatusError, st["Unread/"+r.ID], "an environment that could not be read is never a pass: %s", r.ID)
		assert.Equal(t, StatusNotApplicable, st["Default/"+r.ID], r.ID)
	}
	assert.Equal(t, StatusFail, st["Broken/W365.ROLES.2"])
	assert.Equal(t, StatusNotApplicable, st["Sandbox/W365.GOV.1"])

	var roles2 Result
	for _, r := range rs {
		if r.EnvironmentName == "Broken" && r.RuleID == "W365.ROLES.2" {
			roles2 = r
		}
	}
	assert.Equal(t, "high", roles2.Severity)
	assert.Contains(t, roles2.Message, "Work 365 Portal Service")
	require.NotNil(t, roles2.Remediation)
	assert.Equal(t, []map[string]any{{"action": "assign_role", "app_id": usApp, "role": "Work 365 Portal Service"}}, roles2.Remediation.Actions)

	// Results are in a stable order: environment name, then rule ID.
	sorted := sort.SliceIsSorted(rs, func(i, j int) bool {
		if rs[i].EnvironmentName != rs[j].EnvironmentName {
			return rs[i].EnvironmentName < rs[j].EnvironmentName
		}
		return rs[i].RuleID < rs[j].RuleID
	})
	assert.True(t, sorted)
}

func TestTenantRulesSeeTheFirstPhaseAfterAdjustment(t *testing.T) {
	t.Parallel()
	e := load(t, Options{})
	sandbox := compliantEnv("e2", "Sandbox", "Sandbox")
	sandbox.Dataverse.ApplicationUsers[0].Disabled = true // APPUSER.3 (critical) fails
	sandbox.Dataverse.ServiceUser.User = &sandbox.Dataverse.ApplicationUsers[0]
	snap := &snapshot.Snapshot{SchemaVersion: 1, Tenants: []snapshot.Tenant{{Name: "t", Environments: []snapshot.Environment{
		compliantEnv("e1", "Prod", "Production"), sandbox}}}}
	rs, err := e.Evaluate(context.Background(), snap, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusFail, statuses(rs)["Prod/W365.GOV.1"])

	// A waiver (an adjustment of the first phase) on the sandbox's critical failures lets it qualify.
	rs, err = e.Evaluate(context.Background(), snap, func(first []Result) {
		for i := range first {
			if first[i].EnvironmentName == "Sandbox" && first[i].Status == StatusFail {
				first[i].Status = StatusWaived
			}
		}
	})
	require.NoError(t, err)
	assert.Equal(t, StatusPass, statuses(rs)["Prod/W365.GOV.1"])
}

func TestPolicyDataOverridesExtendTheRegionMap(t *testing.T) {
	t.Parallel()
	uk := compliantEnv("e1", "UK", "Production")
	uk.Region = "unitedkingdom"
	snap := &snapshot.Snapshot{SchemaVersion: 1, Tenants: []snapshot.Tenant{{Name: "t", Environments: []snapshot.Environment{uk}}}}

	rs, err := load(t, Options{}).Evaluate(context.Background(), snap, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusNotApplicable, statuses(rs)["UK/W365.APPUSER.2"], "an unmapped region has no expected App ID")

	e := load(t, Options{Data: map[string]any{"regions": map[string]any{"unitedkingdom": "EU"}}})
	assert.Equal(t, "EU", e.Config()["regions"].(map[string]any)["unitedkingdom"])
	assert.Equal(t, "US", e.Config()["regions"].(map[string]any)["unitedstates"], "overrides merge, they do not replace")
	rs, err = e.Evaluate(context.Background(), snap, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusFail, statuses(rs)["UK/W365.APPUSER.2"], "a UK environment now expects the EU App ID")
	assert.NotEqual(t, load(t, Options{}).Digest(), "", "the bundle has a digest")
}

// Tenant-scoped rules run once per tenant and decide for each of its environments.
func TestTenantRulesDecideForEachEnvironmentOfTheTenant(t *testing.T) {
	t.Parallel()
	e := load(t, Options{})
	unread := snapshot.Environment{ID: "e4", Name: "Unread", Type: "Production", HasDataverse: true, Status: snapshot.StatusError,
		Error: &snapshot.Error{Stage: "solutions", Message: "HTTP 403"}}
	snap := &snapshot.Snapshot{SchemaVersion: 1, Tenants: []snapshot.Tenant{
		{Name: "a", Environments: []snapshot.Environment{compliantEnv("e1", "Prod 1", "Production"), compliantEnv("e2", "Prod 2", "Production"),
			compliantEnv("e3", "Trial", "Trial"), unread}},
		{Name: "b", Environments: []snapshot.Environment{compliantEnv("e5", "Prod B", "Production"), compliantEnv("e6", "Sandbox B", "Sandbox")}},
	}}
	rs, err := e.Evaluate(context.Background(), snap, nil)
	require.NoError(t, err)
	st := statuses(rs)
	assert.Equal(t, StatusFail, st["Prod 1/W365.GOV.1"], "tenant a has no sandbox")
	assert.Equal(t, StatusFail, st["Prod 2/W365.GOV.1"])
	assert.Equal(t, StatusNotApplicable, st["Trial/W365.GOV.1"])
	assert.Equal(t, StatusError, st["Unread/W365.GOV.1"])
	assert.Equal(t, StatusPass, st["Prod B/W365.GOV.1"], "tenant b's sandbox passes")
	assert.Equal(t, StatusNotApplicable, st["Sandbox B/W365.GOV.1"])
	for _, r := range rs {
		if r.EnvironmentName == "Prod 2" && r.RuleID == "W365.GOV.1" {
			assert.Contains(t, r.Message, `Tenant "a" runs Work 365 in production but has no sandbox environment`)
			assert.NotContains(t, r.Evidence, "environment_id")
			require.NotNil(t, r.Remediation)
			assert.Contains(t, r.Remediation.Actions[0]["steps"].([]any)[0], `or copy "Prod 2" into one`)
		}
	}
}

func TestRulesWithoutASetOfDecisionsAreReported(t *testing.T) {
	t.Parallel()
	snap := &snapshot.Snapshot{SchemaVersion: snapshot.SchemaVersion, Tenants: []snapshot.Tenant{{Name: "t", Environments: []snapshot.Environment{compliantEnv("e1", "Prod", "Production")}}}}

	e := load(t, Options{Dirs: []string{"testdata/custom/odd"}})
	results, err := e.Evaluate(context.Background(), snap, nil)
	require.NoError(t, err)
	var found bool
	for _, r := range results {
		if r.RuleID == "ACME.UNDECIDED.1" {
			found = true
			assert.Equal(t, StatusError, r.Status)
			assert.Contains(t, r.Message, "the rule produced no decision")
		} else {
			assert.NotEqual(t, StatusError, r.Status, r.RuleID)
		}
	}
	assert.True(t, found)

	e = load(t, Options{Dirs: []string{"testdata/custom/notaset"}})
	_, err = e.Evaluate(context.Background(), snap, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ACME.NOTASET.1: deny is a string, not a set")
}

// A custom rule that reports both not_applicable and deny for one environment gets not_applicable, with its
// reasons, as docs/policy-contract.md §3 and §4.2 say; deny alone gives fail, and an environment that could not
// be read is error whatever the rule says. This holds for environment- and tenant-scoped rules, and on both of
// the engine's ways of evaluating an environment (all rules in one query, and rule by rule once a rule has no
// decision).
func TestNotApplicableWinsOverDenyInCustomRules(t *testing.T) {
	t.Parallel()
	unread := compliantEnv("e3", "Retired Unread", "Production")
	unread.Status, unread.Dataverse = snapshot.StatusError, nil
	unread.Error = &snapshot.Error{Stage: "systemusers", Message: "HTTP 403"}
	snap := &snapshot.Snapshot{SchemaVersion: snapshot.SchemaVersion, Tenants: []snapshot.Tenant{{Name: "t", Environments: []snapshot.Environment{
		compliantEnv("e1", "Prod", "Production"), compliantEnv("e2", "Retired Prod", "Production"), unread}}}}
	for _, tc := range []struct {
		name string
		dirs []string
	}{
		{"every rule decides", []string{"testdata/custom/both"}},
		{"another rule has no decision", []string{"testdata/custom/both", "testdata/custom/odd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := load(t, Options{Dirs: tc.dirs})
			results, err := e.Evaluate(context.Background(), snap, nil)
			require.NoError(t, err)
			got := map[string]Result{}
			for _, r := range results {
				if strings.HasPrefix(r.RuleID, "ACME.BOTH.") {
					got[r.EnvironmentName+"/"+r.RuleID] = r
				}
			}
			require.Len(t, got, 6)
			for _, id := range []string{"ACME.BOTH.1", "ACME.BOTH.2"} {
				retired := got["Retired Prod/"+id]
				assert.Equal(t, StatusNotApplicable, retired.Status, id)
				assert.Equal(t, "Acme does not audit retired environments.", retired.Message, id)
				assert.Nil(t, retired.Evidence, id)
				assert.Nil(t, retired.Remediation, id)

				prod := got["Prod/"+id]
				assert.Equal(t, StatusFail, prod.Status, id)
				assert.Equal(t, "Acme denies Prod.", prod.Message, id)
				assert.Equal(t, map[string]any{"name": "Prod"}, prod.Evidence, id)

				assert.Equal(t, StatusError, got["Retired Unread/"+id].Status, id)
			}
		})
	}
}
