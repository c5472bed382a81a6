package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/work365/audit/internal/snapshot"
	"github.com/work365/audit/policies"
)

// Result statuses.
const (
	StatusPass          = "pass"
	StatusFail          = "fail"
	StatusWaived        = "waived"
	StatusNotApplicable = "not_applicable"
	StatusError         = "error"
)

// Result is the outcome of one rule on one environment.
type Result struct {
	Tenant          string         `json:"tenant"`
	EnvironmentID   string         `json:"environment_id"`
	EnvironmentName string         `json:"environment_name"`
	RuleID          string         `json:"rule_id"`
	Title           string         `json:"title"`
	Status          string         `json:"status"`
	Severity        string         `json:"severity"`
	Message         string         `json:"message"`
	Evidence        map[string]any `json:"evidence,omitempty"`
	Remediation     *Remediation   `json:"remediation,omitempty"`
	Waiver          *WaiverInfo    `json:"waiver,omitempty"`
}

// Remediation is what to do about a failing result: the rule's advice and the structured actions `audit fix` runs.
type Remediation struct {
	Summary   string           `json:"summary"`
	Automatic bool             `json:"automatic"`
	OptIn     string           `json:"opt_in,omitempty"`
	Actions   []map[string]any `json:"actions"`
}

// WaiverInfo describes the waiver that applied to a result (or expired for it).
type WaiverInfo struct {
	Reason  string `json:"reason"`
	Owner   string `json:"owner"`
	Ticket  string `json:"ticket,omitempty"`
	Expires string `json:"expires"`
	Expired bool   `json:"expired"`
}

// Options configure the engine.
type Options struct {
	// Dirs are users' policy directories, added to the embedded policies.
	Dirs []string
	// Data is merged over the policy data of data.w365.config (App IDs, region map, role names, …).
	Data map[string]any
	// Workers bounds parallel evaluations; 0 uses every CPU.
	Workers int
}

// Engine evaluates snapshots with compiled rules. It is safe for concurrent use.
type Engine struct {
	rules   []Rule
	byID    map[string]*Rule
	data    map[string]any
	digest  string
	bundle  *bundle
	envQ    *rego.PreparedEvalQuery
	tenantQ *rego.PreparedEvalQuery
	workers int
}

// Load reads, checks and compiles the embedded policies and those of opts.Dirs.
func Load(ctx context.Context, opts Options) (*Engine, error) {
	sources := []Source{{Name: "embedded", FS: policies.FS}}
	for _, d := range opts.Dirs {
		st, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("policy directory: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("policy directory %s is not a directory", d)
		}
		sources = append(sources, Source{Name: strings.TrimSuffix(d, "/"), FS: os.DirFS(d)})
	}
	b, err := readBundle(sources)
	if err != nil {
		return nil, err
	}
	if len(opts.Data) > 0 {
		w365, _ := b.data["w365"].(map[string]any)
		if w365 == nil {
			w365 = map[string]any{}
			b.data["w365"] = w365
		}
		cfg, _ := w365["config"].(map[string]any)
		if cfg == nil {
			cfg = map[string]any{}
			w365["config"] = cfg
		}
		deepMerge(cfg, normalize(opts.Data))
	}
	e := &Engine{rules: b.rules, byID: map[string]*Rule{}, data: b.data, digest: b.digest, bundle: b, workers: opts.Workers}
	if e.workers <= 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	for i := range e.rules {
		e.byID[e.rules[i].ID] = &e.rules[i]
	}
	compiler := ast.NewCompiler().WithStrict(false)
	compiler.Compile(b.modules)
	if compiler.Failed() {
		return nil, fmt.Errorf("compile policies: %w", compiler.Errors)
	}
	store := inmem.NewFromObject(b.data)
	for _, scope := range []string{ScopeEnvironment, ScopeTenant} {
		q := e.query(scope)
		if q == "" {
			continue
		}
		pq, err := rego.New(rego.Query(q), rego.Compiler(compiler), rego.Store(store)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare %s rules: %w", scope, err)
		}
		if scope == ScopeEnvironment {
			e.envQ = &pq
		} else {
			e.tenantQ = &pq
		}
	}
	return e, nil
}

// normalize round-trips config values through JSON so YAML's types (int, map[string]any) become Rego's.
func normalize(m map[string]any) map[string]any {
	raw, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&out) != nil {
		return m
	}
	return out
}

// query builds one query that evaluates every rule of a scope at once: result := {id: {"deny": …, "na": …}}.
func (e *Engine) query(scope string) string {
	var parts []string
	for _, r := range e.rules {
		if r.Scope != scope {
			continue
		}
		na := "set()"
		if r.hasNotApplicable {
			na = "data." + r.Package + ".not_applicable"
		}
		parts = append(parts, fmt.Sprintf("%s: {\"deny\": data.%s.deny, \"na\": %s}", strconv.Quote(r.ID), r.Package, na))
	}
	if len(parts) == 0 {
		return ""
	}
	return "result := {" + strings.Join(parts, ", ") + "}"
}

// Rules returns the catalog, sorted by ID.
func (e *Engine) Rules() []Rule { return e.rules }

// Rule returns the catalog entry of id.
func (e *Engine) Rule(id string) (Rule, bool) {
	r, ok := e.byID[id]
	if !ok {
		return Rule{}, false
	}
	return *r, true
}

// Digest identifies the policy bundle (every policy and data file) by its SHA-256.
func (e *Engine) Digest() string { return e.digest }

// Data returns the effective policy data (after the config's overrides).
func (e *Engine) Data() map[string]any { return e.data }

// Config returns data.w365.config, the policy data the embedded rules read.
func (e *Engine) Config() map[string]any {
	w, _ := e.data["w365"].(map[string]any)
	c, _ := w["config"].(map[string]any)
	return c
}

type envRef struct {
	tenant *snapshot.Tenant
	env    *snapshot.Environment
}

// Evaluate runs every rule on every environment of the snapshot: first the environment-scoped rules, then the
// tenant-scoped ones, which see the first results. Before the second phase, adjust (when non-nil) may change
// the first results (waivers), so tenant rules see what the report will show.
func (e *Engine) Evaluate(ctx context.Context, snap *snapshot.Snapshot, adjust func([]Result)) ([]Result, error) {
	var refs []envRef
	for ti := range snap.Tenants {
		t := &snap.Tenants[ti]
		for ei := range t.Environments {
			refs = append(refs, envRef{tenant: t, env: &t.Environments[ei]})
		}
	}
	summaries := map[*snapshot.Tenant][]map[string]any{}
	for ti := range snap.Tenants {
		t := &snap.Tenants[ti]
		for ei := range t.Environments {
			summaries[t] = append(summaries[t], summary(&t.Environments[ei]))
		}
	}
	first, err := e.evalAll(ctx, refs, ScopeEnvironment, e.envQ, func(ref envRef) map[string]any {
		return map[string]any{"tenant": map[string]any{"name": ref.tenant.Name, "id": ref.tenant.ID, "environments": summaries[ref.tenant]}}
	})
	if err != nil {
		return nil, err
	}
	if adjust != nil {
		adjust(first)
	}
	if e.tenantQ == nil {
		sortResults(first)
		return first, nil
	}
	// Attach the first phase's results to the summaries the tenant rules read.
	byEnv := map[string]map[string]any{}
	for _, r := range first {
		m := byEnv[r.EnvironmentID]
		if m == nil {
			m = map[string]any{}
			byEnv[r.EnvironmentID] = m
		}
		m[r.RuleID] = map[string]any{"status": r.Status, "severity": r.Severity}
	}
	withResults := map[*snapshot.Tenant][]map[string]any{}
	for t, sums := range summaries {
		for _, s := range sums {
			cp := map[string]any{}
			for k, v := range s {
				cp[k] = v
			}
			res := byEnv[s["id"].(string)]
			if res == nil {
				res = map[string]any{}
			}
			cp["results"] = res
			withResults[t] = append(withResults[t], cp)
		}
	}
	second, err := e.evalAll(ctx, refs, ScopeTenant, e.tenantQ, func(ref envRef) map[string]any {
		return map[string]any{"tenant": map[string]any{"name": ref.tenant.Name, "id": ref.tenant.ID, "environments": withResults[ref.tenant]}}
	})
	if err != nil {
		return nil, err
	}
	if adjust != nil {
		adjust(second)
	}
	all := append(first, second...)
	sortResults(all)
	return all, nil
}

func summary(env *snapshot.Environment) map[string]any {
	s := map[string]any{"id": env.ID, "name": env.Name, "type": env.Type, "region": env.Region, "status": env.Status,
		"work365_installed": false, "work365_version": ""}
	if env.Dataverse != nil {
		s["work365_installed"] = env.Dataverse.Work365.Installed
		s["work365_version"] = env.Dataverse.Work365.Version
	}
	return s
}

// evalAll evaluates one scope's rules on every environment, in parallel.
func (e *Engine) evalAll(ctx context.Context, refs []envRef, scope string, q *rego.PreparedEvalQuery, tenantInput func(envRef) map[string]any) ([]Result, error) {
	var scoped []Rule
	for _, r := range e.rules {
		if r.Scope == scope {
			scoped = append(scoped, r)
		}
	}
	out := make([][]Result, len(refs))
	errs := make([]error, len(refs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < e.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = e.evalOne(ctx, refs[i], scoped, q, tenantInput)
			}
		}()
	}
	for i := range refs {
		next <- i
	}
	close(next)
	wg.Wait()
	var all []Result
	for i := range refs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		all = append(all, out[i]...)
	}
	return all, nil
}

func (e *Engine) evalOne(ctx context.Context, ref envRef, rules []Rule, q *rego.PreparedEvalQuery, tenantInput func(envRef) map[string]any) ([]Result, error) {
	env := ref.env
	base := func(r Rule) Result {
		return Result{Tenant: ref.tenant.Name, EnvironmentID: env.ID, EnvironmentName: env.Name, RuleID: r.ID, Title: r.Title, Severity: r.Severity}
	}
	out := make([]Result, 0, len(rules))
	if env.Status == snapshot.StatusError {
		msg := "the environment could not be read completely"
		if env.Error != nil {
			msg = "could not collect " + env.Error.Stage + ": " + env.Error.Message
		}
		for _, r := range rules {
			res := base(r)
			res.Status, res.Message = StatusError, msg
			out = append(out, res)
		}
		return out, nil
	}
	input, err := environmentInput(env)
	if err != nil {
		return nil, err
	}
	for k, v := range tenantInput(ref) {
		input[k] = v
	}
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return nil, fmt.Errorf("evaluate environment %s (%s): %w", env.Name, env.ID, err)
	}
	var decisions map[string]any
	if len(rs) > 0 && len(rs[0].Bindings) > 0 {
		decisions, _ = rs[0].Bindings["result"].(map[string]any)
	}
	for _, r := range rules {
		res := base(r)
		d, _ := decisions[r.ID].(map[string]any)
		if d == nil {
			res.Status, res.Message = StatusError, "the rule produced no decision (undefined): check its package for errors"
			out = append(out, res)
			continue
		}
		na := strs(d["na"])
		deny, _ := d["deny"].([]any)
		switch {
		case len(na) > 0:
			res.Status, res.Message = StatusNotApplicable, strings.Join(na, "; ")
		case len(deny) > 0:
			res.Status = StatusFail
			res.Message, res.Evidence, res.Remediation = denial(r, deny)
		default:
			res.Status = StatusPass
		}
		out = append(out, res)
	}
	return out, nil
}

// environmentInput is the JSON form of an environment, as the rules read it under input.environment.
func environmentInput(env *snapshot.Environment) (map[string]any, error) {
	raw, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return map[string]any{"environment": v}, nil
}

func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		} else {
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	sort.Strings(out)
	return out
}

// denial merges a rule's deny set into one result. Rules emit one object per environment; several (or plain
// strings, conftest style) are merged in a stable order.
func denial(r Rule, deny []any) (string, map[string]any, *Remediation) {
	type item struct {
		msg      string
		evidence map[string]any
		actions  []map[string]any
	}
	items := make([]item, 0, len(deny))
	for _, d := range deny {
		switch v := d.(type) {
		case string:
			items = append(items, item{msg: v})
		case map[string]any:
			it := item{}
			if s, ok := v["message"].(string); ok {
				it.msg = s
			} else if s, ok := v["msg"].(string); ok {
				it.msg = s
			}
			it.evidence, _ = v["evidence"].(map[string]any)
			if acts, ok := v["actions"].([]any); ok {
				for _, a := range acts {
					if am, ok := a.(map[string]any); ok {
						it.actions = append(it.actions, am)
					}
				}
			}
			items = append(items, it)
		default:
			b, _ := json.Marshal(v)
			items = append(items, item{msg: string(b)})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].msg < items[j].msg })
	rem := &Remediation{Summary: r.Remediation, Automatic: r.Automatic, OptIn: r.OptIn, Actions: []map[string]any{}}
	if len(items) == 1 {
		rem.Actions = append(rem.Actions, items[0].actions...)
		return items[0].msg, items[0].evidence, rem
	}
	msgs := make([]string, len(items))
	findings := make([]any, len(items))
	for i, it := range items {
		msgs[i] = it.msg
		findings[i] = map[string]any{"message": it.msg, "evidence": it.evidence}
		rem.Actions = append(rem.Actions, it.actions...)
	}
	return strings.Join(msgs, "; "), map[string]any{"findings": findings}, rem
}

// sortResults orders results by tenant, environment name, environment ID and rule ID.
func sortResults(rs []Result) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.EnvironmentName != b.EnvironmentName {
			return a.EnvironmentName < b.EnvironmentName
		}
		if a.EnvironmentID != b.EnvironmentID {
			return a.EnvironmentID < b.EnvironmentID
		}
		return a.RuleID < b.RuleID
	})
}
