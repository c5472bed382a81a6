package policy

import (
	"sort"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func constantsOf(t *testing.T, module string, data map[string]any) map[string]string {
	t.Helper()
	parsed, err := ast.ParseModule("test.rego", module)
	require.NoError(t, err)
	compiler := ast.NewCompiler().WithEnablePrintStatements(true)
	compiler.Compile(map[string]*ast.Module{"test.rego": parsed})
	require.False(t, compiler.Failed(), "%v", compiler.Errors)
	cs, err := findConstants(t.Context(), compiler, inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true)))
	require.NoError(t, err)
	out := map[string]string{}
	for _, list := range cs.byName {
		for _, c := range list {
			if c.undefined {
				out[c.ref.String()] = "undefined"
			} else {
				out[c.ref.String()] = c.value.String()
			}
		}
	}
	return out
}

func TestConstantRulesAreThoseThatDoNotReadTheInput(t *testing.T) {
	t.Parallel()
	got := constantsOf(t, `package p

limit := 3
names := {n | some n in data.cfg.names}
label := sprintf("%d names", [count(names)])
from_function := double(limit)
double(x) := x * 2
never if false

reads_input := input.x
via_rule := reads_input
via_function := f(1)
f(x) := x + input.y
now := time.now_ns()
printed if print("x")
replaced := n if {
	n := count(names) with data.cfg.names as []
}
partial contains 1
object_rule[k] := 1 if some k in data.cfg.names
g(x) := x
`, map[string]any{"cfg": map[string]any{"names": []any{"a", "b"}}})
	assert.Equal(t, map[string]string{
		"data.p.limit":         "3",
		"data.p.names":         `{"a", "b"}`,
		"data.p.label":         `"2 names"`,
		"data.p.from_function": "6",
		"data.p.never":         "undefined",
	}, got)
}

func TestAConstantRuleThatCannotBeEvaluatedIsLeftToEachEvaluation(t *testing.T) {
	t.Parallel()
	got := constantsOf(t, `package p

limit := 3
conflict := 1
conflict := 2
`, nil)
	assert.Equal(t, map[string]string{"data.p.limit": "3"}, got)
}

func TestTheEmbeddedPoliciesConstantsComeFromThePolicyData(t *testing.T) {
	t.Parallel()
	eng, err := Load(t.Context(), Options{Data: map[string]any{"roles": map[string]any{"service": "Billing Service"}, "min_version": "4.1.0"}})
	require.NoError(t, err)
	var refs []string
	for _, list := range eng.consts.byName {
		for _, c := range list {
			refs = append(refs, c.ref.String())
		}
	}
	sort.Strings(refs)
	assert.Contains(t, refs, "data.w365.lib.required_roles")
	assert.NotContains(t, refs, "data.w365.lib.env")
	assert.NotContains(t, refs, "data.w365.lib.app_user")
	c, ok := eng.consts.get(ast.MustParseRef("data.w365.lib.service_role"))
	require.True(t, ok)
	assert.Equal(t, `"Billing Service"`, c.value.String())
	c, ok = eng.consts.get(ast.MustParseRef("data.w365.lib.minimum_version_key"))
	require.True(t, ok)
	assert.Equal(t, "[4, 1]", c.value.String())
}

func TestEvaluationWithConstantsDecidesAsWithout(t *testing.T) {
	t.Parallel()
	eng, err := Load(t.Context(), Options{})
	require.NoError(t, err)
	snap := benchSnapshot(40)
	with, err := eng.Evaluate(t.Context(), snap, nil)
	require.NoError(t, err)
	plain := *eng
	plain.consts = nil
	without, err := plain.Evaluate(t.Context(), snap, nil)
	require.NoError(t, err)
	assert.Equal(t, without, with)
}

func TestConstantCacheHidesConstantsInsideWith(t *testing.T) {
	t.Parallel()
	ref := ast.MustParseRef("data.p.limit")
	cs := &constants{byName: map[string][]constant{"limit": {{ref: ref, value: ast.IntNumberTerm(3)}}}}
	c := newConstantCache(cs)
	v, undefined := c.Get(ref)
	assert.Equal(t, ast.IntNumberTerm(3), v)
	assert.False(t, undefined)
	c.Push()
	v, _ = c.Get(ref)
	assert.Nil(t, v, "a with may replace the data the constant was computed from")
	c.Pop()
	v, _ = c.Get(ref)
	assert.Equal(t, ast.IntNumberTerm(3), v)
}

func TestFlatCacheKeepsOneFramePerWith(t *testing.T) {
	t.Parallel()
	// A function's cache key is its reference followed by its arguments.
	key := func() ast.Ref {
		return ast.MustParseRef("data.p.f").Append(ast.StringTerm("x")).Append(ast.ObjectTerm([2]*ast.Term{ast.StringTerm("k"), ast.IntNumberTerm(1)}))
	}
	a, b := ast.MustParseRef("data.p.a"), key()
	c := newFlatCache()
	c.Put(a, ast.StringTerm("one"))
	c.Put(b, nil)
	v, undefined := c.Get(a)
	assert.Equal(t, ast.StringTerm("one"), v)
	assert.False(t, undefined)
	v, undefined = c.Get(key())
	assert.Nil(t, v)
	assert.True(t, undefined, "an undefined result is remembered")
	v, undefined = c.Get(ast.MustParseRef("data.p.b"))
	assert.Nil(t, v)
	assert.False(t, undefined, "not cached")

	c.Push()
	v, _ = c.Get(a)
	assert.Nil(t, v, "a new frame starts empty")
	c.Put(a, ast.StringTerm("two"))
	v, _ = c.Get(a)
	assert.Equal(t, ast.StringTerm("two"), v)
	assert.Len(t, c.Keys(), 1)
	c.Pop()
	v, _ = c.Get(a)
	assert.Equal(t, ast.StringTerm("one"), v)
	c.Put(a, ast.StringTerm("three"))
	v, _ = c.Get(a)
	assert.Equal(t, ast.StringTerm("three"), v)
	assert.Equal(t, []ast.Ref{a}, c.Keys(), "undefined results are not keys")
}
