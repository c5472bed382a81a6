package policy

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/snapshot"
)

// Evaluating a tenant's environments one at a time, in any order and concurrently, as a streaming scan does,
// gives the results of Evaluate on the whole snapshot, waivers included.
func TestTenantEvaluationGivesTheResultsOfEvaluate(t *testing.T) {
	t.Parallel()
	e := load(t, Options{})
	unread := snapshot.Environment{ID: "e4", Name: "Unread", Type: "Production", HasDataverse: true, Status: snapshot.StatusError,
		Error: &snapshot.Error{Stage: "solutions", Message: "HTTP 403"}}
	teams := snapshot.Environment{ID: "e7", Name: "Teams", Type: "Teams", Status: snapshot.StatusSkipped, SkipReason: "no Dataverse"}
	snap := &snapshot.Snapshot{SchemaVersion: snapshot.SchemaVersion, Tenants: []snapshot.Tenant{
		{Name: "a", ID: "ta", Environments: []snapshot.Environment{compliantEnv("e1", "Prod 1", "Production"), compliantEnv("e2", "Prod 2", "Production"),
			compliantEnv("e3", "Trial", "Trial"), unread, teams}},
		{Name: "b", ID: "tb", Environments: []snapshot.Environment{compliantEnv("e5", "Prod B", "Production"), compliantEnv("e6", "Sandbox B", "Sandbox")}},
	}}
	// A waiver-like adjustment: every failure of W365.ROLES.2 is waived, so the tenant phase must see it waived.
	adjust := func(rs []Result) {
		for i := range rs {
			if rs[i].RuleID == "W365.ROLES.2" && rs[i].Status == StatusFail {
				rs[i].Status = StatusWaived
			}
		}
	}
	want, err := e.Evaluate(context.Background(), snap, adjust)
	require.NoError(t, err)

	var got []Result
	var mu sync.Mutex
	for ti := range snap.Tenants {
		tn := &snap.Tenants[ti]
		te := e.BeginTenant(tn, adjust)
		order := rand.Perm(len(tn.Environments))
		var wg sync.WaitGroup
		for _, i := range order {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs, err := te.Environment(context.Background(), &tn.Environments[i])
				assert.NoError(t, err)
				mu.Lock()
				got = append(got, rs...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		rs, err := te.Finish(context.Background())
		require.NoError(t, err)
		got = append(got, rs...)
	}
	SortResults(got)
	assert.Equal(t, want, got)
}
