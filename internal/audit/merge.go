package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/work365/audit/internal/report"
)

// MergeReports reads the JSON reports of the parts of a sharded scan and merges them into the report of the
// whole scan (report.Merge). Files that are not reports of audit scan, and parts that do not belong together,
// are usage errors.
func MergeReports(paths []string, now time.Time) (*report.Report, error) {
	parts := make([]report.Part, 0, len(paths))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, WithCode(CodeUsage, fmt.Errorf("read report: %w", err))
		}
		if err := report.ValidateJSON(raw); err != nil {
			return nil, Usagef("%s is not a JSON report of audit scan: %v", p, err)
		}
		var r report.Report
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, Usagef("%s: %v", p, err)
		}
		parts = append(parts, report.Part{Name: p, Report: &r})
	}
	merged, err := report.Merge(parts, now)
	if err != nil {
		return nil, WithCode(CodeUsage, fmt.Errorf("merge: %w", err))
	}
	return merged, nil
}
