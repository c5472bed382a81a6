package audit

import (
	"context"
	"runtime"
	"sync"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

// ScanStreaming collects and evaluates at once: each environment is evaluated as soon as it is read, what the
// report needs of it is kept, and its data is let go, so memory grows with the results, not with what the
// environments hold. The evaluation's snapshot holds every environment without its Dataverse data (a fix, which
// needs the data, plans from Scan instead). With a snapshot path, each environment is also written out whole
// as it is read, and the file is written at the end (see CollectTo); the evaluation's SnapshotFile names it.
func (s *Session) ScanStreaming(ctx context.Context, snapshotPath string) (*Evaluation, error) {
	var file *snapshotFile
	if snapshotPath != "" {
		var err error
		if file, err = newSnapshotFile(snapshotPath); err != nil {
			return nil, err
		}
		defer file.abort() // does nothing once the file is written
	}
	ws := policy.NewWaivers(waiversOf(s.cfg), s.deps.now())
	sk := s.newSink(ctx, ws, file)
	// The results grow with the fleet: the heap may grow beyond them by a bounded headroom, not by their size.
	sk.gc = policy.BoundGC()
	defer sk.gc.Release()
	snap, err := s.collect(ctx, sk)
	if err != nil {
		return nil, err
	}
	if sk.err != nil {
		return nil, sk.err
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	if file != nil {
		if err := file.close(snap); err != nil {
			return nil, err
		}
	}
	policy.SortResults(sk.results)
	ev := evaluation(s.deps, eng, s.cfg, snap, sk.results, ws, sk.inventories, s.settings.FailOn, Sources(s.settings.PolicyDirs))
	ev.SnapshotFile = snapshotPath
	return ev, nil
}

func (s *Session) newSink(ctx context.Context, ws *policy.Waivers, file *snapshotFile) *evaluatingSink {
	return &evaluatingSink{ctx: ctx, engine: s.Engine, adjust: ws.Apply, file: file, appIDs: s.policy.AppIDs, regions: s.policy.Regions,
		tenants: map[*snapshot.Tenant]*tenantState{}, inventories: map[string]*report.Inventory{},
		workers: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
}

// evaluatingSink evaluates each environment the collector hands over, keeps its results and inventory, and
// evaluates each tenant's tenant-scoped rules once its environments are done. Evaluations run on at most
// workers goroutines at once (the engine's), whatever the collector's concurrency: the collector waits for a
// worker, so environments read ahead of the evaluation do not pile up.
type evaluatingSink struct {
	ctx     context.Context
	engine  func() (*policy.Engine, error) // waits for the rules to compile
	adjust  func([]policy.Result)
	file    *snapshotFile // when set, each environment is written out whole before it is let go
	gc      *policy.GCBound
	appIDs  map[string]string
	regions map[string]string
	workers chan struct{}

	mu          sync.Mutex
	tenants     map[*snapshot.Tenant]*tenantState
	results     []policy.Result
	inventories map[string]*report.Inventory
	err         error
}

// tenantState is a tenant's evaluation, begun once the rules have compiled.
type tenantState struct {
	once sync.Once
	te   *policy.TenantEvaluation
	err  error
}

func (k *evaluatingSink) Listed(t *snapshot.Tenant) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tenants[t] = &tenantState{}
	if k.file != nil {
		k.file.Listed(t)
	}
}

// evaluation waits for the rules (the first environments are read while they compile) and begins the tenant's.
func (k *evaluatingSink) evaluation(t *snapshot.Tenant) (*policy.TenantEvaluation, error) {
	k.mu.Lock()
	st := k.tenants[t]
	k.mu.Unlock()
	st.once.Do(func() {
		eng, err := k.engine()
		if err != nil {
			st.err = err
			return
		}
		st.te = eng.BeginTenant(t, k.adjust)
	})
	return st.te, st.err
}

func (k *evaluatingSink) Environment(t *snapshot.Tenant, index int, env *snapshot.Environment) {
	if k.file != nil {
		if err := k.file.add(t, index, env); err != nil {
			k.fail(err)
			return
		}
	}
	te, err := k.evaluation(t)
	if err != nil {
		k.fail(err)
		return
	}
	k.workers <- struct{}{}
	rs, err := te.Environment(k.ctx, env)
	<-k.workers
	if err != nil {
		k.fail(err)
		return
	}
	inv := report.InventoryOf(env, k.appIDs, k.regions)
	k.gc.Update()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.results = append(k.results, rs...)
	if inv != nil {
		k.inventories[env.ID] = inv
	}
}

func (k *evaluatingSink) Done(t *snapshot.Tenant) {
	te, err := k.evaluation(t)
	k.mu.Lock()
	delete(k.tenants, t)
	k.mu.Unlock()
	if err != nil {
		k.fail(err)
		return
	}
	k.workers <- struct{}{}
	rs, err := te.Finish(k.ctx)
	<-k.workers
	if err != nil {
		k.fail(err)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.results = append(k.results, rs...)
}

func (k *evaluatingSink) fail(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err == nil {
		k.err = err
	}
}
