package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

// Evaluation is a snapshot with its results and the report built from them. A merged report has no
// snapshot or results.
type Evaluation struct {
	Snapshot *snapshot.Snapshot
	// SnapshotFile, when set, is the snapshot file of a streaming scan, whose Snapshot holds the environments
	// without their data.
	SnapshotFile string
	Results      []policy.Result
	Report       *report.Report
}

// Exit is the exit code contract of the evaluation's report (nil for 0).
func (ev *Evaluation) Exit() error {
	return ExitFor(ev.Report.Summary.Errors, ev.Report.Summary.FailingAtOrAbove)
}

// Sources names where the policies come from, for the report: the embedded ones, then the users' directories.
func Sources(dirs []string) []string {
	return append([]string{"embedded"}, dirs...)
}

// Evaluate runs the policies on a snapshot, applies the config's waivers (cfg may be nil) and builds the
// report model. It is the whole of an offline evaluation, and the end of every scan.
func Evaluate(ctx context.Context, deps Deps, eng *policy.Engine, cfg *config.Config, snap *snapshot.Snapshot, failOn string, sources []string) (*Evaluation, error) {
	ws := policy.NewWaivers(waiversOf(cfg), deps.now())
	results, err := eng.Evaluate(ctx, snap, ws.Apply)
	if err != nil {
		return nil, err
	}
	return evaluation(deps, eng, cfg, snap, results, ws, nil, failOn, sources), nil
}

// evaluation is the report of a snapshot's results: with the waivers' warnings and the inventories made while
// the environments were collected (nil: made from the snapshot).
func evaluation(deps Deps, eng *policy.Engine, cfg *config.Config, snap *snapshot.Snapshot, results []policy.Result, ws *policy.Waivers,
	inventories map[string]*report.Inventory, failOn string, sources []string) *Evaluation {
	warnings := ws.Warnings()
	if cfg != nil {
		for _, w := range cfg.Waivers {
			if !strings.ContainsAny(w.Rule, "*?[") {
				if _, ok := eng.Rule(strings.ToUpper(w.Rule)); !ok {
					warnings = append(warnings, fmt.Sprintf("waiver at %s:%d names rule %s, which is not in the catalog (see audit policies list)", cfg.Path, w.Line, w.Rule))
				}
			}
		}
	}
	ps := eng.Settings()
	rep := report.Build(report.Input{
		Snapshot: snap, Results: results, Rules: eng.Rules(), AppIDs: ps.AppIDs, Regions: ps.Regions, Inventories: inventories,
		Digest: eng.Digest(), Sources: sources, ToolVersion: deps.ToolVersion, GeneratedAt: deps.now(), FailOn: failOn, Warnings: warnings,
	})
	return &Evaluation{Snapshot: snap, Results: results, Report: rep}
}

// waiversOf converts the config's waivers for the policy engine.
func waiversOf(cfg *config.Config) []policy.Waiver {
	if cfg == nil {
		return nil
	}
	out := make([]policy.Waiver, 0, len(cfg.Waivers))
	for _, w := range cfg.Waivers {
		where := ""
		if cfg.Path != "" {
			where = fmt.Sprintf("%s:%d", cfg.Path, w.Line)
		}
		out = append(out, policy.Waiver{Rule: w.Rule, Environment: w.Environment, Tenant: w.Tenant, Object: w.Object,
			Reason: w.Reason, Owner: w.Owner, Ticket: w.Ticket, Expires: w.Expires.Time, Where: where})
	}
	return out
}
