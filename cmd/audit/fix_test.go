package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

var (
	northwind = "../../testdata/tenants/fix-northwind.yaml"
	tailspin  = "../../testdata/tenants/fix-tailspin.yaml"
)

func init() {
	// Tests take the per-tenant fix locks in their own directory.
	dir, err := os.MkdirTemp("", "audit-locks-")
	if err == nil {
		fix.LockDir = dir
	}
}

// journalWrites reads the writes journaled in a file (all runs), as "METHOD path" per environment ID.
func journalWrites(t *testing.T, path string) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var r fix.Record
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		if r.Phase == fix.PhaseIntent {
			out[r.EnvironmentID] = append(out[r.EnvironmentID], r.Method+" "+r.Path)
		}
	}
	return out
}

// emulatorWrites lists the writes an emulator received, per environment ID, in the same form.
func emulatorWrites(srvs ...*emulator.Server) map[string][]string {
	out := map[string][]string{}
	for _, srv := range srvs {
		for _, w := range srv.Writes() {
			p := w.Path[strings.Index(w.Path, "/api/data/v9.2/")+len("/api/data/v9.2/"):]
			out[w.EnvironmentID] = append(out[w.EnvironmentID], w.Method+" "+p)
		}
	}
	return out
}

func byName(rep *report.Report) map[string]map[string]policy.Status {
	out := map[string]map[string]policy.Status{}
	for _, r := range rep.Results {
		if out[r.EnvironmentName] == nil {
			out[r.EnvironmentName] = map[string]policy.Status{}
		}
		out[r.EnvironmentName][r.RuleID] = r.Status
	}
	return out
}

func TestFixWithoutApplyChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	require.Equal(t, exitOK, h.run("fix", "--config", h.cfgPath, "--output", h.dir, "--quiet"), h.stderr.String())
	out := h.stdout.String()
	assert.Contains(t, out, "nothing is changed; run again with --apply")
	assert.Contains(t, out, "Contoso Legacy · Production · unitedstates")
	assert.Contains(t, out, `1. Create the application user for App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd in business unit "contosolegacy"`)
	assert.Contains(t, out, "No automatic change: the environment could not be read completely")
	assert.Contains(t, out, "No automatic change: Work 365 3.4.9.0 is below 3.5")
	assert.Contains(t, out, "removing roles needs --fix-privileges")
	for _, srv := range h.emu.Servers {
		assert.Empty(t, srv.Writes())
	}
}

func TestFixApplyRefusesWithoutATerminalOrYes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	assert.Equal(t, exitUsage, h.run("fix", "--config", h.cfgPath, "--output", h.dir, "--apply", "--quiet"))
	assert.Contains(t, h.stderr.String(), "refusing to change anything without confirmation")
	for _, srv := range h.emu.Servers {
		assert.Empty(t, srv.Writes())
	}
	// On a terminal, anything but yes changes nothing.
	h.g.stdinTTY, h.g.stdin = true, strings.NewReader("no\n")
	assert.Equal(t, exitError, h.run("fix", "--config", h.cfgPath, "--output", h.dir, "--apply", "--quiet"))
	assert.Contains(t, h.stderr.String(), "not confirmed: nothing was changed")
	for _, srv := range h.emu.Servers {
		assert.Empty(t, srv.Writes())
	}
}

// The end-to-end contract of audit fix on the demo tenants: every automatically fixable failure passes
// afterwards where changes were allowed, writes follow the dependency order, the journal accounts for every
// write the emulator received, a second run changes nothing, and undo restores the earlier state.
func TestFixApplyOnTheDemoTenantsThenUndo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	before := filepath.Join(h.dir, "before")
	snapBefore := filepath.Join(h.dir, "before.json")
	h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", before, "--quiet", "--snapshot", snapBefore)
	repBefore := readReport(t, before)

	out := filepath.Join(h.dir, "fixed")
	journal := filepath.Join(h.dir, "journal.jsonl")
	code := h.run("fix", "--config", h.cfgPath, "--apply", "--yes", "--journal", journal, "--format", "json", "--output", out, "--quiet")
	assert.Equal(t, exitUnaudited, code, "the Partner Portal still cannot be read: %s", h.stderr.String())
	repAfter := readReport(t, out)
	require.NotNil(t, repAfter.Fix)
	st, err := os.Stat(journal)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "journals carry tenant data")
	assert.Equal(t, 0, repAfter.Fix.Counts[fix.OutcomeFailed], "%+v", repAfter.Fix.Outcomes)

	// Every failure whose remediation is automatic without opt-in now passes, except where Work 365 is too old.
	rules := map[string]report.Rule{}
	for _, r := range repBefore.Rules {
		rules[r.ID] = r
	}
	after := byName(repAfter)
	for _, r := range repBefore.Results {
		rule := rules[r.RuleID]
		if r.Status != policy.StatusFail || !rule.Automatic || r.EnvironmentName == "Contoso Training" {
			continue
		}
		optIn := false
		for _, a := range r.Remediation.Actions {
			if a["opt_in"] != nil || a["action"] == "remove_role" || a["action"] == "manual" {
				optIn = true
			}
		}
		if optIn {
			continue
		}
		assert.Equal(t, policy.StatusPass, after[r.EnvironmentName][r.RuleID], "%s %s after the fix", r.EnvironmentName, r.RuleID)
	}
	assert.Equal(t, policy.StatusPass, after["Fabrikam Production"]["W365.GOV.1"], "the fixed sandbox now qualifies")

	// The journal accounts for every write the emulator received, in order.
	assert.Equal(t, emulatorWrites(h.emu.Servers...), journalWrites(t, journal))
	legacy := envID(t, repBefore, "Contoso Legacy")
	assert.Equal(t, []string{
		"POST systemusers",
		"POST systemusers(" + userIn(t, h, "contoso", "Contoso Legacy", "e4b1a995-abe3-4350-a61c-65fccd32e8bd") + ")/systemuserroles_association/$ref",
		"POST systemusers(" + userIn(t, h, "contoso", "Contoso Legacy", "e4b1a995-abe3-4350-a61c-65fccd32e8bd") + ")/systemuserroles_association/$ref",
		"PATCH w365_configurations(" + h.server("contoso").Rows("Contoso Legacy", "w365_configurations")[0]["w365_configurationid"].(string) + ")",
		"POST w365_ClearCache",
	}, journalWrites(t, journal)[legacy], "create → roles → service user → clear cache")
	// A disabled application user is enabled before it is given a role: Dataverse refuses roles to disabled users.
	finance := envID(t, repBefore, "Contoso Finance")
	financeUser := userIn(t, h, "contoso", "Contoso Finance", "e4b1a995-abe3-4350-a61c-65fccd32e8bd")
	assert.Equal(t, []string{"PATCH systemusers(" + financeUser + ")", "POST systemusers(" + financeUser + ")/systemuserroles_association/$ref", "POST w365_ClearCache"},
		journalWrites(t, journal)[finance], "enable, then assign")
	// Every update carries If-Match: *, and the service user is bound through the lookup's navigation property
	// as the metadata names it (mixed case), never through its logical name.
	patches := 0
	for _, w := range h.server("contoso").Writes() {
		if w.Method != http.MethodPatch {
			continue
		}
		patches++
		assert.Equal(t, "*", w.IfMatch, w.Path)
		if strings.Contains(w.Path, "w365_configurations(") {
			assert.Contains(t, w.Body, `"w365_ServiceUserId@odata.bind":"/systemusers(`)
			assert.Equal(t, http.StatusNoContent, w.Status)
		}
	}
	assert.Positive(t, patches)

	// A second run finds nothing left to write.
	writes := len(h.server("contoso").Writes()) + len(h.server("fabrikam").Writes())
	require.Equal(t, exitUnaudited, h.run("fix", "--config", h.cfgPath, "--apply", "--yes", "--journal", filepath.Join(h.dir, "again.jsonl"), "--format", "json", "--output", out, "--quiet"))
	assert.Equal(t, writes, len(h.server("contoso").Writes())+len(h.server("fabrikam").Writes()), "an idempotent re-run writes nothing")

	// Undo restores the state before the fix; created application users stay, disabled.
	require.Equal(t, exitOK, h.run("fix", "--config", h.cfgPath, "--undo", journal, "--yes"), h.stderr.String())
	assert.Contains(t, h.stdout.String(), "Undo plan for run")
	// Undo takes back the role it gave, but does not disable the application user again: Work 365 runs as it.
	undoJournals, err := filepath.Glob(strings.TrimSuffix(journal, ".jsonl") + ".undo-*.jsonl")
	require.NoError(t, err)
	require.Len(t, undoJournals, 1)
	assert.Equal(t, []string{"DELETE systemusers(" + financeUser + ")/systemuserroles_association("},
		prefixes(journalWrites(t, undoJournals[0])[finance], 2))
	// Undo never leaves Work 365 running as a disabled user or one without Work 365 Service: where the state
	// before the fix was such (Contoso Finance ran as its disabled application user, Fabrikam Sandbox as a person
	// without the role), the service user the fix set stays, with its roles, and undo says why.
	undoOut := h.stdout.String()
	leftAlone := map[string]bool{}
	for _, env := range []string{"Contoso Finance", "Fabrikam Sandbox"} {
		leftAlone[envID(t, repBefore, env)] = true
	}
	assert.Contains(t, undoOut, `left alone: "# Work 365" is the Work 365 service user now; undoing this would stop Work 365`)
	assert.Contains(t, undoOut, "left alone: the previous service user cannot run Work 365:")
	snapUndone := filepath.Join(h.dir, "undone.json")
	h.run("collect", "--config", h.cfgPath, "-o", snapUndone, "--quiet")
	created := createdUsers(t, journal)
	require.NotEmpty(t, created)
	assertSameState(t, snapBefore, snapUndone, created, leftAlone)
	for _, e := range loadSnapshot(t, snapUndone) {
		if dv := e.Dataverse; dv != nil && dv.Work365.Installed && dv.ServiceUser.User != nil && leftAlone[e.ID] {
			su := dv.ServiceUser.User
			assert.False(t, su.Disabled, "%s runs as an enabled user", e.Name)
			assert.Contains(t, roleNames(su.Roles), "Work 365 Service", "%s runs as a user holding Work 365 Service", e.Name)
		}
	}
}

func loadSnapshot(t *testing.T, p string) []snapshot.Environment {
	t.Helper()
	s, err := snapshot.Load(p)
	require.NoError(t, err)
	var out []snapshot.Environment
	for _, tn := range s.Tenants {
		out = append(out, tn.Environments...)
	}
	return out
}

func roleNames(rs []snapshot.Role) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// prefixes cuts each write to its method and path up to the n-th "(" key, so that keys of roles can be left out.
func prefixes(writes []string, n int) []string {
	out := make([]string, len(writes))
	for i, w := range writes {
		cut, count := w, 0
		for j, r := range w {
			if r == '(' {
				count++
				if count == n {
					cut = w[:j+1]
					break
				}
			}
		}
		out[i] = cut
	}
	return out
}

// userIn finds the live application user of an App ID in an environment, from the emulator's state.
func userIn(t *testing.T, h *harness, tenant, env, appID string) string {
	t.Helper()
	for _, u := range h.server(tenant).Rows(env, "systemusers") {
		if u["applicationid"] == appID && u["deletedstate"] == 0 {
			return u["systemuserid"].(string)
		}
	}
	t.Fatalf("no application user for %s in %s", appID, env)
	return ""
}

func createdUsers(t *testing.T, journal string) map[string]bool {
	t.Helper()
	_, entries, err := fix.ReadJournal(journal, "")
	require.NoError(t, err)
	out := map[string]bool{}
	for _, e := range entries {
		if e.Outcome != nil && e.Outcome.CreatedID != "" {
			out[e.Outcome.CreatedID] = true
		}
	}
	return out
}

// assertSameState compares two snapshots' environments, leaving out application users created by the fix,
// which undo disables but never deletes; those must be disabled and hold no role that matters.
func assertSameState(t *testing.T, a, b string, created map[string]bool, skip map[string]bool) {
	t.Helper()
	load := func(p string) map[string]snapshot.Environment {
		s, err := snapshot.Load(p)
		require.NoError(t, err)
		out := map[string]snapshot.Environment{}
		for _, tn := range s.Tenants {
			for _, e := range tn.Environments {
				if e.Dataverse != nil {
					kept := []snapshot.User{}
					for _, u := range e.Dataverse.ApplicationUsers {
						if created[u.ID] {
							if !skip[e.ID] {
								assert.True(t, u.Disabled, "created user %s is disabled by undo", u.ID)
							}
							continue
						}
						kept = append(kept, u)
					}
					e.Dataverse.ApplicationUsers = kept
					e.Dataverse.FailedJobs.Since = e.Dataverse.FailedJobs.Since.UTC()
					// Undo writes the settings row back: who last changed it, and when, is the undo itself.
					e.Dataverse.ServiceUser.SettingModifiedOn, e.Dataverse.ServiceUser.SettingModifiedBy = time.Time{}, nil
				}
				out[e.ID] = e
			}
		}
		return out
	}
	before, after := load(a), load(b)
	ids := make([]string, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if skip[id] {
			continue
		}
		assert.Equal(t, before[id], after[id], "environment %s after undo", before[id].Name)
	}
}

func TestSandboxFirstHoldsProductionBackUntilASandboxPasses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{}, northwind, tailspin)
	out := filepath.Join(h.dir, "out")
	code := h.run("fix", "--config", h.cfgPath, "--apply", "--yes", "--purge-deleted", "--format", "json", "--output", out, "--quiet")
	assert.Equal(t, exitFixFailed, code, "Northwind Lab lacks the portal role: %s", h.stdout.String())
	rep := readReport(t, out)
	status := map[string][]string{}
	reasons := map[string]string{}
	for _, o := range rep.Fix.Outcomes {
		if fix.Action(o.Action) != fix.ActManual {
			status[o.Environment] = append(status[o.Environment], o.Action+"="+o.Status)
		}
		if o.Status == fix.OutcomeHeldBack || o.Status == fix.OutcomeFailed || (o.Status == fix.OutcomeManual && fix.Action(o.Action) == fix.ActClearCache) {
			reasons[o.Environment+"/"+o.Action] = o.Reason
		}
	}
	// The sandbox was fixed first; it passes now, so production followed. It has no clear-cache action, which
	// becomes a manual step.
	assert.Equal(t, []string{"create_app_user=applied", "assign_role=applied", "assign_role=applied", "set_service_user=applied", "clear_cache=manual"},
		status["Northwind Sandbox"])
	assert.Contains(t, reasons["Northwind Sandbox/clear_cache"], "Admin Hub → Administration → Clear Cache")
	assert.Equal(t, []string{"assign_role=applied"}, status["Northwind Production"])
	// A soft-deleted leftover is never purged (--purge-deleted is accepted and does nothing): a person deletes
	// it, and the re-creation waits for that.
	assert.Equal(t, []string{"create_app_user=not_applied", "assign_role=not_applied", "assign_role=not_applied", "set_service_user=not_applied", "clear_cache=not_applied"},
		status["Northwind Dev"])
	manual := ""
	for _, o := range rep.Fix.Outcomes {
		if o.Environment == "Northwind Dev" && fix.Action(o.Action) == fix.ActManual {
			manual += o.Description + "\n"
		}
		if o.Environment == "Northwind Dev" && fix.Action(o.Action) == fix.ActCreateAppUser {
			assert.Contains(t, o.Reason, "has to be purged first")
		}
	}
	assert.Contains(t, manual, "Permanently delete the soft-deleted Work 365 application user")
	for _, w := range h.server("northwind").Writes() {
		assert.NotEqual(t, http.MethodDelete+" systemusers", w.Method+" "+w.Path[:min(len(w.Path), len("/api/data/v9.2/systemusers"))], "no user is deleted")
	}
	assert.Contains(t, h.stderr.String(), "--purge-deleted no longer does anything")
	// A missing role is a clear error, not a guess.
	assert.Contains(t, reasons["Northwind Lab/assign_role"], `the role "Work 365 Portal Service" does not exist in the business unit`)
	// Tailspin's only sandbox is too old to qualify or be fixed: production is held back.
	assert.Contains(t, reasons["Tailspin Production/create_app_user"], `held back because no sandbox of tenant "tailspin" passes the critical rules`)
	assert.Empty(t, h.server("tailspin").Writes())

	// With --allow-production it is tried, and the missing service principal is explained.
	code = h.run("fix", "--config", h.cfgPath, "--env", "Tailspin*", "--apply", "--yes", "--allow-production", "--format", "json", "--output", out, "--quiet")
	assert.Equal(t, exitFixFailed, code)
	rep = readReport(t, out)
	found := false
	for _, o := range rep.Fix.Outcomes {
		if o.Environment == "Tailspin Production" && fix.Action(o.Action) == fix.ActCreateAppUser {
			found = true
			assert.Equal(t, fix.OutcomeFailed, o.Status)
			assert.Contains(t, o.Reason, "has no service principal in this tenant yet (complete Work 365's consent or onboarding for the tenant first)")
		}
	}
	assert.True(t, found)
}

func TestAWriteRefusedInOneEnvironmentLeavesTheOthersFixed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	require.NoError(t, h.server("contoso").SetAccess("Contoso Finance", "read"))
	// A throttled write is re-checked and sent again.
	require.NoError(t, h.server("contoso").SetFaults("Contoso Legacy", emulator.Faults{Rules: []emulator.FaultRule{
		{Match: "POST systemusers", Status: http.StatusTooManyRequests, RetryAfter: 1, Count: 1}}}))
	out := filepath.Join(h.dir, "out")
	code := h.run("fix", "--config", h.cfgPath, "--apply", "--yes", "--format", "json", "--output", out, "--quiet")
	assert.Equal(t, exitFixFailed, code)
	rep := readReport(t, out)
	for _, o := range rep.Fix.Outcomes {
		switch o.Environment {
		case "Contoso Finance":
			if fix.Action(o.Action) == fix.ActEnableUser {
				assert.Equal(t, fix.OutcomeFailed, o.Status)
				assert.Contains(t, o.Reason, "lacks a write privilege")
			}
		case "Contoso Legacy", "Contoso Europe":
			if fix.Action(o.Action) != fix.ActManual && o.Status != fix.OutcomeNotApplied {
				assert.Equal(t, fix.OutcomeApplied, o.Status, "%s %s: %s", o.Environment, o.Action, o.Reason)
			}
		}
	}
	st := byName(rep)
	assert.Equal(t, policy.StatusPass, st["Contoso Legacy"]["W365.SERVICE.1"])
	assert.Equal(t, policy.StatusFail, st["Contoso Finance"]["W365.APPUSER.3"])
}

func TestTwoAppliesOnOneTenantDoNotInterleave(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	lock, err := fix.AcquireLock("3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f", h.server("contoso").BAPURL(), testNow)
	require.NoError(t, err)
	defer lock.Release()
	code := h.run("fix", "--config", h.cfgPath, "--apply", "--yes", "--output", h.dir, "--quiet")
	assert.Equal(t, exitError, code)
	assert.Contains(t, h.stderr.String(), "another audit fix is changing tenant 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f right now")
	assert.Empty(t, h.server("contoso").Writes())
	// The plan is made under the lock: nothing was read for a plan that could not be applied now.
	assert.Zero(t, h.server("contoso").Stats().Requests, "no request before the lock is taken")
	code = h.run("scan", "--config", h.cfgPath, "--fix", "--yes", "--output", h.dir, "--quiet")
	assert.Equal(t, exitError, code)
	assert.Zero(t, h.server("contoso").Stats().Requests, "scan --fix takes the lock before it collects")
}

func TestScanFixIsTheOneShotForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{}, demoFixtures[1])
	out := filepath.Join(h.dir, "out")
	code := h.run("scan", "--fix", "--yes", "--config", h.cfgPath, "--format", "json", "--output", out, "--quiet")
	assert.Equal(t, exitOK, code, h.stdout.String())
	rep := readReport(t, out)
	require.NotNil(t, rep.Fix)
	assert.Equal(t, 5, rep.Fix.Counts[fix.OutcomeApplied])
	assert.Equal(t, "PPPPPPPPPPPPPPP", statusGrid(rep)["Fabrikam Production"], "the sandbox fixed in the same run qualifies")
	assert.Equal(t, "PPPPP-PPPPPPPPP", statusGrid(rep)["Fabrikam Sandbox"])
}

// The README's sample plan is the plan of the demo tenants; this keeps it true.
func TestDemoFixPlanSample(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	require.Equal(t, exitOK, h.run("fix", "--config", h.cfgPath, "--output", h.dir, "--quiet"))
	const sample = "../../docs/fix-plan.txt"
	if *update {
		require.NoError(t, os.WriteFile(sample, h.stdout.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(sample)
	require.NoError(t, err, "run go test ./cmd/audit -run TestDemoFixPlanSample -update")
	assert.Equal(t, string(want), h.stdout.String(), "docs/fix-plan.txt is out of date: run go test ./cmd/audit -run TestDemoFixPlanSample -update")
}

// Least privilege is applied only on request: --fix-privileges removes the extra role; undo does not give it back.
func TestFixPrivilegesRemovesExtraRolesAndUndoRestoresThem(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{}, demoFixtures[0])
	out := filepath.Join(h.dir, "out")
	journal := filepath.Join(h.dir, "journal.jsonl")
	require.Equal(t, exitOK, h.run("fix", "--config", h.cfgPath, "--env", "Contoso Sandbox", "--rule", "W365.ROLES.3",
		"--apply", "--yes", "--format", "json", "--output", out, "--quiet"))
	rep := readReport(t, out)
	require.Len(t, rep.Fix.Outcomes, 1)
	assert.Equal(t, fix.OutcomeNotApplied, rep.Fix.Outcomes[0].Status)
	assert.Contains(t, rep.Fix.Outcomes[0].Reason, "needs --fix-privileges")
	assert.Empty(t, h.server("contoso").Writes())

	require.Equal(t, exitOK, h.run("fix", "--config", h.cfgPath, "--env", "Contoso Sandbox", "--rule", "W365.ROLES.3",
		"--fix-privileges", "--apply", "--yes", "--journal", journal, "--format", "json", "--output", out, "--quiet"))
	rep = readReport(t, out)
	require.Len(t, rep.Fix.Outcomes, 1)
	assert.Equal(t, fix.OutcomeApplied, rep.Fix.Outcomes[0].Status)
	assert.Equal(t, `Remove the role "System Administrator" from "# Work 365"`, rep.Fix.Outcomes[0].Description)
	assert.Equal(t, policy.StatusPass, byName(rep)["Contoso Sandbox"]["W365.ROLES.3"])
	writes := emulatorWrites(h.server("contoso"))[envID(t, rep, "Contoso Sandbox")]
	require.Len(t, writes, 1)
	assert.Regexp(t, `^DELETE systemusers\([0-9a-f-]+\)/systemuserroles_association\([0-9a-f-]+\)/\$ref$`, writes[0])

	// Undo assigns no more than a fix does: System Administrator is left for a person to give back.
	require.Equal(t, exitOK, h.run("fix", "--config", h.cfgPath, "--undo", journal, "--yes"), h.stdout.String())
	assert.Contains(t, h.stdout.String(), `Give the role "System Administrator" back to "# Work 365"`)
	assert.Contains(t, h.stdout.String(), `undo assigns no more than a fix does, and audit fix never assigns "System Administrator"`)
	require.Equal(t, exitUnaudited, h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", out, "--quiet"))
	assert.Equal(t, policy.StatusPass, byName(readReport(t, out))["Contoso Sandbox"]["W365.ROLES.3"], "undo did not give the role back")
}
