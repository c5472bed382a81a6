package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/glob"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/historyreport"
)

// HistoryReport builds the multi-run report of a history (audit history report). The period ends at the
// start of the newest run in the store, never at the wall clock, so a history gives the same report
// whenever it is read. The runs of the period are read one at a time, oldest first: for each, its scan
// and, for the first of each scope, the previous complete run of that scope (which may be older than the
// period), so that its drift is the one the scan computed. Only the newest scan of each scope is held at
// once, with the earlier runs its outages name.
func HistoryReport(ctx context.Context, st *history.Store, o historyreport.Options) (*historyreport.Report, error) {
	for _, p := range append(append([]string{}, o.Tenants...), o.Environments...) {
		if err := glob.Valid(p); err != nil {
			return nil, Usagef("pattern %q: %v", p, err)
		}
	}
	runs, err := st.Runs(ctx)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, Usagef("%s holds no run yet: scans record runs with --history %s", st.Path(), st.Path())
	}
	now := runs[0].StartedAt
	for _, r := range runs {
		if r.StartedAt.After(now) {
			now = r.StartedAt
		}
	}
	b := historyreport.NewBuilder(o, now)
	from := o.Window.From(b.Now())
	latest := map[string]*drift.Scan{} // the newest complete run read of each scope
	for _, r := range runs {
		if r.StartedAt.Before(from) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info := historyreport.RunInfo{ID: r.ID, StartedAt: r.StartedAt, Status: r.Status, Trigger: r.Trigger, Scope: r.Scope,
			ToolVersion: r.ToolVersion, PolicyDigest: r.PolicyDigest, ExitCode: r.ExitCode, Error: OneLine(r.Error, 500)}
		if r.Status != history.StatusComplete {
			b.Add(info, nil, nil)
			continue
		}
		before, seen := latest[r.Scope]
		if !seen {
			if before, err = previousScan(ctx, st, r); err != nil {
				return nil, err
			}
		}
		cur, err := st.Scan(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("read run %d: %w", r.ID, err)
		}
		b.Add(info, before, cur)
		latest[r.Scope] = cur
	}
	return b.Report(), nil
}

// previousScan is the complete run of r's scope before r, nil when there is none.
func previousScan(ctx context.Context, st *history.Store, r history.Run) (*drift.Scan, error) {
	p, err := st.Latest(ctx, r.Scope, r.ID)
	if errors.Is(err, history.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sc, err := st.Scan(ctx, p.ID)
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", p.ID, err)
	}
	return sc, nil
}
