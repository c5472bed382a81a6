package audit

import (
	"context"
	"fmt"
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
	ps := s.eng.Settings()
	sk := &evaluatingSink{ctx: ctx, eng: s.eng, adjust: ws.Apply, keep: keep, appIDs: ps.AppIDs, regions: ps.Regions,
		tenants: map[*snapshot.Tenant]*policy.TenantEvaluation{}, inventories: map[string]*report.Inventory{},
		workers: make(chan struct{}, max(1, s.eng.Workers()))}
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
	policy.SortResults(sk.results)
	return evaluation(s.deps, s.eng, s.cfg, snap, sk.results, ws, sk.inventories, s.settings.FailOn, Sources(s.settings.PolicyDirs)), nil
}

// evaluatingSink evaluates each environment the collector hands over, keeps its results and inventory, and
// evaluates each tenant's tenant-scoped rules once its environments are done. Evaluations run on at most
// workers goroutines at once (the engine's), whatever the collector's concurrency: the collector waits for a
// worker, so environments read ahead of the evaluation do not pile up.
type evaluatingSink struct {
	ctx     context.Context
	eng     *policy.Engine
	adjust  func([]policy.Result)
	keep    func(t *snapshot.Tenant, env *snapshot.Environment) error
	appIDs  map[string]string
	regions map[string]string
	workers chan struct{}
	keepMu  sync.Mutex // keep is called for one environment at a time

	mu          sync.Mutex
	tenants     map[*snapshot.Tenant]*policy.TenantEvaluation
	results     []policy.Result
	inventories map[string]*report.Inventory
	err         error
}

func (k *evaluatingSink) Listed(t *snapshot.Tenant) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tenants[t] = k.eng.BeginTenant(t, k.adjust)
}

func (k *evaluatingSink) Environment(t *snapshot.Tenant, env *snapshot.Environment) {
	k.mu.Lock()
	te := k.tenants[t]
	k.mu.Unlock()
	if k.keep != nil {
		k.keepMu.Lock()
		err := k.keep(t, env)
		k.keepMu.Unlock()
		if err != nil {
			k.fail(err)
			return
		}
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
	k.mu.Lock()
	te := k.tenants[t]
	delete(k.tenants, t)
	k.mu.Unlock()
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
