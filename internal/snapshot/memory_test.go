package snapshot

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fleetEnvironment is environment i of a fleet, with about as much as the collector keeps of an environment
// running Work 365: application users and their roles, role holders, failed jobs, flows, connection references
// and templates of flagged owners.
func fleetEnvironment(i int) Environment {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	owner := Owner{ID: fmt.Sprintf("%d-owner", i), Name: "Pat Doe", DomainName: "pat@contoso.com", Disabled: true, ObjectID: "0000-1111"}
	dv := &Dataverse{OrganizationID: fmt.Sprintf("%08x-org", i), RootBusinessUnit: &BusinessUnit{ID: "bu", Name: "Contoso"},
		Work365:     Solution{Installed: true, UniqueName: "Work365", Version: "3.6.0.0", MatchedBy: MatchUniqueName},
		Schema:      &Schema{SettingsTable: "w365_configuration", EntitySet: "w365_configurations", PrimaryID: "w365_configurationid", Lookup: "w365_serviceuserid", Navigation: "w365_ServiceUserId", Source: "metadata"},
		ServiceUser: ServiceUser{Configured: true, SettingID: "s", UserID: "u0"},
		FailedJobs:  FailedJobs{LookbackDays: 7, Since: at.AddDate(0, 0, -7), Count: 14}}
	for u := range 40 {
		user := User{ID: fmt.Sprintf("%d-user-%d", i, u), FullName: fmt.Sprintf("Integration %d", u), ApplicationID: fmt.Sprintf("%08x-app", u),
			AccessMode: AccessModeNonInteractive, BusinessUnit: &BusinessUnit{ID: "bu", Name: "Contoso"}}
		for k := range 3 {
			user.Roles = append(user.Roles, Role{ID: fmt.Sprintf("role-%d", k), Name: fmt.Sprintf("Role %d", k), BusinessUnitID: "bu"})
		}
		dv.ApplicationUsers = append(dv.ApplicationUsers, user)
	}
	for u := range 5 {
		dv.ServiceRoleHolders = append(dv.ServiceRoleHolders, User{ID: fmt.Sprintf("%d-holder-%d", i, u), FullName: "Staff", Roles: []Role{}})
	}
	for k := range 5 {
		dv.FailedJobs.Recent = append(dv.FailedJobs.Recent, Job{ID: fmt.Sprintf("job-%d", k), Name: "Sync invoices", Message: "The service user is disabled.", CreatedOn: at})
	}
	for k := range 12 {
		dv.Flows = append(dv.Flows, Flow{ID: fmt.Sprintf("flow-%d", k), Name: fmt.Sprintf("Work 365 flow %d", k), State: 1, Owner: owner})
	}
	for k := range 5 {
		dv.ConnectionReferences = append(dv.ConnectionReferences, ConnectionReference{ID: fmt.Sprintf("cr-%d", k), LogicalName: fmt.Sprintf("w365_cr%d", k), Owner: owner})
	}
	for k := range 7 {
		dv.EmailTemplates = append(dv.EmailTemplates, EmailTemplate{ID: fmt.Sprintf("tpl-%d", k), Title: fmt.Sprintf("Invoice %d", k), Owner: owner})
	}
	return Environment{ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), Name: fmt.Sprintf("Env %05d", i), Type: "Production",
		Region: "unitedstates", InstanceURL: fmt.Sprintf("https://org%05d.crm.dynamics.com/", i), HasDataverse: true, Status: StatusOK, Dataverse: dv}
}

// heapSampler discards what is written to it and, every so many bytes, measures the live heap.
type heapSampler struct {
	written, next, every int64
	peak                 uint64
}

func (h *heapSampler) Write(p []byte) (int, error) {
	h.written += int64(len(p))
	if h.written >= h.next {
		h.peak = max(h.peak, liveHeap())
		h.next = h.written + h.every
	}
	return len(p), nil
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// writeFleet adds n environments over tenants to a Writer as a collector would, each built, added and dropped,
// then writes the snapshot; it returns the bytes written and the live heap's peak growth while adding and
// while writing.
func writeFleet(t testing.TB, n, tenants int, every int64) (written int64, adding, writing uint64) {
	w, err := NewWriter(filepath.Join(t.TempDir(), "snapshot.json"))
	require.NoError(t, err)
	defer w.Abort()
	s := &Snapshot{SchemaVersion: SchemaVersion, Tool: Tool{Name: "audit", Version: "1.2.3"}, Settings: Settings{SolutionName: "Work365"}}
	for k := range tenants {
		s.Tenants = append(s.Tenants, Tenant{Name: fmt.Sprintf("tenant-%03d", k), ID: fmt.Sprintf("t%d", k), Environments: []Environment{}})
	}
	base := liveHeap()
	var peak uint64
	for i := range n {
		env := fleetEnvironment(i)
		require.NoError(t, w.Add(i%tenants, i/tenants, &env))
		if i%(n/10) == 0 {
			peak = max(peak, liveHeap())
		}
	}
	peak = max(peak, liveHeap())
	h := &heapSampler{every: every}
	base2 := liveHeap()
	require.NoError(t, w.write(h, s))
	h.peak = max(h.peak, liveHeap())
	return h.written, peak - min(peak, base), h.peak - min(h.peak, base2)
}

// A Writer holds only where each environment is: the live heap grows by a small fraction of the snapshot
// while environments are added, and while the snapshot is written. Not parallel: the heap is the process's.
func TestAWriterHoldsOnlyThePlacesOfEnvironments(t *testing.T) {
	written, adding, writing := writeFleet(t, 250, 10, 256<<10)
	t.Logf("%.1f MB written; the heap grew by %.2f MB while adding, %.2f MB while writing", float64(written)/1e6, float64(adding)/1e6, float64(writing)/1e6)
	assert.Greater(t, written, int64(8<<20), "a snapshot large enough to tell")
	assert.Less(t, adding, uint64(written/16))
	assert.Less(t, writing, uint64(written/16))
}

// BenchmarkWriter writes the snapshot of a fleet (10,000 environments over 100 tenants) through a Writer and
// reports its size and the live heap's peak growth while adding environments and while writing.
//
//	go test ./internal/snapshot -run '^$' -bench BenchmarkWriter -benchtime 1x
func BenchmarkWriter(b *testing.B) {
	b.ReportAllocs()
	var written int64
	var adding, writing uint64
	for b.Loop() {
		written, adding, writing = writeFleet(b, 10000, 100, 16<<20)
	}
	b.ReportMetric(float64(written)/1e6, "MB-written")
	b.ReportMetric(float64(adding)/1e6, "MB-heap-growth-adding")
	b.ReportMetric(float64(writing)/1e6, "MB-heap-growth-writing")
}
