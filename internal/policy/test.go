package policy

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/work365/audit/policies"
)

// TestResult is the outcome of one Rego test.
type TestResult struct {
	Package  string
	Name     string
	File     string
	Pass     bool
	Error    string
	Duration time.Duration
}

// TestReport is the outcome of a run of the Rego tests, with coverage of the policy (non-test) files.
type TestReport struct {
	Results  []TestResult
	Coverage float64            // percent of policy lines covered
	Files    map[string]float64 // coverage per policy file
}

// Failed counts the failing tests.
func (r TestReport) Failed() int {
	n := 0
	for _, t := range r.Results {
		if !t.Pass {
			n++
		}
	}
	return n
}

// Test runs the Rego tests (`_test.rego`) of the embedded policies and of the given directories, with coverage.
func Test(ctx context.Context, dirs []string) (TestReport, error) {
	sources := []Source{{Name: "embedded", FS: policies.FS}}
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return TestReport{}, fmt.Errorf("policy directory %s is not a readable directory", d)
		}
		sources = append(sources, Source{Name: strings.TrimSuffix(d, "/"), FS: os.DirFS(d)})
	}
	b, err := readBundle(sources)
	if err != nil {
		return TestReport{}, err
	}
	all := map[string]*ast.Module{}
	for k, m := range b.modules {
		all[k] = m
	}
	for k, m := range b.tests {
		all[k] = m
	}
	store := inmem.NewFromObject(b.data)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return TestReport{}, err
	}
	defer store.Abort(ctx, txn)
	cov := cover.New()
	runner := tester.NewRunner().
		SetStore(store).
		SetModules(all).
		SetCoverageQueryTracer(cov).
		SetDefaultRegoVersion(ast.RegoV1).
		SetTimeout(time.Minute)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return TestReport{}, fmt.Errorf("run policy tests: %w", err)
	}
	var rep TestReport
	for r := range ch {
		tr := TestResult{Package: strings.TrimPrefix(r.Package, "data."), Name: r.Name, Pass: r.Pass(), Duration: r.Duration}
		if r.Location != nil {
			tr.File = r.Location.File
		}
		if r.Error != nil {
			tr.Error = r.Error.Error()
			tr.Pass = false
		}
		rep.Results = append(rep.Results, tr)
	}
	sort.Slice(rep.Results, func(i, j int) bool {
		if rep.Results[i].Package != rep.Results[j].Package {
			return rep.Results[i].Package < rep.Results[j].Package
		}
		return rep.Results[i].Name < rep.Results[j].Name
	})
	cr := cov.Report(b.modules)
	rep.Coverage = cr.Coverage
	rep.Files = map[string]float64{}
	for f, fr := range cr.Files {
		rep.Files[f] = fr.Coverage
	}
	return rep, nil
}
