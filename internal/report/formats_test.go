package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryFormatIsRegisteredWithItsExtension(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"csv", "html", "inventory", "json", "junit", "markdown", "sarif", "table"}, Names())
	exts, files := map[string]string{}, map[string]string{}
	for _, n := range Names() {
		f, err := Lookup(n)
		require.NoError(t, err)
		exts[n], files[n] = f.Ext, f.FileName()
	}
	assert.Equal(t, map[string]string{"csv": "csv", "html": "html", "inventory": "csv", "json": "json", "junit": "xml", "markdown": "md",
		"sarif": "sarif", "table": "txt"}, exts)
	assert.Equal(t, map[string]string{"csv": "report.csv", "html": "report.html", "inventory": "inventory.csv", "json": "report.json",
		"junit": "report.xml", "markdown": "report.md", "sarif": "report.sarif", "table": "report.txt"}, files, "no two formats share a file")

	fs, err := ParseList(" JSON,html,json, sarif ")
	require.NoError(t, err)
	require.Len(t, fs, 3)
	assert.Equal(t, "json", fs[0].Name)
	_, err = ParseList("json,pdf")
	assert.EqualError(t, err, `unknown format "pdf": known formats are csv, html, inventory, json, junit, markdown, sarif, table`)
	_, err = ParseList(" , ")
	assert.EqualError(t, err, "no format given: known formats are csv, html, inventory, json, junit, markdown, sarif, table")
}

func TestTheJSONReportMatchesItsSchema(t *testing.T) {
	t.Parallel()
	out := render(t, "json", fixture(), Options{})
	require.NoError(t, ValidateJSON([]byte(out)))

	// The schema is strict: undocumented, missing or mistyped fields fail.
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &m))
		f(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	cases := map[string]struct {
		doc  []byte
		want string
	}{
		"undocumented field": {mutate(func(m map[string]any) { m["extra"] = 1 }), "extra"},
		"missing summary":    {mutate(func(m map[string]any) { delete(m, "summary") }), "summary"},
		"unknown status": {mutate(func(m map[string]any) {
			m["results"].([]any)[0].(map[string]any)["status"] = "ok"
		}), "status"},
		"bad timestamp":   {mutate(func(m map[string]any) { m["generated_at"] = "yesterday" }), "date-time"},
		"manual no steps": {mutate(func(m map[string]any) { delete(actionOf(m, 1, 0), "steps") }), "steps"},
		"bad waiver date": {mutate(func(m map[string]any) {
			m["results"].([]any)[1].(map[string]any)["waiver"].(map[string]any)["expires"] = "31/10/2026"
		}), "date"},
		"not json": {[]byte("{"), "read report"},
		"bad setting time": {mutate(func(m map[string]any) {
			settingOf(m)["modified_on"] = "last Tuesday"
		}), "date-time"},
		"undocumented setting field": {mutate(func(m map[string]any) { settingOf(m)["modified_by_upn"] = "jdoe@contoso.com" }), "modified_by_upn"},
		"setting without its ID":     {mutate(func(m map[string]any) { delete(settingOf(m), "id") }), "id"},
	}
	for name, tc := range cases {
		err := ValidateJSON(tc.doc)
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), tc.want, name)
		}
	}
}

// settingOf is the service-user setting of the fixture's first environment.
func settingOf(m map[string]any) map[string]any {
	env := m["environments"].([]any)[0].(map[string]any)
	return env["inventory"].(map[string]any)["service_user_setting"].(map[string]any)
}

func actionOf(m map[string]any, result, action int) map[string]any {
	return m["results"].([]any)[result].(map[string]any)["remediation"].(map[string]any)["actions"].([]any)[action].(map[string]any)
}

func TestTheSchemaInDocsIsTheEmbeddedOne(t *testing.T) {
	t.Parallel()
	docs, err := os.ReadFile("../../docs/report.schema.json")
	require.NoError(t, err)
	assert.Equal(t, string(Schema), string(docs), "docs/report.schema.json is a copy of internal/report/schema/report.schema.json: copy it again")
}

func TestSARIFIsValidSARIF210(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/sarif-schema-2.1.0.json")
	require.NoError(t, err)
	sch, err := CompileSchema("sarif-schema-2.1.0.json", raw)
	require.NoError(t, err)

	out := render(t, "sarif", fixture(), Options{})
	var doc any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.NoError(t, sch.Validate(doc))

	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID                   string            `json:"id"`
						ShortDescription     map[string]string `json:"shortDescription"`
						HelpURI              string            `json:"helpUri"`
						DefaultConfiguration map[string]string `json:"defaultConfiguration"`
						Properties           map[string]any    `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Invocations []struct {
				ExecutionSuccessful bool `json:"executionSuccessful"`
				Notifications       []struct {
					Level   string            `json:"level"`
					Message map[string]string `json:"message"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
			Results []struct {
				RuleID    string            `json:"ruleId"`
				RuleIndex int               `json:"ruleIndex"`
				Level     string            `json:"level"`
				Message   map[string]string `json:"message"`
				Locations []struct {
					LogicalLocations []map[string]string `json:"logicalLocations"`
				} `json:"locations"`
				Fingerprints map[string]string `json:"partialFingerprints"`
				Suppressions []map[string]any  `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &log))
	assert.Equal(t, "2.1.0", log.Version)
	require.Len(t, log.Runs, 1)
	run := log.Runs[0]
	assert.Equal(t, "audit", run.Tool.Driver.Name)

	// One rule per catalog entry, with its metadata.
	require.Len(t, run.Tool.Driver.Rules, 3)
	r0 := run.Tool.Driver.Rules[0]
	assert.Equal(t, "W365.APPUSER.1", r0.ID)
	assert.Equal(t, "An application user exists", r0.ShortDescription["text"])
	assert.Equal(t, "error", r0.DefaultConfiguration["level"])
	assert.Equal(t, "https://learn.microsoft.com/power-platform/admin/manage-application-users", r0.HelpURI)
	assert.Equal(t, "critical", r0.Properties["severity"])
	assert.Equal(t, "9.5", r0.Properties["security-severity"])
	assert.Equal(t, "warning", run.Tool.Driver.Rules[1].DefaultConfiguration["level"])

	// One result per failing pair (the waived one is suppressed), none for pass, not applicable or error.
	got := []string{}
	for _, res := range run.Results {
		sup := ""
		if len(res.Suppressions) > 0 {
			sup = " suppressed:" + res.Suppressions[0]["status"].(string)
		}
		got = append(got, res.RuleID+" "+res.Level+" "+res.Locations[0].LogicalLocations[0]["fullyQualifiedName"]+sup)
	}
	assert.Equal(t, []string{
		"W365.APPUSER.1 error contoso/" + hostile,
		"W365.BIND.1 warning contoso/" + hostile,
		"W365.ROLES.3 warning contoso/" + hostile,
		"W365.ROLES.3 warning contoso/Sandbox | *bold* [link](http://x) suppressed:accepted",
	}, got)
	first := run.Results[0]
	assert.Equal(t, 0, first.RuleIndex)
	assert.Equal(t, "resource", first.Locations[0].LogicalLocations[0]["kind"])
	assert.Equal(t, hostile, first.Locations[0].LogicalLocations[0]["name"])
	assert.Equal(t, "11111111-1111-1111-1111-111111111111:W365.APPUSER.1", first.Fingerprints["environmentRule/v1"])
	assert.Equal(t, 2, run.Results[3].RuleIndex)

	// What could not be read is a tool execution problem, not a result.
	require.Len(t, run.Invocations, 1)
	assert.False(t, run.Invocations[0].ExecutionSuccessful)
	require.Len(t, run.Invocations[0].Notifications, 2)
	assert.Equal(t, "error", run.Invocations[0].Notifications[0].Level)
	assert.Contains(t, run.Invocations[0].Notifications[0].Message["text"], "Tenant north<wind>")
	assert.Contains(t, run.Invocations[0].Notifications[1].Message["text"], "could not be audited: could not collect systemusers: HTTP 403")
}

type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Stamp    string `xml:"timestamp,attr"`
		Props    []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitHasOneTestCasePerEnvironmentAndRule(t *testing.T) {
	t.Parallel()
	out := render(t, "junit", fixture(), Options{})
	require.True(t, strings.HasPrefix(out, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<testsuites "))
	var doc junitDoc
	require.NoError(t, xml.Unmarshal([]byte(out), &doc))

	// 4 environments × 3 rules, and the tenant whose environments could not be listed.
	assert.Equal(t, 13, doc.Tests)
	assert.Equal(t, 3, doc.Failures)
	assert.Equal(t, 4, doc.Errors)
	assert.Equal(t, 5, doc.Skipped)
	require.Len(t, doc.Suites, 5)
	names := []string{}
	for _, s := range doc.Suites {
		names = append(names, s.Name)
		sum := 0
		for range s.Cases {
			sum++
		}
		assert.Equal(t, s.Tests, sum, s.Name)
		assert.Equal(t, "2026-11-26T12:00:00", s.Stamp)
	}
	assert.Equal(t, []string{"contoso / " + hostile, "contoso / Sandbox | *bold* [link](http://x)", "contoso / =SUM(1,2) Broken\uFFFD[2J",
		"contoso / Empty", "north<wind>"}, names)

	evil := doc.Suites[0]
	assert.Equal(t, 3, evil.Failures)
	c := evil.Cases[0]
	assert.Equal(t, "W365.APPUSER.1 An application user exists", c.Name)
	assert.Equal(t, "contoso / "+hostile, c.Classname)
	require.NotNil(t, c.Failure)
	assert.Equal(t, "critical", c.Failure.Type)
	assert.Equal(t, `No application user for "`+hostile+`"; flow <img src=x onerror=alert(2)> | *x*`, c.Failure.Message)
	assert.Contains(t, c.Failure.Text, "How to fix (audit fix can apply this):\n1. Create the application user for App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd")
	assert.Contains(t, c.Failure.Text, "Guide: Step 2: Create a New Application User")
	manual := evil.Cases[1].Failure
	require.NotNil(t, manual)
	assert.Contains(t, manual.Text, "A waiver expired on 2026-10-31 (owner mtan@contoso.com): Known")
	assert.Contains(t, manual.Text, "1. Reassign the flows\n   1.1. Open Power Apps → "+hostile+".\n   1.2. Assign each flow")

	sandbox := doc.Suites[1]
	assert.Equal(t, 2, sandbox.Skipped)
	require.NotNil(t, sandbox.Cases[2].Skipped)
	assert.Equal(t, "waived until 2027-06-30 by jdoe@contoso.com: Migration <until> cut-over (CHG-2291)", sandbox.Cases[2].Skipped.Message)
	assert.Equal(t, "not applicable: No flows in a sandbox.", sandbox.Cases[1].Skipped.Message)
	assert.Nil(t, sandbox.Cases[0].Failure)
	assert.Nil(t, sandbox.Cases[0].Skipped)

	broken := doc.Suites[2]
	assert.Equal(t, 3, broken.Errors)
	require.NotNil(t, broken.Cases[0].Error)
	assert.Nil(t, broken.Cases[0].Failure, "errors and failures are distinguished")
	assert.Equal(t, "could not collect systemusers: HTTP 403", broken.Cases[0].Error.Message)
	assert.Equal(t, 1, doc.Suites[4].Errors)
}

func TestCSVHasOneRowPerResultAsRFC4180Says(t *testing.T) {
	t.Parallel()
	out := render(t, "csv", fixture(), Options{})
	assert.True(t, strings.HasPrefix(out, strings.Join(CSVColumns, ",")+"\r\n"))
	assert.NotRegexp(t, regexp.MustCompile(`[^\r]\n`), out, "every line ends in CRLF")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 13)
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	first := rows[1]
	assert.Equal(t, hostile, first[col["environment"]])
	assert.Equal(t, "W365.APPUSER.1", first[col["rule_id"]])
	assert.Equal(t, "fail", first[col["status"]])
	assert.Equal(t, "create_app_user assign_role set_service_user clear_cache", first[col["actions"]])
	assert.Equal(t, "true", first[col["automatic"]])
	assert.JSONEq(t, `{"count":1,"name":"<script>alert(1)</script>"}`, first[col["evidence"]])
	assert.Contains(t, out, `"No application user for ""<script>alert(1)</script>""; flow <img src=x onerror=alert(2)> | *x*"`)
	waived := rows[6]
	assert.Equal(t, []string{"waived", "Migration <until> cut-over", "jdoe@contoso.com", "CHG-2291", "2027-06-30", "false"},
		[]string{waived[col["status"]], waived[col["waiver_reason"]], waived[col["waiver_owner"]], waived[col["waiver_ticket"]],
			waived[col["waiver_expires"]], waived[col["waiver_expired"]]})
	// A name a spreadsheet would run as a formula is defused.
	assert.Equal(t, "'=SUM(1,2) Broken\x1b[2J", rows[7][col["environment"]])
}

func TestMarkdownEscapesTenantText(t *testing.T) {
	t.Parallel()
	out := render(t, "markdown", fixture(), Options{})
	assert.NotContains(t, out, "<script")
	assert.NotContains(t, out, "<img")
	assert.Contains(t, out, "# Work 365 compliance audit: contoso, north&lt;wind&gt;\n")
	assert.Contains(t, out, "| Sandbox \\| \\*bold\\* \\[link\\](http://x) | contoso | Sandbox | europe | ✅ Pass | 1 waived, 1 pass, 1 not applicable |\n")
	assert.Contains(t, out, "| **All** | **3** | **3** | **1** | **1** | **4** | **12** |\n")
	assert.Contains(t, out, "## Failing results\n\n### &lt;script&gt;alert(1)&lt;/script&gt;\n")
	assert.Contains(t, out, "| `W365.APPUSER.1` | critical | No application user for \"&lt;script&gt;alert(1)&lt;/script&gt;\"; flow &lt;img src=x onerror=alert(2)&gt; \\| \\*x\\* |\n")
	assert.Contains(t, out, "1. Reassign the flows\n   1. Open Power Apps → &lt;script&gt;alert(1)&lt;/script&gt;.\n   2. Assign each flow to the application user.\n")
	assert.Contains(t, out, "## Waived\n")
	assert.Contains(t, out, "## Could not be audited\n\n- **=SUM(1,2) Broken** (contoso): could not collect systemusers: HTTP 403\n")
	// Passing results are counted, not listed.
	assert.NotContains(t, out, "W365.APPUSER.1` | critical | \n")
}

func TestHTMLIsSelfContainedAndEscapesTenantText(t *testing.T) {
	t.Parallel()
	out := render(t, "html", fixture(), Options{})

	assert.Equal(t, 1, strings.Count(out, "<script"), "only the report's own script")
	assert.Contains(t, out, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Contains(t, out, "&lt;img src=x onerror=alert(2)&gt;")
	assert.Contains(t, out, "evil&lt;b&gt;bu&lt;/b&gt;")
	assert.NotContains(t, out, "<img")
	for _, external := range []string{"<link", "@import", "url(", "<iframe", "<object", "<embed"} {
		assert.False(t, strings.Contains(out, external), external)
	}
	assert.False(t, regexp.MustCompile(`<[a-z]+[^>]*\ssrc=`).MatchString(out), "no element loads anything")
	// The CSP admits the inline style and script by hash, and nothing else.
	m := regexp.MustCompile(`<script>([\s\S]*)</script>`).FindStringSubmatch(out)
	require.Len(t, m, 2)
	sum := sha256.Sum256([]byte(m[1]))
	assert.Contains(t, out, "script-src &#39;sha256-"+strings.ReplaceAll(base64.StdEncoding.EncodeToString(sum[:]), "+", "&#43;")+"&#39;")
	assert.Contains(t, out, "default-src &#39;none&#39;")

	// Status is carried by an icon and a word, never by colour alone.
	assert.Contains(t, out, `<span class="badge s-fail"><svg class="icon" aria-hidden="true"><use href="#i-fail"/></svg>Fail</span>`)
	assert.Contains(t, out, `<span class="badge s-waived"><svg class="icon" aria-hidden="true"><use href="#i-waived"/></svg>Waived</span>`)

	// One element per result, carrying what the filters need; manual steps are a numbered list.
	assert.Equal(t, 12, strings.Count(out, `<li class="result" `))
	assert.Contains(t, out, `<li class="result" data-status="waived" data-severity="medium" data-env="2" data-rule="W365.ROLES.3">`)
	assert.Contains(t, out, `<ol class="steps"><li>Open Power Apps → &lt;script&gt;alert(1)&lt;/script&gt;.</li><li>Assign each flow to the application user.</li></ol>`)
	assert.Contains(t, out, "Waived until 2027-06-30</strong> — Migration &lt;until&gt; cut-over")
	assert.Contains(t, out, "Waiver expired on 2026-10-31")
	assert.Contains(t, out, `<p class="callout callout-error">Could not be audited: could not collect systemusers: HTTP 403</p>`)
	assert.Contains(t, out, `<p class="callout callout-not_applicable">Not applicable: The environment has no Dataverse database.</p>`)
	assert.Contains(t, out, `<td class="n" data-result-count="fail">3</td>`)
	assert.Contains(t, out, "Tenant north&lt;wind&gt;</strong>")
	// The filter form stays hidden until the script shows it, so without script everything is plainly visible.
	assert.Contains(t, out, `<form class="filters" id="filters" hidden`)
	assert.Contains(t, out, "@media print")
}

func TestTableFits80ColumnsAndColoursOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	plain := render(t, "table", fixture(), Options{Width: 80})
	for _, line := range strings.Split(plain, "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), 80, line)
	}
	assert.NotContains(t, plain, "\x1b", "no escape sequence, not even one from a tenant's names")
	assert.Contains(t, plain, "=SUM(1,2) Broken · Production")

	colour := render(t, "table", fixture(), Options{Width: 80, Color: true})
	assert.Contains(t, colour, ansiRed+"FAIL")
	assert.Equal(t, plain, regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAllString(colour, ""))
}

func TestEveryFormatRendersAnEmptyReport(t *testing.T) {
	t.Parallel()
	r := fixture()
	r.Tenants, r.Environments, r.Results, r.Warnings = []Tenant{}, []Environment{}, nil, []string{}
	r.Summary = summarize(r, r.FailOn)
	for _, name := range Names() {
		var buf bytes.Buffer
		f, _ := Lookup(name)
		require.NoError(t, f.New(Options{}).Write(&buf, r), name)
		assert.NotEmpty(t, buf.String(), name)
	}
}

func TestTheOutcomeOfAFixRunIsShown(t *testing.T) {
	t.Parallel()
	r := fixture()
	r.Fix = &Fix{Mode: "apply", Journal: "audit-report/journal-1.jsonl", Counts: map[string]int{"applied": 2, "failed": 1, "held_back": 1},
		Outcomes: []FixOutcome{
			{Tenant: "contoso", EnvironmentID: "1", Environment: hostile, Action: "assign_role", Description: "Assign Work 365 Service",
				Rules: []string{"W365.ROLES.1"}, Status: "applied"},
			{Tenant: "contoso", EnvironmentID: "1", Environment: hostile, Action: "remove_role", Description: "Remove System Administrator",
				Rules: []string{"W365.ROLES.3"}, Status: "held_back", Reason: "needs the fix-privileges opt-in"},
		}}
	require.NoError(t, ValidateJSON([]byte(render(t, "json", r, Options{}))))

	html := render(t, "html", r, Options{})
	assert.Contains(t, html, `<h2 id="fix-title">Fix run</h2>`)
	assert.Contains(t, html, "<p>2 applied, 1 held back, 1 failed. Every write is in the journal <code>audit-report/journal-1.jsonl</code>")
	assert.Contains(t, html, `<tr data-fix-status="held_back"><th scope="row">&lt;script&gt;alert(1)&lt;/script&gt;</th><td>Remove System Administrator</td><td><code>W365.ROLES.3</code> </td><td><span class="chip chip-warn">Held back</span> <span class="muted">needs the fix-privileges opt-in</span></td></tr>`)

	md := render(t, "markdown", r, Options{})
	assert.Contains(t, md, "## Fix run\n\n2 applied, 1 held back, 1 failed. Journal: `audit-report/journal-1.jsonl`.")
	assert.Contains(t, md, "| &lt;script&gt;alert(1)&lt;/script&gt; | Remove System Administrator | W365.ROLES.3 | Held back: needs the fix-privileges opt-in |\n")

	assert.NotContains(t, render(t, "html", fixture(), Options{}), `id="fix"`)
}
