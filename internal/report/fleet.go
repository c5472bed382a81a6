package report

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// FleetThreshold is the number of environments above which the HTML report of several tenants is a fleet
// summary: one page of tenants and rules, with the full report of each tenant on a page of its own. One page
// of every result of thousands of environments is too long to read and too heavy to open.
const FleetThreshold = 1000

// FleetDir is the directory, beside report.html, of the tenants' pages of a fleet report.
const FleetDir = "tenants"

// IsFleet says whether the HTML report of r is a fleet summary.
func IsFleet(r *Report) bool { return len(r.Environments) > FleetThreshold && len(r.Tenants) > 1 }

//go:embed templates/fleet.html.tmpl
var fleetTemplates embed.FS

var (
	fleetTemplate = template.Must(template.New("fleet.html.tmpl").Funcs(template.FuncMap{
		"badge":    func(s any) template.HTML { return badgeHTML(fmt.Sprint(s)) },
		"sevBadge": severityHTML,
	}).ParseFS(fleetTemplates, "templates/fleet.html.tmpl"))
	// The fleet page has no script: its CSP admits the report's styles and nothing else.
	fleetCSP = fmt.Sprintf("default-src 'none'; style-src '%s'; img-src data:; base-uri 'none'; form-action 'none'", HashSource(htmlCSS))
)

type fleetView struct {
	R             *Report
	CSS           template.CSS
	CSP           string
	ScanTime      string
	GeneratedTime string
	ShortDigest   string
	Verdict       verdict
	EnvStatus     []statusCount
	SeverityRows  []severityRow
	Threshold     string
	Linked        bool // the tenants' pages are written beside the summary
	Tenants       []fleetTenant
	Rules         []fleetRule
}

// fleetTenant is a tenant's line: its environments by overall status and its failures at or above the
// fail-on threshold.
type fleetTenant struct {
	Tenant
	Page      string // relative link to its page
	Status    policy.Status
	EnvStatus []statusCount
	Failing   int
}

// fleetRule is a rule's line: in how many environments it fails or could not be evaluated.
type fleetRule struct {
	Rule
	Failing, Errors, Waived int
}

// TenantPage is the file name, under FleetDir, of a tenant's page: a readable slug of its name and a short hash
// of the name, so that names differing only in punctuation or case get pages of their own.
func TenantPage(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	sum := sha256.Sum256([]byte(name))
	slug := strings.TrimSuffix(b.String(), "-")
	if slug == "" {
		slug = "tenant"
	}
	return slug + "-" + hex.EncodeToString(sum[:4]) + ".html"
}

// ForTenant is the report of one tenant of r: its environments, results, drift and fix outcomes, with the
// summary counted again. The rest (policy, rules, times, warnings) is r's.
func (r *Report) ForTenant(name string) *Report {
	out := *r
	out.Tenants = nil
	for _, t := range r.Tenants {
		if t.Name == name {
			out.Tenants = append(out.Tenants, t)
		}
	}
	out.Environments = filterTenant(r.Environments, name, func(e *Environment) string { return e.Tenant })
	out.Results = filterTenant(r.Results, name, func(res *policy.Result) string { return res.Tenant })
	if d := r.Drift; d != nil {
		nd := *d
		nd.NewFailures = filterTenant(d.NewFailures, name, func(x *DriftResult) string { return x.Tenant })
		nd.Resolved = filterTenant(d.Resolved, name, func(x *DriftResult) string { return x.Tenant })
		nd.Persisting = filterTenant(d.Persisting, name, func(x *DriftResult) string { return x.Tenant })
		nd.Inventory = filterTenant(d.Inventory, name, func(x *InventoryChange) string { return x.Tenant })
		nd.Summarize()
		out.Drift = &nd
	}
	if f := r.Fix; f != nil {
		nf := *f
		nf.Outcomes = filterTenant(f.Outcomes, name, func(o *FixOutcome) string { return o.Tenant })
		nf.Counts = map[string]int{}
		for _, o := range nf.Outcomes {
			nf.Counts[o.Status]++
		}
		out.Fix = &nf
	}
	if t := r.Trends; t != nil {
		nt := *t
		nt.Environments = filterTenant(t.Environments, name, func(e *EnvironmentTrend) string { return e.Tenant })
		nt.FleetWide = true
		out.Trends = &nt
	}
	out.Summary = summarize(&out, r.FailOn)
	return &out
}

func filterTenant[T any](xs []T, name string, tenant func(*T) string) []T {
	var out []T
	for i := range xs {
		if tenant(&xs[i]) == name {
			out = append(out, xs[i])
		}
	}
	if out == nil && xs != nil {
		out = []T{}
	}
	return out
}

func newFleetView(r *Report, linked bool) fleetView {
	v := fleetView{R: r, CSS: template.CSS(htmlCSS), CSP: fleetCSP, ScanTime: formatTime(r.CollectedAt),
		GeneratedTime: formatTime(r.GeneratedAt), ShortDigest: shortDigest(r.Policy.Digest), Verdict: verdictOf(r),
		Threshold: thousands(FleetThreshold), Linked: linked}
	v.EnvStatus, v.SeverityRows = summaryTables(r)
	v.Tenants = make([]fleetTenant, len(r.Tenants))
	byTenant := map[string]*fleetTenant{}
	for i, t := range r.Tenants {
		v.Tenants[i] = fleetTenant{Tenant: t, Page: path.Join(FleetDir, TenantPage(t.Name)), Status: policy.StatusNotApplicable}
		if t.Error != "" {
			v.Tenants[i].Status = policy.StatusError
		}
		byTenant[t.Name] = &v.Tenants[i]
	}
	envCounts := map[string]Counts{}
	for _, e := range r.Environments {
		if envCounts[e.Tenant] == nil {
			envCounts[e.Tenant] = Counts{}
		}
		envCounts[e.Tenant][e.Status]++
		if ft := byTenant[e.Tenant]; ft != nil && statusRank(e.Status) < statusRank(ft.Status) {
			ft.Status = e.Status
		}
	}
	threshold := policy.SeverityRank(r.FailOn)
	rules := map[string]*fleetRule{}
	for _, rule := range r.Rules {
		rules[rule.ID] = &fleetRule{Rule: rule}
	}
	for _, res := range r.Results {
		if res.Status == policy.StatusFail && threshold > 0 && policy.SeverityRank(res.Severity) >= threshold {
			if ft := byTenant[res.Tenant]; ft != nil {
				ft.Failing++
			}
		}
		if fr := rules[res.RuleID]; fr != nil {
			switch res.Status {
			case policy.StatusFail:
				fr.Failing++
			case policy.StatusError:
				fr.Errors++
			case policy.StatusWaived:
				fr.Waived++
			}
		}
	}
	for i := range v.Tenants {
		for _, s := range envStatuses {
			v.Tenants[i].EnvStatus = append(v.Tenants[i].EnvStatus, statusCount{Status: string(s), N: envCounts[v.Tenants[i].Name][s]})
		}
	}
	// Worst tenants first: by overall status, then failures at or above the threshold, then name.
	sort.SliceStable(v.Tenants, func(i, j int) bool {
		a, b := v.Tenants[i], v.Tenants[j]
		if statusRank(a.Status) != statusRank(b.Status) {
			return statusRank(a.Status) < statusRank(b.Status)
		}
		if a.Failing != b.Failing {
			return a.Failing > b.Failing
		}
		return a.Name < b.Name
	})
	for _, rule := range r.Rules {
		v.Rules = append(v.Rules, *rules[rule.ID])
	}
	sort.SliceStable(v.Rules, func(i, j int) bool {
		a, b := v.Rules[i], v.Rules[j]
		if a.Failing != b.Failing {
			return a.Failing > b.Failing
		}
		return policy.SeverityRank(a.Severity) > policy.SeverityRank(b.Severity)
	})
	return v
}

// writeFleet writes the fleet summary of r; linked says its tenants' pages are written beside it.
func writeFleet(w io.Writer, r *Report, linked bool) error {
	if err := fleetTemplate.Execute(w, newFleetView(r, linked)); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	return nil
}

// writeFleetFiles writes the fleet summary to dir/report.html and each tenant's full report to
// dir/tenants/<page>, and returns the files written.
func writeFleetFiles(dir string, f Format, r *Report) ([]string, error) {
	var written []string
	p := filepath.Join(dir, f.FileName())
	if err := snapshot.WritePrivate(p, func(w io.Writer) error { return writeFleet(w, r, true) }); err != nil {
		return written, fmt.Errorf("write html report %s: %w", p, err)
	}
	written = append(written, p)
	pages := filepath.Join(dir, FleetDir)
	if err := os.MkdirAll(pages, 0o700); err != nil {
		return written, fmt.Errorf("create %s: %w", pages, err)
	}
	for _, t := range r.Tenants {
		sub := r.ForTenant(t.Name)
		p := filepath.Join(pages, TenantPage(t.Name))
		if err := snapshot.WritePrivate(p, func(w io.Writer) error { return htmlReporter{}.write(w, sub) }); err != nil {
			return written, fmt.Errorf("write html report of tenant %s: %w", t.Name, err)
		}
		written = append(written, p)
	}
	return written, nil
}

// thousands writes n with thousands separators: 10,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
