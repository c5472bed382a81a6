package policy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

func TestZZRuleCost(t *testing.T) {
	ctx := context.Background()
	base, err := Load(ctx, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	snap := benchSnapshot(1000)
	compiler := ast.NewCompiler().WithStrict(false)
	compiler.Compile(base.bundle.modules)
	store := inmem.NewFromObject(base.bundle.data)
	measure := func(rules []Rule) time.Duration {
		e := *base
		e.rules = rules
		q := e.query(ScopeEnvironment)
		pq, err := rego.New(rego.Query(q), rego.Compiler(compiler), rego.Store(store), rego.GenerateJSON(keepValue)).PrepareForEval(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.envQ = &pq
		e.tenantQ = nil
		best := time.Hour
		for range 3 {
			start := time.Now()
			if _, err := e.Evaluate(ctx, snap, nil); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < best {
				best = d
			}
		}
		return best
	}
	var envRules []Rule
	for _, r := range base.rules {
		if r.Scope == ScopeEnvironment {
			envRules = append(envRules, r)
		}
	}
	all := measure(envRules)
	fmt.Printf("all %d rules: %.3f ms/env\n", len(envRules), float64(all.Microseconds())/1000/1000)
	for _, r := range envRules {
		d := measure([]Rule{r})
		fmt.Printf("%-16s alone %.3f ms/env\n", r.ID, float64(d.Microseconds())/1000/1000)
	}
}
