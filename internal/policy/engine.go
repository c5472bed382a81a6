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
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/work365/audit/internal/snapshot"
	"github.com/work365/audit/policies"
)

// Status is the outcome of one rule on one environment.
type Status string

// Result statuses.
const (
	StatusPass          Status = "pass"
	StatusFail          Status = "fail"
	StatusWaived        Status = "waived"
	StatusNotApplicable Status = "not_applicable"
	StatusError         Status = "error"
)

// Result is the outcome of one rule on one environment.
type Result struct {
	Tenant          string         `json:"tenant"`
	EnvironmentID   string         `json:"environment_id"`
	EnvironmentName string         `json:"environment_name"`
	RuleID          string         `json:"rule_id"`
	Title           string         `json:"title"`
	Status          Status         `json:"status"`
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
	rules  []Rule
	byID   map[string]*Rule
	data   map[string]any
	digest string
	bundle *bundle
	envQ   *rego.PreparedEvalQuery
	// envEachQ is envQ with each decision collected in an array: defined even when a rule's is not, so that
	// such a rule can be told apart from the others (envQ is then undefined as a whole).
	envEachQ *rego.PreparedEvalQuery
	tenantQ  *rego.PreparedEvalQuery
	consts   *constants
	workers  int
	settings Settings
}

// Load reads, checks and compiles the embedded policies and those of opts.Dirs.
func Load(ctx context.Context, opts Options) (*Engine, error) {
	sources, err := sourcesOf(opts)
	if err != nil {
		return nil, err
	}
	b, err := readBundle(sources)
	if err != nil {
		return nil, err
	}
	mergeConfigData(b.data, opts.Data)
	e := &Engine{rules: b.rules, byID: map[string]*Rule{}, data: b.data, digest: b.digest, bundle: b, workers: opts.Workers}
	if e.settings, err = decodeSettings(e.Config()); err != nil {
		return nil, &LoadError{File: settingsSource, Msg: err.Error()}
	}
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
	store := inmem.NewFromObjectWithOpts(b.data, inmem.OptReturnASTValuesOnRead(true))
	if e.consts, err = findConstants(ctx, compiler, store); err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	prepare := func(q string) (*rego.PreparedEvalQuery, error) {
		if q == "" {
			return nil, nil
		}
		// Results stay in Rego's form: evalOne converts only the sets that hold something.
		pq, err := rego.New(rego.Query(q), rego.Compiler(compiler), rego.Store(store), rego.GenerateJSON(keepValue)).PrepareForEval(ctx)
		return &pq, err
	}
	if e.envQ, err = prepare(e.environmentQuery(false)); err != nil {
		return nil, fmt.Errorf("prepare environment rules: %w", err)
	}
	if e.envEachQ, err = prepare(e.environmentQuery(true)); err != nil {
		return nil, fmt.Errorf("prepare environment rules: %w", err)
	}
	if e.tenantQ, err = prepare(e.query(ScopeTenant)); err != nil {
		return nil, fmt.Errorf("prepare tenant rules: %w", err)
	}
	return e, nil
}

// sourcesOf lists the policy trees of opts: the embedded policies, then the users' directories.
func sourcesOf(opts Options) ([]Source, error) {
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
	return sources, nil
}

// mergeConfigData merges the config's policy data over data.w365.config.
func mergeConfigData(data, over map[string]any) {
	if len(over) == 0 {
		return
	}
	w365, _ := data["w365"].(map[string]any)
	if w365 == nil {
		w365 = map[string]any{}
		data["w365"] = w365
	}
	cfg, _ := w365["config"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{}
		w365["config"] = cfg
	}
	deepMerge(cfg, normalize(over))
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

// environmentQuery evaluates every environment-scoped rule at once, each decision bound to its own variable
// (d0 := data.….deny; n0 := data.….not_applicable; …): the results come back as they are, without an object
// built around them for every environment.
// With each, every decision is collected in an array of none or one value instead.
func (e *Engine) environmentQuery(each bool) string {
	var parts []string
	bind := func(v, ref string) {
		if each {
			parts = append(parts, fmt.Sprintf("%s := [x | x := %s]", v, ref))
		} else {
			parts = append(parts, fmt.Sprintf("%s := %s", v, ref))
		}
	}
	i := 0
	for _, r := range e.rules {
		if r.Scope != ScopeEnvironment {
			continue
		}
		bind(denyVar(i), "data."+r.Package+".deny")
		if r.hasNotApplicable {
			bind(naVar(i), "data."+r.Package+".not_applicable")
		}
		if r.hasPassInfo {
			bind(passVar(i), "data."+r.Package+".pass_info")
		}
		i++
	}
	return strings.Join(parts, "; ")
}

// denyVar, naVar and passVar name the variables of the i-th environment-scoped rule's decisions.
func denyVar(i int) string { return "d" + strconv.Itoa(i) }
func naVar(i int) string   { return "n" + strconv.Itoa(i) }
func passVar(i int) string { return "p" + strconv.Itoa(i) }

// Workers returns how many environments are evaluated at once.
func (e *Engine) Workers() int { return e.workers }

// Batch is the evaluation of a snapshot written as one document and one query for the OPA command line, so that
// `opa eval` can be timed on the same input and policies as the engine: each environment is evaluated with its
// own input (`with input as …`), first by the environment-scoped rules, then by the tenant-scoped ones.
type Batch struct {
	// Input holds "environments" ({"tenant": index, "environment": …}) and "tenants" ({"first": input.tenant of
	// the first phase, "second": of the second}).
	Input map[string]any
	// Query binds environment_scope and tenant_scope to the decisions of each environment.
	Query string
	// Data is the effective policy data.
	Data map[string]any
	// Environments counts the environments evaluated (those that could not be read get no evaluation).
	Environments int
}

// Batch describes the evaluation of snap, given the results of a previous Evaluate of it (the second phase's
// input carries the first phase's results).
func (e *Engine) Batch(snap *snapshot.Snapshot, results []Result) (*Batch, error) {
	var first []Result
	for _, r := range results {
		if rule, ok := e.byID[r.RuleID]; ok && rule.Scope == ScopeEnvironment {
			first = append(first, r)
		}
	}
	docs1, docs2 := tenantDocs(snap, nil), tenantDocs(snap, first)
	var tenants, envs []any
	for ti := range snap.Tenants {
		t := &snap.Tenants[ti]
		tenants = append(tenants, map[string]any{"first": docs1[t], "second": docs2[t]})
		for ei := range t.Environments {
			env := &t.Environments[ei]
			if env.Status == snapshot.StatusError {
				continue
			}
			raw, err := json.Marshal(env)
			if err != nil {
				return nil, err
			}
			envs = append(envs, map[string]any{"tenant": ti, "environment": json.RawMessage(raw)})
		}
	}
	b := &Batch{Input: map[string]any{"tenants": tenants, "environments": envs}, Data: e.data, Environments: len(envs)}
	query := func(scope string) string {
		if q := strings.TrimPrefix(e.query(scope), "result := "); q != "" {
			return q
		}
		return "{}"
	}
	// Environment-scoped rules run once per environment; tenant-scoped ones once per tenant, their decisions
	// then sorted to the environments they name, as Evaluate does. The tenant document is bound to a variable
	// first: a reference into a variable (t.second) inside a with value does not see the outer input.
	b.Query = fmt.Sprintf("environment_scope := [r | some x in input.environments; t := input.tenants[x.tenant].first; "+
		"env := x.environment; r := %s with input as {\"environment\": env, \"tenant\": t}]; "+
		"tenant_scope := [r | some t in input.tenants; second := t.second; d := %s with input as {\"tenant\": second}; "+
		"some s in second.environments; s.status != \"error\"; "+
		"r := {id: {\"deny\": [x | some x in v.deny; x.environment_id == s.id], \"na\": [x | some x in v.na; x.environment_id == s.id]} | some id, v in d}]",
		query(ScopeEnvironment), query(ScopeTenant))
	return b, nil
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

// envRef is one environment to evaluate.
type envRef struct {
	tenant *snapshot.Tenant
	env    *snapshot.Environment
}

// Evaluate runs every rule on every environment of the snapshot: first the environment-scoped rules, then the
// tenant-scoped ones, which see the first results. Before the second phase, adjust (when non-nil) may change
// the first results (waivers), so tenant rules see what the report will show.
//
// The input documents are built in Rego's own form (ast.Value) rather than handed over as Go maps, which the
// OPA API would copy and convert on every evaluation: each environment is converted once, just before its
// evaluation, and each tenant's document (the summaries of all its environments) once per phase, shared by
// all of its environments. Evaluation thus grows with the number of environments, not with its square.
func (e *Engine) Evaluate(ctx context.Context, snap *snapshot.Snapshot, adjust func([]Result)) ([]Result, error) {
	defer relaxGC()()
	var refs []*envRef
	for ti := range snap.Tenants {
		t := &snap.Tenants[ti]
		for ei := range t.Environments {
			refs = append(refs, &envRef{tenant: t, env: &t.Environments[ei]})
		}
	}
	tenants, err := tenantValues(snap, nil)
	if err != nil {
		return nil, err
	}
	first, err := e.evalAll(ctx, refs, ScopeEnvironment, e.envQ, tenants)
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
	if tenants, err = tenantValues(snap, first); err != nil {
		return nil, err
	}
	second, err := e.evalTenants(ctx, snap, tenants)
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

// tenantDocs builds input.tenant for every tenant: its name, ID and its environments — as the environment list
// gives them in the first phase (results nil), and as collected, with the first phase's results, in the second.
func tenantDocs(snap *snapshot.Snapshot, results []Result) map[*snapshot.Tenant]map[string]any {
	var byEnv map[string]map[string]any
	if results != nil {
		byEnv = map[string]map[string]any{}
		for _, r := range results {
			m := byEnv[r.EnvironmentID]
			if m == nil {
				m = map[string]any{}
				byEnv[r.EnvironmentID] = m
			}
			m[r.RuleID] = map[string]any{"status": r.Status, "severity": r.Severity}
		}
	}
	out := map[*snapshot.Tenant]map[string]any{}
	for ti := range snap.Tenants {
		t := &snap.Tenants[ti]
		sums := make([]any, 0, len(t.Environments))
		for ei := range t.Environments {
			if byEnv == nil {
				sums = append(sums, listed(&t.Environments[ei]))
				continue
			}
			s := summary(&t.Environments[ei])
			res := byEnv[t.Environments[ei].ID]
			if res == nil {
				res = map[string]any{}
			}
			s["results"] = res
			sums = append(sums, s)
		}
		out[t] = map[string]any{"name": t.Name, "id": t.ID, "environments": sums}
	}
	return out
}

// tenantValues builds the documents of tenantDocs directly in Rego's form, once for all the environments that
// share them: the second phase's carries a result per (environment, rule), and converting Go maps of them cost
// more than evaluating the tenant rules.
func tenantValues(snap *snapshot.Snapshot, results []Result) (map[*snapshot.Tenant]ast.Value, error) {
	var byEnv map[string][][2]*ast.Term
	if results != nil {
		byEnv = resultTerms(results)
	}
	out := map[*snapshot.Tenant]ast.Value{}
	for ti := range snap.Tenants {
		t := &snap.Tenants[ti]
		sums := make([]*ast.Term, 0, len(t.Environments))
		for ei := range t.Environments {
			env := &t.Environments[ei]
			if byEnv == nil {
				sums = append(sums, ast.NewTerm(ast.NewObject(listedItems(env)...)))
				continue
			}
			items := append(summaryItems(env), [2]*ast.Term{keyResults, ast.NewTerm(ast.NewObject(byEnv[env.ID]...))})
			sums = append(sums, ast.NewTerm(ast.NewObject(items...)))
		}
		out[t] = tenantObject(t, sums)
	}
	return out, nil
}

// resultTerms are the first phase's results by environment, as the second phase's summaries carry them: rule
// ID → {"status", "severity"}. Rule IDs and the few (status, severity) pairs are shared by every environment:
// one term each.
func resultTerms(results []Result) map[string][][2]*ast.Term {
	byEnv := map[string][][2]*ast.Term{}
	ids := map[string]*ast.Term{}
	pairs := map[[2]string]*ast.Term{}
	for _, r := range results {
		id := ids[r.RuleID]
		if id == nil {
			id = ast.StringTerm(r.RuleID)
			ids[r.RuleID] = id
		}
		pair := pairs[[2]string{string(r.Status), r.Severity}]
		if pair == nil {
			pair = ast.ObjectTerm([2]*ast.Term{keyStatus, ast.StringTerm(string(r.Status))}, [2]*ast.Term{keySeverity, ast.StringTerm(r.Severity)})
			pairs[[2]string{string(r.Status), r.Severity}] = pair
		}
		byEnv[r.EnvironmentID] = append(byEnv[r.EnvironmentID], [2]*ast.Term{id, pair})
	}
	return byEnv
}

var (
	keyID               = ast.StringTerm("id")
	keyName             = ast.StringTerm("name")
	keyEnvironments     = ast.StringTerm("environments")
	keyResults          = ast.StringTerm("results")
	keyStatus           = ast.StringTerm("status")
	keySeverity         = ast.StringTerm("severity")
	keyType             = ast.StringTerm("type")
	keyRegion           = ast.StringTerm("region")
	keyHasDataverse     = ast.StringTerm("has_dataverse")
	keyWork365Installed = ast.StringTerm("work365_installed")
	keyWork365Version   = ast.StringTerm("work365_version")
	keySkipReason       = ast.StringTerm("skip_reason")
)

// listedItems is what the environment list says of an environment: the first phase's summary, known before any
// environment is read, so that an environment can be evaluated as soon as it is collected.
func listedItems(env *snapshot.Environment) [][2]*ast.Term {
	return [][2]*ast.Term{
		{keyID, ast.StringTerm(env.ID)},
		{keyName, ast.StringTerm(env.Name)},
		{keyType, ast.StringTerm(env.Type)},
		{keyRegion, ast.StringTerm(env.Region)},
		{keyHasDataverse, ast.BooleanTerm(env.HasDataverse)},
	}
}

func listed(env *snapshot.Environment) map[string]any {
	return map[string]any{"id": env.ID, "name": env.Name, "type": env.Type, "region": env.Region, "has_dataverse": env.HasDataverse}
}

// summaryItems is summary in Rego's form.
func summaryItems(env *snapshot.Environment) [][2]*ast.Term {
	installed, version := false, ""
	if env.Dataverse != nil {
		installed, version = env.Dataverse.Work365.Installed, env.Dataverse.Work365.Version
	}
	items := make([][2]*ast.Term, 0, 10)
	items = append(items,
		[2]*ast.Term{keyID, ast.StringTerm(env.ID)},
		[2]*ast.Term{keyName, ast.StringTerm(env.Name)},
		[2]*ast.Term{keyType, ast.StringTerm(env.Type)},
		[2]*ast.Term{keyRegion, ast.StringTerm(env.Region)},
		[2]*ast.Term{keyStatus, ast.StringTerm(env.Status)},
		[2]*ast.Term{keyHasDataverse, ast.BooleanTerm(env.HasDataverse)},
		[2]*ast.Term{keyWork365Installed, ast.BooleanTerm(installed)},
		[2]*ast.Term{keyWork365Version, ast.StringTerm(version)},
	)
	if env.SkipReason != "" {
		items = append(items, [2]*ast.Term{keySkipReason, ast.StringTerm(env.SkipReason)})
	}
	return items
}

func summary(env *snapshot.Environment) map[string]any {
	s := map[string]any{"id": env.ID, "name": env.Name, "type": env.Type, "region": env.Region, "status": env.Status,
		"has_dataverse": env.HasDataverse, "work365_installed": false, "work365_version": ""}
	if env.SkipReason != "" {
		s["skip_reason"] = env.SkipReason
	}
	if env.Dataverse != nil {
		s["work365_installed"] = env.Dataverse.Work365.Installed
		s["work365_version"] = env.Dataverse.Work365.Version
	}
	return s
}

// evalTenants evaluates the tenant-scoped rules once per tenant, on input.tenant (the summaries of its
// environments with the first phase's results), and turns their decisions — each naming the environment it is
// about — into one result per (environment, rule). A decision without an environment_id concerns every
// environment of the tenant.
func (e *Engine) evalTenants(ctx context.Context, snap *snapshot.Snapshot, tenants map[*snapshot.Tenant]ast.Value) ([]Result, error) {
	var rules []Rule
	for _, r := range e.rules {
		if r.Scope == ScopeTenant {
			rules = append(rules, r)
		}
	}
	out := make([][]Result, len(snap.Tenants))
	errs := make([]error, len(snap.Tenants))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(e.workers, len(snap.Tenants)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(snap.Tenants) {
					return
				}
				t := &snap.Tenants[i]
				out[i], errs[i] = e.evalTenant(ctx, t, rules, tenants[t])
			}
		}()
	}
	wg.Wait()
	var all []Result
	for i := range out {
		if errs[i] != nil {
			return nil, errs[i]
		}
		all = append(all, out[i]...)
	}
	return all, nil
}

func (e *Engine) evalTenant(ctx context.Context, t *snapshot.Tenant, rules []Rule, tenant ast.Value) ([]Result, error) {
	if len(t.Environments) == 0 {
		return nil, nil
	}
	input := ast.NewObject([2]*ast.Term{keyTenant, ast.NewTerm(tenant)})
	rs, err := e.tenantQ.Eval(ctx, rego.EvalParsedInput(input), rego.EvalVirtualCache(newConstantCache(e.consts)))
	if err != nil {
		return nil, fmt.Errorf("evaluate tenant %s: %w", t.Name, err)
	}
	var decisions ast.Object
	if len(rs) > 0 && len(rs[0].Bindings) > 0 {
		decisions, _ = rs[0].Bindings["result"].(ast.Object)
	}
	out := make([]Result, 0, len(t.Environments)*len(rules))
	for _, r := range rules {
		var d ast.Object
		if decisions != nil {
			if term := decisions.Get(ast.StringTerm(r.ID)); term != nil {
				d, _ = term.Value.(ast.Object)
			}
		}
		var na, deny []any
		if d != nil {
			if na, err = members(d, "na"); err != nil {
				return nil, fmt.Errorf("evaluate tenant %s: %s: %w", t.Name, r.ID, err)
			}
			if deny, err = members(d, "deny"); err != nil {
				return nil, fmt.Errorf("evaluate tenant %s: %s: %w", t.Name, r.ID, err)
			}
		}
		naBy, denyBy := byEnvironment(na), byEnvironment(deny)
		for ei := range t.Environments {
			env := &t.Environments[ei]
			res := Result{Tenant: t.Name, EnvironmentID: env.ID, EnvironmentName: env.Name, RuleID: r.ID, Title: r.Title, Severity: r.Severity}
			reasons := append(append([]any{}, naBy[""]...), naBy[env.ID]...)
			denials := append(append([]any{}, denyBy[""]...), denyBy[env.ID]...)
			switch {
			case env.Status == snapshot.StatusError:
				res.Status, res.Message = StatusError, errorMessage(env)
			case d == nil:
				res.Status, res.Message = StatusError, "the rule produced no decision (undefined): check its package for errors"
			case len(reasons) > 0:
				res.Status, res.Message = StatusNotApplicable, strings.Join(strs(reasons), "; ")
			case len(denials) > 0:
				res.Status = StatusFail
				res.Message, res.Evidence, res.Remediation = denial(r, denials)
			default:
				res.Status = StatusPass
			}
			out = append(out, res)
		}
	}
	return out, nil
}

// byEnvironment groups a tenant rule's decisions by the environment they name ("" for the whole tenant),
// leaving the reason of a not-applicable decision and dropping environment_id from a denial.
func byEnvironment(items []any) map[string][]any {
	out := map[string][]any{}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			out[""] = append(out[""], it)
			continue
		}
		id, _ := m["environment_id"].(string)
		if reason, ok := m["reason"]; ok && len(m) <= 2 {
			out[id] = append(out[id], reason)
			continue
		}
		cp := make(map[string]any, len(m))
		for k, v := range m {
			if k != "environment_id" {
				cp[k] = v
			}
		}
		out[id] = append(out[id], cp)
	}
	return out
}

func errorMessage(env *snapshot.Environment) string {
	if env.Error != nil {
		return "could not collect " + env.Error.Stage + ": " + env.Error.Message
	}
	return "the environment could not be read completely"
}

// evalAll evaluates one scope's rules on every environment, in parallel.
func (e *Engine) evalAll(ctx context.Context, refs []*envRef, scope string, q *rego.PreparedEvalQuery, tenants map[*snapshot.Tenant]ast.Value) ([]Result, error) {
	var scoped []Rule
	for _, r := range e.rules {
		if r.Scope == scope {
			scoped = append(scoped, r)
		}
	}
	out := make([][]Result, len(refs))
	errs := make([]error, len(refs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(e.workers, len(refs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(refs) {
					return
				}
				out[i], errs[i] = e.evalOne(ctx, refs[i], scoped, q, tenants[refs[i].tenant])
			}
		}()
	}
	wg.Wait()
	n := 0
	for i := range refs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		n += len(out[i])
	}
	all := make([]Result, 0, n)
	for i := range refs {
		all = append(all, out[i]...)
	}
	return all, nil
}

var (
	keyEnvironment = ast.StringTerm("environment")
	keyTenant      = ast.StringTerm("tenant")
)

func (e *Engine) evalOne(ctx context.Context, ref *envRef, rules []Rule, q *rego.PreparedEvalQuery, tenant ast.Value) ([]Result, error) {
	env := ref.env
	base := func(r Rule) Result {
		return Result{Tenant: ref.tenant.Name, EnvironmentID: env.ID, EnvironmentName: env.Name, RuleID: r.ID, Title: r.Title, Severity: r.Severity}
	}
	out := make([]Result, 0, len(rules))
	if env.Status == snapshot.StatusError {
		msg := errorMessage(env)
		for _, r := range rules {
			res := base(r)
			res.Status, res.Message = StatusError, msg
			out = append(out, res)
		}
		return out, nil
	}
	// The input document lives for this evaluation only: the tenant-scoped rules read input.tenant alone, so
	// the heap the collector marks does not grow with the environments evaluated.
	doc, err := environmentValue(env)
	if err != nil {
		return nil, fmt.Errorf("environment %s (%s): input: %w", env.Name, env.ID, err)
	}
	input := ast.NewObject([2]*ast.Term{keyEnvironment, ast.NewTerm(doc)}, [2]*ast.Term{keyTenant, ast.NewTerm(tenant)})
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input), rego.EvalVirtualCache(newConstantCache(e.consts)))
	if err != nil {
		return nil, fmt.Errorf("evaluate environment %s (%s): %w", env.Name, env.ID, err)
	}
	var bindings rego.Vars
	if len(rs) > 0 {
		bindings = rs[0].Bindings
	}
	value := func(name string) (ast.Value, bool) {
		v, ok := bindings[name].(ast.Value)
		return v, ok
	}
	if bindings == nil {
		// Some rule has no decision: find out which, without losing the others'.
		if rs, err = e.envEachQ.Eval(ctx, rego.EvalParsedInput(input), rego.EvalVirtualCache(newConstantCache(e.consts))); err != nil {
			return nil, fmt.Errorf("evaluate environment %s (%s): %w", env.Name, env.ID, err)
		}
		if len(rs) > 0 {
			bindings = rs[0].Bindings
		}
		value = func(name string) (ast.Value, bool) {
			if a, ok := bindings[name].(*ast.Array); ok && a.Len() == 1 {
				return a.Elem(0).Value, true
			}
			return nil, false
		}
	}
	for i, r := range rules {
		res := base(r)
		d, ok := value(denyVar(i))
		if !ok {
			res.Status, res.Message = StatusError, "the rule produced no decision (undefined): check its package for errors"
			out = append(out, res)
			continue
		}
		var na []any
		if v, ok := value(naVar(i)); ok {
			if na, err = setMembers(v); err != nil {
				return nil, fmt.Errorf("evaluate environment %s (%s): %s: not_applicable %w", env.Name, env.ID, r.ID, err)
			}
		}
		deny, err := setMembers(d)
		if err != nil {
			return nil, fmt.Errorf("evaluate environment %s (%s): %s: deny %w", env.Name, env.ID, r.ID, err)
		}
		switch {
		case len(na) > 0:
			res.Status, res.Message = StatusNotApplicable, strings.Join(strs(na), "; ")
		case len(deny) > 0:
			res.Status = StatusFail
			res.Message, res.Evidence, res.Remediation = denial(r, deny)
		default:
			res.Status = StatusPass
			if v, ok := value(passVar(i)); ok {
				info, err := setMembers(v)
				if err != nil {
					return nil, fmt.Errorf("evaluate environment %s (%s): %s: pass_info %w", env.Name, env.ID, r.ID, err)
				}
				res.Message, res.Evidence = passInfo(info)
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// passInfo is what a passing rule says about why it passes: the message and evidence of its pass_info
// decision (the first, in the set's order, when there are several).
func passInfo(info []any) (string, map[string]any) {
	if len(info) == 0 {
		return "", nil
	}
	m, _ := info[0].(map[string]any)
	msg, _ := m["message"].(string)
	ev, _ := m["evidence"].(map[string]any)
	return msg, ev
}

// keepValue hands evaluation results over as they are, in Rego's form.
func keepValue(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil }

// members returns the elements of d[key] (a set, or an array) as JSON-shaped Go values.
func members(d ast.Object, key string) ([]any, error) {
	t := d.Get(ast.StringTerm(key))
	if t == nil {
		return nil, nil
	}
	arr, err := setMembers(t.Value)
	if err != nil {
		return nil, fmt.Errorf("%s %w", key, err)
	}
	return arr, nil
}

// setMembers returns the elements of a set (or an array) as JSON-shaped Go values; most sets are empty, and
// those cost nothing to convert.
func setMembers(v ast.Value) ([]any, error) {
	switch v := v.(type) {
	case ast.Set:
		if v.Len() == 0 {
			return nil, nil
		}
	case *ast.Array:
		if v.Len() == 0 {
			return nil, nil
		}
	default:
		return nil, fmt.Errorf("is a %s, not a set", ast.ValueName(v))
	}
	x, err := ast.JSON(v)
	if err != nil {
		return nil, err
	}
	arr, _ := x.([]any)
	return arr, nil
}

// environmentValue is the JSON form of an environment, as the rules read it under input.environment, built
// directly in Rego's representation from the bytes encoding/json writes (so the JSON form stays the one the
// contract documents) without decoding them into Go maps first.
func environmentValue(env *snapshot.Environment) (ast.Value, error) {
	raw, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	d := jsonDecoder{b: raw}
	v, err := d.value()
	if err != nil {
		return nil, fmt.Errorf("decode environment JSON at byte %d: %w", d.i, err)
	}
	return v, nil
}

func strs(arr []any) []string {
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
