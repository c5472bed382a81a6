package fix

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/auth"
	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

type rig struct {
	srv    *emulator.Server
	target collect.Target
	eng    *policy.Engine
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigOf(t, filepath.Join("..", "..", "testdata", "tenants", "demo.yaml"))
}

// newRigOf starts the emulator on a fixture file; its first client is the auditor.
func newRigOf(t *testing.T, fixture string) *rig {
	t.Helper()
	fx, err := emulator.LoadFixture(fixture)
	require.NoError(t, err)
	srv, err := emulator.New(fx, emulator.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Close() })
	src, err := auth.New(auth.Config{TenantID: srv.TenantID(), ClientID: fx.Clients[0].ClientID, AuthorityHost: srv.URL(),
		Secret: fx.Clients[0].Secret, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	eng, err := sharedEngine()
	require.NoError(t, err)
	return &rig{srv: srv, eng: eng, target: collect.Target{Name: "contoso", TenantID: srv.TenantID(), BAPURL: srv.BAPURL(), BAPScope: srv.BAPScope(),
		HTTP: srv.HTTPClient(), Tokens: src, Client: &api.Client{HTTP: srv.HTTPClient(), Tokens: src}}}
}

// plan collects and evaluates the tenant and plans the fixes of one environment.
func (r *rig) plan(t *testing.T, env string) (*snapshot.Snapshot, []policy.Result, *Plan) {
	t.Helper()
	snap, err := collect.New(collect.Options{
		SolutionName: "Work365", AppIDs: map[string]string{"US": "e4b1a995-abe3-4350-a61c-65fccd32e8bd", "EU": "5e56ae97-9be1-40d3-938b-99ea52175a30"},
		RoleNames: []string{"Work 365 Service", "Work 365 Portal Service"}, SettingsTable: "w365_configuration", ServiceUserLookup: "w365_serviceuserid",
		SolutionFriendlyName: "Work 365", TablePrefix: "w365_", JobNamePrefixes: []string{"Work 365"}, Now: func() time.Time { return now },
	}).Collect(context.Background(), []collect.Target{r.target})
	require.NoError(t, err)
	results, err := r.eng.Evaluate(context.Background(), snap, nil)
	require.NoError(t, err)
	return snap, results, BuildPlan(snap, results, r.eng.Rules(), Options{Environments: []string{env},
		Roles: RoleNames{Service: "Work 365 Service", Portal: "Work 365 Portal Service"}, SandboxTypes: []string{"Sandbox"}, MinVersion: "3.5"})
}

func (r *rig) options(j *Journal) ApplyOptions {
	return ApplyOptions{Clients: map[string]*api.Client{"contoso": r.target.Client}, Journal: j,
		Settings: Settings{ClearCacheAction: "w365_ClearCache"}, Roles: RoleNames{Service: "Work 365 Service", Portal: "Work 365 Portal Service"}}
}

var errKilled = errors.New("killed")

// sharedEngine compiles the bundled policies once for every test of the package (evaluation is safe for
// concurrent use).
var sharedEngine = sync.OnceValues(func() (*policy.Engine, error) {
	return policy.Load(context.Background(), policy.Options{})
})

// A run killed before any of its writes and started again converges: one application user, each role once,
// the service user set, and every rule of the environment that the fix addresses passes.
func TestARunKilledAtAnyWriteConvergesWhenStartedAgain(t *testing.T) {
	t.Parallel()
	const env = "Contoso Legacy"
	for kill := 1; kill <= 5; kill++ {
		t.Run("before write "+string(rune('0'+kill)), func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			journalPath := filepath.Join(t.TempDir(), "journal.jsonl")
			j, err := OpenJournal(journalPath, "run-1", "fix", "test", func() time.Time { return now })
			require.NoError(t, err)
			_, _, plan := r.plan(t, env)
			require.Len(t, plan.Environments, 1)
			require.Len(t, plan.Environments[0].Steps, 5)

			ctx, cancel := context.WithCancel(context.Background())
			opts := r.options(j)
			writes := 0
			opts.beforeWrite = func(int) error {
				writes++
				if writes == kill {
					cancel() // the process dies here: this write is journaled as an intent but never sent
					return errKilled
				}
				return nil
			}
			res, _ := Apply(ctx, plan, opts)
			require.NoError(t, j.Close())
			assert.Equal(t, kill-1, len(r.srv.Writes()), "writes sent before the kill")
			assert.Positive(t, res.Failed())

			// Started again (a new process: new plan from the current state, same journal file).
			j2, err := OpenJournal(journalPath, "run-2", "fix", "test", func() time.Time { return now })
			require.NoError(t, err)
			_, _, plan2 := r.plan(t, env)
			res2, err := Apply(context.Background(), plan2, r.options(j2))
			require.NoError(t, err)
			require.NoError(t, j2.Close())
			assert.Zero(t, res2.Failed(), "%+v", res2.Outcomes)

			live := 0
			for _, u := range r.srv.Rows(env, "systemusers") {
				if u["applicationid"] == "e4b1a995-abe3-4350-a61c-65fccd32e8bd" && u["deletedstate"] == 0 {
					live++
				}
			}
			assert.Equal(t, 1, live, "exactly one application user")
			_, results, _ := r.plan(t, env)
			for _, res := range results {
				if res.EnvironmentName != env {
					continue
				}
				switch res.RuleID {
				case "W365.APPUSER.1", "W365.ROLES.1", "W365.ROLES.2", "W365.SERVICE.1", "W365.SERVICE.2":
					assert.Equal(t, policy.StatusPass, res.Status, res.RuleID)
				}
			}
			// Each journaled run accounts for what it sent.
			for _, run := range []string{"run-1", "run-2"} {
				_, entries, err := ReadJournal(journalPath, run)
				require.NoError(t, err)
				for _, e := range entries {
					if e.Outcome == nil {
						assert.Equal(t, "run-1", run, "only the killed run has a write without outcome")
					}
				}
			}
		})
	}
}

func TestReadJournalToleratesATornLastLine(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := OpenJournal(p, "r", "fix", "test", time.Now)
	require.NoError(t, err)
	seq, err := j.Intent(Record{Action: ActEnableUser, Method: "PATCH", Path: "systemusers(1)"})
	require.NoError(t, err)
	require.NoError(t, j.Outcome(seq, Record{Result: OutcomeApplied, Status: 204}))
	_, err = j.f.WriteString(`{"time":"2026-11-26T12:00:00Z","run_id":"r","seq":3,"pha`)
	require.NoError(t, err)
	require.NoError(t, j.Close())
	id, entries, err := ReadJournal(p, "")
	require.NoError(t, err)
	assert.Equal(t, "r", id)
	require.Len(t, entries, 1)
	assert.Equal(t, OutcomeApplied, entries[0].Outcome.Result)
	assert.True(t, strings.HasPrefix(entries[0].Intent.Path, "systemusers"))
}

// Dataverse gives no security role to a disabled user: when the plan does not enable the user first (here the
// enabling rule is left out), the assignment is not sent and the outcome says what to do.
func TestARoleIsNeverSentToADisabledUser(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	snap, results, _ := r.plan(t, "Contoso Finance")
	plan := BuildPlan(snap, results, r.eng.Rules(), Options{Environments: []string{"Contoso Finance"}, Rules: []string{"W365.ROLES.2"},
		Roles: RoleNames{Service: "Work 365 Service", Portal: "Work 365 Portal Service"}, SandboxTypes: []string{"Sandbox"}, MinVersion: "3.5", AllowProduction: true})
	require.Len(t, plan.Environments, 1)
	require.Equal(t, ActAssignRole, plan.Environments[0].Steps[0].Action)
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), "r", "fix", "test", func() time.Time { return now })
	require.NoError(t, err)
	defer j.Close()
	res, err := Apply(context.Background(), plan, r.options(j))
	require.NoError(t, err)
	require.Equal(t, 1, res.Failed())
	assert.Contains(t, res.Outcomes[0].Reason, `is disabled, and Dataverse does not assign security roles to disabled users: enable it first`)
	assert.Empty(t, r.srv.Writes())
}

// A purge asked by a policy is never applied: permanent deletion is a manual step.
func TestAPurgeIsListedAsNotApplied(t *testing.T) {
	t.Parallel()
	snap := &snapshot.Snapshot{Tenants: []snapshot.Tenant{{Name: "t", Environments: []snapshot.Environment{{ID: "e", Name: "Dev", Type: "Developer",
		Status: snapshot.StatusOK, Dataverse: &snapshot.Dataverse{Work365: snapshot.Solution{Installed: true}}}}}}}
	results := []policy.Result{{EnvironmentID: "e", RuleID: "ACME.1", Status: policy.StatusFail, Remediation: &policy.Remediation{
		Actions: []map[string]any{{"action": string(ActPurgeAppUser), "user_id": "u", "app_id": "a"}}}}}
	plan := BuildPlan(snap, results, nil, Options{})
	require.Len(t, plan.Environments, 1)
	ep := plan.Environments[0]
	assert.Empty(t, ep.Steps)
	require.Len(t, ep.NotApplied, 1)
	assert.Contains(t, ep.NotApplied[0].Reason, "permanent deletion of a user is a preview feature")
}

// Undo of a service-user switch needs only the journal: it binds through the names the fix journaled. A journal
// of an earlier version without them is refused with what to do by hand.
func TestUndoOfTheServiceUserUsesTheJournaledNames(t *testing.T) {
	t.Parallel()
	before := map[string]any{"setting_id": "s", "user_id": "u"}
	assert.Nil(t, schemaFrom(before))
	before = settingBefore(&snapshot.Schema{EntitySet: "w365_configurations", PrimaryID: "w365_configurationid", Lookup: "w365_serviceuserid",
		Navigation: "w365_ServiceUserId"}, &setting{id: "s", userID: "u"})
	assert.Equal(t, &snapshot.Schema{EntitySet: "w365_configurations", PrimaryID: "w365_configurationid", Lookup: "w365_serviceuserid",
		Navigation: "w365_ServiceUserId"}, schemaFrom(before))

	r := &envRun{a: &applier{opts: ApplyOptions{}}, ep: &EnvPlan{}}
	_, _, err := r.reverse(context.Background(), UndoStep{kind: "restore_service_user", before: map[string]any{"setting_id": "s", "user_id": "u"}}, Step{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Change Service User")
}
