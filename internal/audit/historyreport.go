package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/glob"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/historyreport"
	"github.com/work365/audit/internal/termtext"
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

// HistoryReportOptions are those of audit history report, as given.
type HistoryReportOptions struct {
	Since   string   // --since: Nd, Nw, Nm, Ny or all
	Formats string   // --format: a comma-separated list of html, markdown and json
	Output  string   // --output: a directory ("" for the default), or - for one format on standard output
	Tenants []string // --tenant patterns
	Envs    []string // --env patterns
	Quiet   bool     // say nothing of the files written
}

// WriteHistoryReport checks the options, opens the history, builds its report and writes it: each format
// to OUTPUT/history.<ext>, or the one format to stdout. It returns the files written.
func WriteHistoryReport(ctx context.Context, deps Deps, o HistoryReportOptions, open func() (*history.Store, error), stdout io.Writer) ([]string, error) {
	w, err := historyreport.ParseWindow(o.Since)
	if err != nil {
		return nil, WithCode(CodeUsage, err)
	}
	fs, err := historyreport.ParseFormats(o.Formats)
	if err != nil {
		return nil, WithCode(CodeUsage, err)
	}
	if o.Output == "-" && len(fs) != 1 {
		return nil, Usagef("--output - writes one format to standard output, but %d were asked (%s)", len(fs), o.Formats)
	}
	st, err := open()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	r, err := HistoryReport(ctx, st, historyreport.Options{Window: w, Tenants: o.Tenants, Environments: o.Envs, ToolVersion: deps.ToolVersion})
	if err != nil {
		return nil, err
	}
	if o.Output == "-" {
		return nil, fs[0].Write(stdout, r)
	}
	written, err := historyreport.WriteFiles(orDefault(o.Output), fs, r)
	if len(written) > 0 && !o.Quiet {
		termtext.Fprintf(deps.stderr(), "wrote %s (%s, %s)\n", strings.Join(written, ", "), Plural(r.Summary.Runs, "run", "runs"),
			Plural(r.Summary.Open, "open finding", "open findings"))
	}
	return written, err
}
