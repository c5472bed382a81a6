package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
)

// largeReport is a fleet's report built in memory: environments spread over tenants, fifteen rules, one result
// per (environment, rule) — mostly passing or not applicable, some failing with evidence and remediation, some
// waived — one environment in fifty unreadable, Work 365 in one in four, and a tenant whose environments
// could not be listed.
func largeReport(environments, tenants int) *Report {
	sevs := []string{"critical", "high", "medium", "low"}
	r := &Report{SchemaVersion: SchemaVersion, Tool: Tool{Name: "audit", Version: "1.2.3"},
		Policy:      PolicyInfo{Digest: "sha256:ab12", Rules: 15, Sources: []string{"embedded"}},
		GeneratedAt: time.Date(2026, 11, 26, 12, 5, 0, 0, time.UTC), CollectedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		FailOn: "high", Warnings: []string{"waiver for W365.R.3 expired"}}
	for k := range 15 {
		r.Rules = append(r.Rules, Rule{ID: fmt.Sprintf("W365.R.%d", k+1), Title: fmt.Sprintf("Rule %d holds", k+1),
			Description: "Checks something the guide asks for.", Severity: sevs[k%4], Guide: "Step 2", Remediation: "Do what the guide says.",
			Automatic: k%2 == 0, Source: "embedded", Related: []policy.Resource{{Ref: "https://learn.microsoft.com/x", Description: "Docs"}}})
	}
	for t := range tenants {
		r.Tenants = append(r.Tenants, Tenant{Name: fmt.Sprintf("tenant-%03d", t), ID: fmt.Sprintf("%08x-1111-4111-8111-111111111111", t), Cloud: "public"})
	}
	r.Tenants = append(r.Tenants, Tenant{Name: "unlisted", ID: "t-x", Cloud: "public", Error: "list environments: HTTP 403"})
	for e := range environments {
		t := e % tenants
		r.Tenants[t].Environments++
		env := Environment{Tenant: r.Tenants[t].Name, ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", e, e), Name: fmt.Sprintf("Env %05d <&>", e),
			Type: []string{"Production", "Sandbox", "Developer", "Trial"}[e%4], Region: "unitedstates",
			InstanceURL: fmt.Sprintf("https://org%05d.crm.dynamics.com/", e), CollectionStatus: "ok", Counts: Counts{}}
		if e%50 == 7 {
			env.CollectionStatus, env.Error = "error", "systemusers: HTTP 500"
		}
		if e%4 == 0 {
			env.Inventory = &Inventory{AppID: "e4b1a995-abe3-4350-a61c-65fccd32e8bd", Roles: []string{"Basic User", "Work 365 Service"},
				Work365Version: "3.6.0.0", BusinessUnit: "Contoso",
				ApplicationUser: &User{ID: "u1", Name: "# Work 365", AppID: "e4b1a995-abe3-4350-a61c-65fccd32e8bd", Kind: "application", Enabled: true}}
		}
		for k, rule := range r.Rules {
			res := policy.Result{Tenant: env.Tenant, EnvironmentID: env.ID, EnvironmentName: env.Name, RuleID: rule.ID, Title: rule.Title,
				Severity: rule.Severity, Status: policy.StatusPass}
			switch v := (e + 3*k) % 20; {
			case env.Error != "":
				res.Status, res.Message = policy.StatusError, "could not collect systemusers: HTTP 500"
			case v < 3:
				res.Status = policy.StatusFail
				res.Message = fmt.Sprintf("The application user of %s holds System Administrator, which Work 365 does not need; it should hold only its own roles.", env.Name)
				res.Evidence = map[string]any{"user_id": "u1", "roles": []any{"System Administrator", "Work 365 Service"}, "count": 2}
				res.Remediation = &policy.Remediation{Summary: "Remove the extra roles.", Automatic: true, OptIn: "fix-privileges",
					Actions: []map[string]any{{"action": "remove_role", "user_id": "u1", "role_id": "r1", "role": "System Administrator"},
						{"action": "manual", "title": "Check", "steps": []any{"Open the admin center.", "Check the roles."}}}}
			case v == 3:
				res.Status, res.Message = policy.StatusWaived, "Holds System Administrator."
				res.Waiver = &policy.WaiverInfo{Reason: "Migration", Owner: "jdoe@contoso.com", Ticket: "CHG-1", Expires: "2027-06-30"}
			case v < 9:
				res.Status, res.Message = policy.StatusNotApplicable, "Work 365 is not installed."
			}
			env.Counts[res.Status]++
			r.Results = append(r.Results, res)
		}
		env.Status = overall(env.Counts)
		r.Environments = append(r.Environments, env)
	}
	r.Summary = summarize(r, r.FailOn)
	return r
}

// filled sets every exported field reachable from v, recursively, to something that is not its zero value:
// a field added to the report is set too, and shows whether it comes out right.
func filled(v reflect.Value, n *int, depth int) {
	*n++
	if depth > 8 || !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d <&> \u2028 \"q\"", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Interface:
		v.Set(reflect.ValueOf(fmt.Sprintf("any%d <&>", *n)))
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		filled(p.Elem(), n, depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			filled(s.Index(i), n, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			filled(k, n, depth+1)
			filled(e, n, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 26, 12, 0, *n%60, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			filled(v.Field(i), n, depth+1)
		}
	}
}

func filledReport() *Report {
	var r Report
	n := 0
	filled(reflect.ValueOf(&r).Elem(), &n, 0)
	return &r
}

// wholeJSON is the report encoded in one piece, as the JSON reporter wrote it before it streamed.
func wholeJSON(t *testing.T, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(r))
	return buf.String()
}

// The streaming reporters write exactly what the whole document encoded at once gives: for the fixed report,
// a fleet's, an empty one, and one with every field set (fields added to the report included).
func TestStreamedFormatsWriteWhatTheWholeDocumentGives(t *testing.T) {
	t.Parallel()
	withDrift := fixture()
	withDrift.Drift, withDrift.Fix, withDrift.Shard = filledReport().Drift, filledReport().Fix, filledReport().Shard
	withDrift.Drift.Resolved = nil
	withDrift.Fix.Outcomes = []FixOutcome{}
	cases := map[string]*Report{
		"fixture":      fixture(),
		"drift":        withDrift,
		"every field":  filledReport(),
		"fleet":        largeReport(120, 7),
		"empty":        {},
		"no results":   {Tenants: []Tenant{}, Environments: []Environment{}, Results: []policy.Result{}},
		"only tenants": {Tenants: []Tenant{{Name: "a", Error: "list environments: HTTP 403"}}},
	}
	source := &SourceFile{URI: "audit.yaml", Lines: map[string]int{"tenant-001": 3}}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, wholeJSON(t, r), render(t, "json", r, Options{}), "json")
			for _, src := range []*SourceFile{nil, source} {
				var want bytes.Buffer
				require.NoError(t, wholeSARIF(sarifReporter{source: src}, &want, r))
				assert.Equal(t, want.String(), render(t, "sarif", r, Options{Source: src}), "sarif")
			}
			var want bytes.Buffer
			require.NoError(t, wholeJUnit(&want, r))
			assert.Equal(t, want.String(), render(t, "junit", r, Options{}), "junit")
		})
	}
}
