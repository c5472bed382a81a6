package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

var (
	resultsDesc = prometheus.NewDesc(Namespace+"_results",
		"Results of the last complete run by tenant, environment, rule, severity and status (pass, fail, waived, not_applicable, error).",
		[]string{"tenant", "environment", "environment_id", "rule", "severity", "status"}, nil)
	environmentsDesc = prometheus.NewDesc(Namespace+"_environments",
		"Environments of the last complete run by tenant and overall status: the worst of their results (error: could not be audited).",
		[]string{"tenant", "status"}, nil)
	unauditableDesc = prometheus.NewDesc(Namespace+"_environment_unauditable",
		"1 when the environment could not be read in the last complete run (its results are error), else 0.",
		[]string{"tenant", "environment", "environment_id"}, nil)
	tenantUnauditableDesc = prometheus.NewDesc(Namespace+"_tenant_unauditable",
		"1 when the tenant's environment list could not be read in the last complete run (none of its environments were audited), else 0.",
		[]string{"tenant"}, nil)
)

// resultsCollector shows the results of the last complete run. A new run replaces them whole, under a lock,
// so a scrape sees one run or the other, never a mix, and nothing of an environment that is gone.
type resultsCollector struct {
	mu   sync.Mutex
	rows []row
}

type row struct {
	desc   *prometheus.Desc
	value  float64
	labels []string
}

func newResultsCollector() *resultsCollector { return &resultsCollector{} }

// set replaces the rows with those of rep.
func (c *resultsCollector) set(rep *report.Report) {
	var rows []row
	type resultKey struct{ tenant, env, envID, rule, severity, status string }
	results := map[resultKey]int{}
	for _, r := range rep.Results {
		results[resultKey{r.Tenant, r.EnvironmentName, r.EnvironmentID, r.RuleID, r.Severity, string(r.Status)}]++
	}
	for k, n := range results {
		rows = append(rows, row{resultsDesc, float64(n), []string{k.tenant, k.env, k.envID, k.rule, k.severity, k.status}})
	}
	type envKey struct{ tenant, status string }
	envs := map[envKey]int{}
	for _, t := range rep.Tenants {
		// Every status of every tenant, at 0 when none: a sum over a status that is gone reads 0, not nothing.
		for _, s := range []policy.Status{policy.StatusPass, policy.StatusFail, policy.StatusNotApplicable, policy.StatusError} {
			envs[envKey{t.Name, string(s)}] += 0
		}
		rows = append(rows, row{tenantUnauditableDesc, boolValue(t.Error != ""), []string{t.Name}})
	}
	for _, e := range rep.Environments {
		envs[envKey{e.Tenant, string(e.Status)}]++
		rows = append(rows, row{unauditableDesc, boolValue(e.CollectionStatus == snapshot.StatusError), []string{e.Tenant, e.Name, e.ID}})
	}
	for k, n := range envs {
		rows = append(rows, row{environmentsDesc, float64(n), []string{k.tenant, k.status}})
	}
	c.mu.Lock()
	c.rows = rows
	c.mu.Unlock()
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Describe sends the descriptions of the four families.
func (c *resultsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{resultsDesc, environmentsDesc, unauditableDesc, tenantUnauditableDesc} {
		ch <- d
	}
}

// Collect sends the rows of the last complete run.
func (c *resultsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	rows := c.rows
	c.mu.Unlock()
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(r.desc, prometheus.GaugeValue, r.value, r.labels...)
	}
}
