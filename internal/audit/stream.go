package audit

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

// ScanStreaming collects and evaluates at once: each environment is evaluated as soon as it is read, what the
// report needs of it is kept, and its data is let go, so memory grows with the results, not with what the
// environments hold. The evaluation's snapshot holds every environment without its Dataverse data (a fix, which
// needs the data, plans from Scan instead). keep, when set, is given each environment with its data first (to
// write it out), one environment at a time.
func (s *Session) ScanStreaming(ctx context.Context, keep func(t *snapshot.Tenant, env *snapshot.Environment) error) (*Evaluation, error) {
	ws := policy.NewWaivers(waiversOf(s.cfg), s.deps.now())
	sk := s.newSink(ctx, ws, keep)
	opts := s.opts
	opts.Sink, opts.DropData = sk, true
	if p := s.deps.Progress; p != nil {
		opts.Progress = p.Event
		defer p.Finish()
	}
	snap, err := collect.New(opts).Collect(ctx, s.targets)
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	if sk.err != nil {
		return nil, sk.err
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	policy.SortResults(sk.results)
	return evaluation(s.deps, eng, s.cfg, snap, sk.results, ws, sk.inventories, s.settings.FailOn, Sources(s.settings.PolicyDirs)), nil
}

func (s *Session) newSink(ctx context.Context, ws *policy.Waivers, keep func(t *snapshot.Tenant, env *snapshot.Environment) error) *evaluatingSink {
	return &evaluatingSink{ctx: ctx, engine: s.Engine, adjust: ws.Apply, keep: keep, appIDs: s.policy.AppIDs, regions: s.policy.Regions,
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
	keep    func(t *snapshot.Tenant, env *snapshot.Environment) error
	appIDs  map[string]string
	regions map[string]string
	workers chan struct{}
	keepMu  sync.Mutex // keep is called for one environment at a time

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

func (k *evaluatingSink) Environment(t *snapshot.Tenant, env *snapshot.Environment) {
	if k.keep != nil {
		k.keepMu.Lock()
		err := k.keep(t, env)
		k.keepMu.Unlock()
		if err != nil {
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
