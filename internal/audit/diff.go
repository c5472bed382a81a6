package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

// HistoryScans reads two runs of a history for a comparison: none named is previous and latest; one is that
// run and latest. What the older run could not read is filled from the last run that did.
func HistoryScans(ctx context.Context, path string, refs []string) (before, after drift.Scan, err error) {
	st, err := history.Open(ctx, path)
	if err != nil {
		return drift.Scan{}, drift.Scan{}, err
	}
	defer st.Close()
	pair := []string{"previous", "latest"}
	switch len(refs) {
	case 1:
		pair[0] = refs[0]
	case 2:
		pair = refs
	}
	var scans [2]drift.Scan
	for i, ref := range pair {
		run, err := st.Resolve(ctx, ref)
		if err != nil {
			return drift.Scan{}, drift.Scan{}, WithCode(CodeUsage, err)
		}
		sc, err := st.Scan(ctx, run.ID)
		if err != nil {
			return drift.Scan{}, drift.Scan{}, err
		}
		scans[i] = *sc
	}
	return scans[0], scans[1], nil
}

// FileScans reads two files for a comparison, each a JSON report (as it is) or a snapshot (evaluated with
// the config's policy data and waivers, cfg may be nil, and the given policy directories).
func FileScans(ctx context.Context, deps Deps, cfg *config.Config, paths [2]string, dirs []string) (before, after drift.Scan, err error) {
	var scans [2]drift.Scan
	for i, p := range paths {
		rep, err := readScan(ctx, deps, cfg, p, dirs)
		if err != nil {
			return drift.Scan{}, drift.Scan{}, err
		}
		scans[i] = drift.Scan{Report: rep, File: p}
	}
	return scans[0], scans[1], nil
}

func readScan(ctx context.Context, deps Deps, cfg *config.Config, path string, dirs []string) (*report.Report, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, WithCode(CodeUsage, err)
	}
	var head struct {
		Results json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, Usagef("%s is neither a snapshot nor a JSON report: %v", path, err)
	}
	if head.Results != nil {
		if err := report.ValidateJSON(raw); err != nil {
			return nil, Usagef("%s: %v", path, err)
		}
		var r report.Report
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, Usagef("%s: %v", path, err)
		}
		return &r, nil
	}
	snap, err := snapshot.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, Usagef("%s: %v", path, err)
	}
	eng, err := LoadEngine(ctx, cfg, dirs)
	if err != nil {
		return nil, err
	}
	ev, err := Evaluate(ctx, deps, eng, cfg, snap, "high", Sources(dirs))
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", path, err)
	}
	return ev.Report, nil
}
