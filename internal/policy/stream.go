package policy

import (
	"context"
	"fmt"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/work365/audit/internal/snapshot"
)

// TenantEvaluation evaluates one tenant's environments as they are collected, so that a scan need not hold
// every environment's data until the end: Environment runs the environment-scoped rules on one environment
// (with input.tenant as the environment list gives it, which is known before any environment is read), and
// Finish runs the tenant-scoped rules on the summaries of the environments as collected, with their first
// results. Per environment it keeps only its summary and the status and severity of each first result. The
// results are those of Evaluate on the whole tenant, unsorted (SortResults orders them).
type TenantEvaluation struct {
	e      *Engine
	tenant *snapshot.Tenant
	listed ast.Value // the first phase's input.tenant
	adjust func([]Result)
	rules  []Rule // environment-scoped

	mu      sync.Mutex
	envs    map[string]snapshot.Environment // as collected, without their data
	summary map[string][][2]*ast.Term
	first   []Result // status and severity only: what the second phase reads
}

// BeginTenant starts the evaluation of a tenant whose environment list is known: t.Environments hold what the
// list says (their data, if any, is not read). adjust, when non-nil, changes results before anything reads them
// (waivers), as Evaluate's does.
func (e *Engine) BeginTenant(t *snapshot.Tenant, adjust func([]Result)) *TenantEvaluation {
	sums := make([]*ast.Term, 0, len(t.Environments))
	for i := range t.Environments {
		sums = append(sums, ast.NewTerm(ast.NewObject(listedItems(&t.Environments[i])...)))
	}
	te := &TenantEvaluation{e: e, tenant: t, adjust: adjust, envs: map[string]snapshot.Environment{}, summary: map[string][][2]*ast.Term{},
		listed: tenantObject(t, sums)}
	for _, r := range e.rules {
		if r.Scope == ScopeEnvironment {
			te.rules = append(te.rules, r)
		}
	}
	return te
}

func tenantObject(t *snapshot.Tenant, sums []*ast.Term) ast.Value {
	return ast.NewObject(
		[2]*ast.Term{keyName, ast.StringTerm(t.Name)},
		[2]*ast.Term{keyID, ast.StringTerm(t.ID)},
		[2]*ast.Term{keyEnvironments, ast.ArrayTerm(sums...)},
	)
}

// Environment evaluates the environment-scoped rules on one collected environment of the tenant and returns
// their results (adjusted). The environment's data may be dropped once it returns. It is safe for concurrent
// use.
func (te *TenantEvaluation) Environment(ctx context.Context, env *snapshot.Environment) ([]Result, error) {
	res, err := te.e.evalOne(ctx, &envRef{tenant: te.tenant, env: env}, te.rules, te.e.envQ, te.listed)
	if err != nil {
		return nil, err
	}
	if te.adjust != nil {
		te.adjust(res)
	}
	slim := *env
	slim.Dataverse = nil
	items := summaryItems(env)
	te.mu.Lock()
	defer te.mu.Unlock()
	te.envs[env.ID] = slim
	te.summary[env.ID] = items
	for _, r := range res {
		te.first = append(te.first, Result{EnvironmentID: r.EnvironmentID, RuleID: r.RuleID, Status: r.Status, Severity: r.Severity})
	}
	return res, nil
}

// Finish evaluates the tenant-scoped rules once every environment of the tenant went through Environment
// (one that did not is summarized as listed) and returns their results (adjusted).
func (te *TenantEvaluation) Finish(ctx context.Context) ([]Result, error) {
	if te.e.tenantQ == nil {
		return nil, nil
	}
	te.mu.Lock()
	defer te.mu.Unlock()
	byEnv := resultTerms(te.first)
	collected := *te.tenant
	collected.Environments = make([]snapshot.Environment, len(te.tenant.Environments))
	sums := make([]*ast.Term, 0, len(collected.Environments))
	for i, listedEnv := range te.tenant.Environments {
		env, ok := te.envs[listedEnv.ID]
		if !ok {
			env = listedEnv
			env.Dataverse = nil
		}
		collected.Environments[i] = env
		items, ok := te.summary[env.ID]
		if !ok {
			items = summaryItems(&env)
		}
		items = append(append([][2]*ast.Term{}, items...), [2]*ast.Term{keyResults, ast.NewTerm(ast.NewObject(byEnv[env.ID]...))})
		sums = append(sums, ast.NewTerm(ast.NewObject(items...)))
	}
	var tenantRules []Rule
	for _, r := range te.e.rules {
		if r.Scope == ScopeTenant {
			tenantRules = append(tenantRules, r)
		}
	}
	res, err := te.e.evalTenant(ctx, &collected, tenantRules, tenantObject(&collected, sums))
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", te.tenant.Name, err)
	}
	if te.adjust != nil {
		te.adjust(res)
	}
	return res, nil
}

// SortResults orders results as Evaluate returns them: by tenant, environment name and ID, then rule.
func SortResults(rs []Result) { sortResults(rs) }
