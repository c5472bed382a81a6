package history

import (
	"context"
	"fmt"
	"strings"

	"github.com/work365/audit/internal/report"
)

// Trend reads the last complete runs of a scope before run before (0: any), at most limit of them, oldest
// first, as a report's trends read them: failing results by severity (from each run's summary), by rule and
// by environment (counted by the store from the pairs it keeps, without reading any run's report). An
// environment every result of which was an error is one the run could not read.
func (s *Store) Trend(ctx context.Context, scope string, before int64, limit int) ([]report.PastRun, error) {
	if before == 0 {
		before = 1<<63 - 1
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+runColumns+" FROM runs WHERE scope = ? AND status = ? AND id < ? ORDER BY id DESC LIMIT ?",
		scope, StatusComplete, before, limit)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	var runs []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read history: %w", err)
		}
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	if len(runs) == 0 {
		return nil, nil
	}
	out := make([]report.PastRun, len(runs))
	at := map[int64]*report.PastRun{}
	ids := make([]any, len(runs))
	for i, r := range runs {
		p := &out[len(runs)-1-i] // oldest first
		*p = report.PastRun{RunID: r.ID, CollectedAt: r.CollectedAt, BySeverity: map[string]int{}, ByRule: map[string]int{},
			ByEnvironment: map[string]*int{}}
		if r.Summary != nil {
			for sev, counts := range r.Summary.BySeverity {
				if n := counts["fail"]; n > 0 {
					p.BySeverity[sev] = n
				}
			}
		}
		at[r.ID], ids[i] = p, r.ID
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
	// The rules of a run are those of any one of its environments, which has a result of each: reading one
	// environment's (by the key's order) spares counting every pair by rule.
	for _, r := range runs {
		rules, err := s.column(ctx, `SELECT rule_id FROM results WHERE run_id = ?1 AND environment_id =
			(SELECT environment_id FROM results WHERE run_id = ?1 ORDER BY environment_id LIMIT 1)`, r.ID)
		if err != nil {
			return nil, err
		}
		for _, rule := range rules {
			at[r.ID].ByRule[rule] = 0
		}
	}
	if err := s.each(ctx, `SELECT run_id, rule_id, count(*) FROM results WHERE run_id IN `+in+` AND status = 'fail' GROUP BY run_id, rule_id`, ids,
		func(run int64, key string, failing, _ int) { at[run].ByRule[key] = failing }); err != nil {
		return nil, err
	}
	if err := s.each(ctx, `SELECT run_id, environment_id, sum(status = 'fail'), sum(status <> 'error') FROM results WHERE run_id IN `+in+
		` GROUP BY run_id, environment_id`, ids, func(run int64, key string, failing, read int) {
		var n *int
		if read > 0 {
			n = &failing
		}
		at[run].ByEnvironment[key] = n
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// column runs a query of one text column.
func (s *Store) column(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	return out, nil
}

// each runs a query whose rows are a run ID, a key and two counts (the second 0 when the query has one).
func (s *Store) each(ctx context.Context, query string, args []any, f func(run int64, key string, a, b int)) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		var run int64
		var key string
		var a, b int
		dest := []any{&run, &key, &a, &b}[:len(cols)]
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read history: %w", err)
		}
		f(run, key, a, b)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	return nil
}
