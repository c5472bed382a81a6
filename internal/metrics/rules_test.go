package metrics

import (
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The alert rules of docs/examples are valid for Prometheus (its own rule parser: the YAML structure, each
// PromQL expression, the templates of labels and annotations), and every metric they name is one the
// scheduler serves.
func TestTheExampleAlertRulesAreValidAndNameServedMetrics(t *testing.T) {
	t.Parallel()
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile(filepath.Join("..", "..", "docs", "examples", "prometheus", "work365-audit-alerts.yaml"),
		false, model.UTF8Validation, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Empty(t, errs)

	served := servedNames(t)
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
			assert.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], r.Alert)
			expr, err := p.ParseExpr(r.Expr)
			require.NoError(t, err, r.Alert)
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					assert.Contains(t, served, vs.Name, "%s names a metric the scheduler does not serve", r.Alert)
				}
				return nil
			})
		}
	}
	sort.Strings(alerts)
	assert.Equal(t, []string{"Work365AuditCriticalFailure", "Work365AuditEnvironmentNotAuditable", "Work365AuditNoSuccessfulRun",
		"Work365AuditSchedulerAbsent", "Work365AuditTenantNotAuditable"}, alerts)
}

// servedNames are the names of the metrics a scheduler serves once it has run.
func servedNames(t *testing.T) []string {
	t.Helper()
	m := New(Options{Now: func() time.Time { return start }})
	m.Next(start)
	m.RunFinished(Run{Started: start, Ended: start, ExitCode: 4, Report: twoTenants()})
	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range fams {
		names = append(names, f.GetName())
	}
	return names
}
