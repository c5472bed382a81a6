package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// liveHeap is the heap that stays after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A streaming scan keeps what the reports need of each environment — its results and inventory — and lets the
// rest go: fed four hundred environments of a large tenant one at a time, as the collector hands them over, the
// heap it holds afterwards is a bounded amount per environment, a small part of what the environments held.
// Measured as heap after the scan, never as a time.
func TestAStreamingScanHoldsABoundedHeapPerEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates four hundred environments")
	}
	s, _, _ := open(t, Settings{})
	whole, err := s.Scan(context.Background())
	require.NoError(t, err)
	// Templates: the demo's environments that run Work 365, each grown to 300 users, as a large tenant's are.
	var templates [][]byte
	for _, e := range whole.Snapshot.Tenants[0].Environments {
		if e.Dataverse == nil || !e.Dataverse.Work365.Installed {
			continue
		}
		for k := len(e.Dataverse.ApplicationUsers); k < 300; k++ {
			e.Dataverse.ApplicationUsers = append(e.Dataverse.ApplicationUsers, snapshot.User{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", k),
				FullName: fmt.Sprintf("# Integration %03d", k), ApplicationID: fmt.Sprintf("10000000-0000-4000-8000-%012d", k),
				Roles: []snapshot.Role{{Name: "Basic User"}}})
		}
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		templates = append(templates, raw)
	}
	require.NotEmpty(t, templates)
	whole = nil

	const n = 400
	tenant := &snapshot.Tenant{Name: "fleet", ID: "t"}
	for i := range n {
		var e snapshot.Environment
		require.NoError(t, json.Unmarshal(templates[i%len(templates)], &e))
		e.ID, e.Name, e.Dataverse = fmt.Sprintf("env-%04d", i), fmt.Sprintf("Env %04d", i), nil
		tenant.Environments = append(tenant.Environments, e)
	}
	base := liveHeap()
	sink := s.newSink(context.Background(), policy.NewWaivers(nil, testNow), nil)
	sink.Listed(tenant)
	dataBytes := 0
	for i := range n {
		var e snapshot.Environment
		require.NoError(t, json.Unmarshal(templates[i%len(templates)], &e))
		e.ID, e.Name = tenant.Environments[i].ID, tenant.Environments[i].Name
		dataBytes += len(templates[i%len(templates)])
		sink.Environment(tenant, i, &e) // the collector lets the environment go afterwards
	}
	sink.Done(tenant)
	require.NoError(t, sink.err)
	held := float64(liveHeap() - min(base, liveHeap()))
	perEnv := held / n
	t.Logf("held after %d environments: %.1f KiB each (their data: %.1f KiB each as JSON)", n, perEnv/1024, float64(dataBytes)/n/1024)
	require.Len(t, sink.results, n*len(s.engine().Rules()))
	assert.Less(t, perEnv, 24.0*1024, "heap held per environment: its results and inventory")
	assert.Less(t, held, float64(dataBytes)/4, "the environments' data is let go")
	runtime.KeepAlive(sink)
}
