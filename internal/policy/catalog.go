// Package policy compiles the Rego rules (embedded and users' own) once, reads their METADATA into the rule
// catalog, and evaluates a snapshot into one result per (environment, rule).
package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Severities in decreasing order.
var Severities = []string{"critical", "high", "medium", "low"}

// SeverityRank orders severities: critical is 4, low is 1, unknown is 0.
func SeverityRank(s string) int {
	for i, v := range Severities {
		if v == s {
			return len(Severities) - i
		}
	}
	return 0
}

// Rule is one catalog entry, read from the METADATA of its package.
type Rule struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Severity    string     `json:"severity"`
	Guide       string     `json:"guide,omitempty"`
	Remediation string     `json:"remediation,omitempty"`
	Automatic   bool       `json:"automatic"`
	OptIn       string     `json:"opt_in,omitempty"`
	Scope       string     `json:"scope"` // environment or tenant
	Package     string     `json:"package"`
	Source      string     `json:"source"` // "embedded" or the policy directory
	File        string     `json:"file"`
	Related     []Resource `json:"related_resources,omitempty"`

	hasNotApplicable bool
	hasPassInfo      bool
}

// Resource is a related link of a rule.
type Resource struct {
	Ref         string `json:"ref"`
	Description string `json:"description,omitempty"`
}

// Scopes of a rule.
const (
	ScopeEnvironment = "environment"
	ScopeTenant      = "tenant"
)

// Source is a tree of policy files: the embedded policies or a user's directory.
type Source struct {
	Name string // "embedded" or the directory path
	FS   fs.FS
}

// bundle is what was read from the sources: modules to compile, test modules, data, and the catalog.
type bundle struct {
	modules map[string]*ast.Module // by display file name
	origin  map[string]string      // display file name → source name
	tests   map[string]*ast.Module
	data    map[string]any
	rules   []Rule
	digest  string
}

// LoadError is a policy that does not follow the contract, naming its file.
type LoadError struct {
	File string
	Msg  string
}

func (e *LoadError) Error() string { return e.File + ": " + e.Msg }

func readBundle(sources []Source) (*bundle, error) {
	b := &bundle{modules: map[string]*ast.Module{}, tests: map[string]*ast.Module{}, data: map[string]any{}, origin: map[string]string{}}
	h := sha256.New()
	for _, src := range sources {
		var files []string
		err := fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".rego") || path.Base(p) == "data.json") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read policies from %s: %w", src.Name, err)
		}
		sort.Strings(files)
		for _, p := range files {
			raw, err := fs.ReadFile(src.FS, p)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", display(src, p), err)
			}
			name := display(src, p)
			b.origin[name] = src.Name
			fmt.Fprintf(h, "%s\x00%d\x00", path.Join(src.Name, p), len(raw))
			h.Write(raw)
			if path.Base(p) == "data.json" {
				if err := mergeDataFile(b.data, path.Dir(p), raw); err != nil {
					return nil, &LoadError{File: name, Msg: err.Error()}
				}
				continue
			}
			m, err := ast.ParseModuleWithOpts(name, string(raw), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
			if err != nil {
				return nil, fmt.Errorf("parse policy: %w", err)
			}
			if strings.HasSuffix(p, "_test.rego") {
				b.tests[name] = m
				continue
			}
			b.modules[name] = m
		}
	}
	b.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	rules, err := catalog(b.modules, b.origin)
	if err != nil {
		return nil, err
	}
	b.rules = rules
	return b, nil
}

func display(src Source, p string) string {
	if src.Name == "embedded" {
		return "policies/" + p
	}
	return path.Join(src.Name, p)
}

// mergeDataFile places a data.json at the data path of its directory (policies/w365/config → data.w365.config).
func mergeDataFile(data map[string]any, dir string, raw []byte) error {
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("data.json is not a JSON object: %w", err)
	}
	node := data
	if dir != "." {
		for _, seg := range strings.Split(dir, "/") {
			next, ok := node[seg].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[seg] = next
			}
			node = next
		}
	}
	deepMerge(node, v)
	return nil
}

// deepMerge merges src into dst: objects merge key by key, anything else replaces.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
			cp := map[string]any{}
			deepMerge(cp, sm)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

// catalog reads the rule entries from package METADATA and checks the contract.
func catalog(modules map[string]*ast.Module, origin map[string]string) ([]Rule, error) {
	type pkgInfo struct {
		rule               *Rule
		file               string
		deny, na, passInfo bool
		files              []string
	}
	pkgs := map[string]*pkgInfo{}
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, file := range names {
		m := modules[file]
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		info := pkgs[pkg]
		if info == nil {
			info = &pkgInfo{}
			pkgs[pkg] = info
		}
		info.files = append(info.files, file)
		for _, r := range m.Rules {
			switch headName(r) {
			case "deny":
				info.deny = true
			case "not_applicable":
				info.na = true
			case "pass_info":
				info.passInfo = true
			}
		}
		for _, a := range m.Annotations {
			if a.Scope != "package" {
				continue
			}
			id, _ := a.Custom["id"].(string)
			if id == "" {
				continue
			}
			if info.rule != nil {
				return nil, &LoadError{File: file, Msg: fmt.Sprintf("package %s already has rule metadata in %s", pkg, info.file)}
			}
			r, err := ruleFromAnnotations(a, pkg, file, origin[file])
			if err != nil {
				return nil, &LoadError{File: file, Msg: err.Error()}
			}
			info.rule, info.file = r, file
		}
	}
	var rules []Rule
	byID := map[string]string{}
	pkgNames := make([]string, 0, len(pkgs))
	for pkg := range pkgs {
		pkgNames = append(pkgNames, pkg)
	}
	// Embedded packages first, then users' in file order, so a duplicate ID names the user's file.
	sort.Slice(pkgNames, func(i, j int) bool {
		a, b := pkgs[pkgNames[i]].files[0], pkgs[pkgNames[j]].files[0]
		ae, be := origin[a] == "embedded", origin[b] == "embedded"
		if ae != be {
			return ae
		}
		return a < b
	})
	for _, pkg := range pkgNames {
		info := pkgs[pkg]
		switch {
		case info.rule == nil && info.deny:
			return nil, &LoadError{File: info.files[0], Msg: fmt.Sprintf("package %s defines deny but has no METADATA custom.id above its package line", pkg)}
		case info.rule == nil:
			continue // a library package
		case !info.deny:
			return nil, &LoadError{File: info.file, Msg: fmt.Sprintf("package %s has rule metadata (%s) but defines no deny rule", pkg, info.rule.ID)}
		}
		if prev, dup := byID[info.rule.ID]; dup {
			return nil, &LoadError{File: info.file, Msg: fmt.Sprintf("rule id %s is already defined in %s", info.rule.ID, prev)}
		}
		byID[info.rule.ID] = info.file
		info.rule.hasNotApplicable = info.na
		info.rule.hasPassInfo = info.passInfo
		rules = append(rules, *info.rule)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules, nil
}

func headName(r *ast.Rule) string {
	ref := r.Head.Ref()
	if len(ref) == 0 {
		return ""
	}
	if v, ok := ref[0].Value.(ast.Var); ok {
		return string(v)
	}
	return ""
}

func ruleFromAnnotations(a *ast.Annotations, pkg, file, source string) (*Rule, error) {
	str := func(k string) string {
		v, _ := a.Custom[k].(string)
		return strings.TrimSpace(v)
	}
	r := &Rule{
		ID: str("id"), Title: strings.TrimSpace(a.Title), Description: strings.TrimSpace(a.Description),
		Severity: strings.ToLower(str("severity")), Guide: str("guide"), Remediation: str("remediation"),
		OptIn: str("opt_in"), Scope: str("scope"), Package: pkg, Source: source, File: file,
	}
	if v, ok := a.Custom["automatic"].(bool); ok {
		r.Automatic = v
	}
	for _, rr := range a.RelatedResources {
		r.Related = append(r.Related, Resource{Ref: rr.Ref.String(), Description: rr.Description})
	}
	switch {
	case r.Severity == "":
		return nil, fmt.Errorf("rule %s has no custom.severity (one of %s)", r.ID, strings.Join(Severities, ", "))
	case SeverityRank(r.Severity) == 0:
		return nil, fmt.Errorf("rule %s has severity %q: use one of %s", r.ID, r.Severity, strings.Join(Severities, ", "))
	case r.Title == "":
		return nil, fmt.Errorf("rule %s has no title", r.ID)
	}
	switch r.Scope {
	case "":
		r.Scope = ScopeEnvironment
	case ScopeEnvironment, ScopeTenant:
	default:
		return nil, fmt.Errorf("rule %s has scope %q: use environment or tenant", r.ID, r.Scope)
	}
	return r, nil
}
