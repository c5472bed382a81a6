package policy

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Some rules do not depend on the input at all: the role names and App IDs of the policy data, the
// minimum version parsed, a rule's own constants. OPA caches a rule's value for one evaluation only, so
// every environment would compute them again. The engine evaluates them once when it loads and hands each
// evaluation a cache that already holds them.
//
// A rule is constant when nothing it reads, directly or through the rules and functions it calls, is the
// input, and it calls no non-deterministic built-in (time, random numbers, HTTP, …) nor print, and uses no
// `with`. Only complete rules with a simple name are cached; within a `with` (which may replace data) the
// values are not used.

// constant is the value of one constant rule; undefined when the rule has none. The evaluation cache keeps
// its entries in the same form.
type constant struct {
	ref       ast.Ref
	value     *ast.Term
	undefined bool
}

type flatEntry = constant

// constants are the constant rules of a compiled policy set, by the last element of their reference.
type constants struct {
	byName map[string][]constant
	count  int
}

// findConstants evaluates every constant rule of the compiler's modules once, on the store's data.
func findConstants(ctx context.Context, compiler *ast.Compiler, store storage.Store) (*constants, error) {
	a := constAnalysis{c: compiler, memo: map[*ast.Rule]bool{}, busy: map[*ast.Rule]bool{}}
	out := &constants{byName: map[string][]constant{}}
	var err error
	var visit func(node *ast.TreeNode)
	visit = func(node *ast.TreeNode) {
		if err != nil {
			return
		}
		if len(node.Values) > 0 {
			if ref, ok := a.constantPath(node); ok {
				// A rule that cannot be evaluated (conflicting values, say) is left to each evaluation, which
				// reports the error only when a rule reads it, as without this cache.
				if c, cerr := evalConstant(ctx, compiler, store, ref); cerr == nil {
					name := string(ref[len(ref)-1].Value.(ast.String))
					out.byName[name] = append(out.byName[name], c)
					out.count++
				} else if ctx.Err() != nil {
					err = ctx.Err()
				}
			}
		}
		for _, child := range node.Sorted {
			visit(node.Children[child])
		}
	}
	visit(compiler.RuleTree)
	return out, err
}

func evalConstant(ctx context.Context, compiler *ast.Compiler, store storage.Store, ref ast.Ref) (constant, error) {
	q := ast.NewBody(ast.Equality.Expr(ast.VarTerm("x"), ast.NewTerm(ref)))
	rs, err := rego.New(rego.ParsedQuery(q), rego.Compiler(compiler), rego.Store(store), rego.GenerateJSON(keepValue)).Eval(ctx)
	if err != nil {
		return constant{}, fmt.Errorf("evaluate %v: %w", ref, err)
	}
	if len(rs) == 0 {
		return constant{ref: ref, undefined: true}, nil
	}
	v, ok := rs[0].Bindings["x"].(ast.Value)
	if !ok {
		return constant{}, fmt.Errorf("evaluate %v: unexpected result %T", ref, rs[0].Bindings["x"])
	}
	return constant{ref: ref, value: ast.NewTerm(v)}, nil
}

// get returns the value of the constant rule at ref, if it is one.
func (cs *constants) get(ref ast.Ref) (constant, bool) {
	if cs == nil || len(ref) == 0 {
		return constant{}, false
	}
	name, ok := ref[len(ref)-1].Value.(ast.String)
	if !ok {
		return constant{}, false
	}
	for _, c := range cs.byName[string(name)] {
		if c.ref.Equal(ref) {
			return c, true
		}
	}
	return constant{}, false
}

// constantCache is the cache of one evaluation, holding the constants in its outermost frame.
type constantCache struct {
	topdown.VirtualCache
	consts *constants
	depth  int
}

func newConstantCache(cs *constants) *constantCache {
	return &constantCache{VirtualCache: newFlatCache(), consts: cs}
}

func (c *constantCache) Push() {
	c.depth++
	c.VirtualCache.Push()
}

func (c *constantCache) Pop() {
	c.depth--
	c.VirtualCache.Pop()
}

func (c *constantCache) Get(ref ast.Ref) (*ast.Term, bool) {
	// Most lookups are of references evaluated before in this evaluation: ask the cache first.
	if v, undefined := c.VirtualCache.Get(ref); v != nil || undefined || c.depth > 0 {
		return v, undefined
	}
	if k, ok := c.consts.get(ref); ok {
		return k.value, k.undefined
	}
	return nil, false
}

// constAnalysis decides which rules are constant.
type constAnalysis struct {
	c    *ast.Compiler
	memo map[*ast.Rule]bool
	busy map[*ast.Rule]bool
}

// constantPath returns the reference of a rule tree node whose rules are all complete, argument-less,
// simply named and constant.
func (a *constAnalysis) constantPath(node *ast.TreeNode) (ast.Ref, bool) {
	var path ast.Ref
	for _, r := range node.Values {
		if r.Head.RuleKind() != ast.SingleValue || len(r.Head.Args) > 0 || len(r.Head.Ref()) != 1 ||
			r.Head.Key != nil || !a.rule(r) {
			return nil, false
		}
		if path == nil {
			path = r.Path()
		}
	}
	if !path.IsGround() {
		return nil, false
	}
	if _, ok := path[len(path)-1].Value.(ast.String); !ok {
		return nil, false
	}
	return path, true
}

func (a *constAnalysis) rule(r *ast.Rule) bool {
	if v, ok := a.memo[r]; ok {
		return v
	}
	if a.busy[r] {
		return false
	}
	a.busy[r] = true
	constant := true
	vis := ast.NewGenericVisitor(func(x any) bool {
		if !constant {
			return true
		}
		switch x := x.(type) {
		case *ast.Expr:
			if len(x.With) > 0 {
				constant = false
			} else if x.IsCall() {
				name := x.Operator().String()
				if b, ok := ast.BuiltinMap[name]; ok && (b.Nondeterministic || name == ast.Print.Name || name == ast.InternalPrint.Name || name == ast.Trace.Name) {
					constant = false
				}
			}
		case ast.Ref:
			if !a.ref(x) {
				constant = false
			}
		}
		return !constant
	})
	vis.Walk(r)
	delete(a.busy, r)
	a.memo[r] = constant
	return constant
}

// ref decides whether what a reference reads is constant: local variables and base documents are, the
// input is not, and virtual documents are when all the rules under the reference's ground prefix are.
func (a *constAnalysis) ref(ref ast.Ref) bool {
	switch {
	case ref[0].Equal(ast.InputRootDocument):
		return false
	case !ref[0].Equal(ast.DefaultRootDocument):
		return true
	}
	for _, r := range a.c.GetRules(ref.GroundPrefix()) {
		if !a.rule(r) {
			return false
		}
	}
	return true
}

// flatCache is a VirtualCache keyed by the hash of the whole reference: one map lookup per access where
// OPA's walks a tree of maps, one per element of the reference. References whose hashes collide with
// another's go to a short list.
type flatCache struct {
	frames []flatFrame
}

type flatFrame struct {
	byHash   map[int]flatEntry
	collided []flatEntry
}

// An evaluation of the embedded rules caches a couple of hundred references; the map grows from this size.
const flatCacheSize = 64

func newFlatCache() *flatCache {
	c := &flatCache{}
	c.Push()
	return c
}

func (c *flatCache) Push() {
	c.frames = append(c.frames, flatFrame{byHash: make(map[int]flatEntry, flatCacheSize)})
}

func (c *flatCache) Pop() { c.frames = c.frames[:len(c.frames)-1] }

func (c *flatCache) Get(ref ast.Ref) (*ast.Term, bool) {
	f := &c.frames[len(c.frames)-1]
	if e, ok := f.byHash[ref.Hash()]; ok && e.ref.Equal(ref) {
		return e.value, e.undefined
	}
	for _, e := range f.collided {
		if e.ref.Equal(ref) {
			return e.value, e.undefined
		}
	}
	return nil, false
}

func (c *flatCache) Put(ref ast.Ref, value *ast.Term) {
	f := &c.frames[len(c.frames)-1]
	h := ref.Hash()
	e, ok := f.byHash[h]
	switch {
	case !ok || e.ref.Equal(ref):
		// The evaluator reuses the slice of a function's cache key: keep a copy of it.
		f.byHash[h] = flatEntry{ref: append(ast.Ref(nil), ref...), value: value, undefined: value == nil}
	default:
		for i := range f.collided {
			if f.collided[i].ref.Equal(ref) {
				f.collided[i].value, f.collided[i].undefined = value, value == nil
				return
			}
		}
		f.collided = append(f.collided, flatEntry{ref: append(ast.Ref(nil), ref...), value: value, undefined: value == nil})
	}
}

func (c *flatCache) Keys() []ast.Ref {
	f := &c.frames[len(c.frames)-1]
	var keys []ast.Ref
	for _, e := range f.byHash {
		if !e.undefined {
			keys = append(keys, e.ref)
		}
	}
	for _, e := range f.collided {
		if !e.undefined {
			keys = append(keys, e.ref)
		}
	}
	return keys
}
