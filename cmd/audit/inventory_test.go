package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/report"
)

// inventoryRows reads an audit record as maps of column to cell, after checking its header.
func inventoryRows(t *testing.T, text string) []map[string]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	require.Equal(t, report.InventoryColumns, rows[0])
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, c := range rows[0] {
			m[c] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// The audit record of the demo, written by the binary's own path, is the JSON report's: one row per environment
// in the same order, every column the value the JSON report gives, the scan time and the policy digest on
// every row, and who last changed the service-user setting as the demo environments say.
func TestTheInventoryOfTheDemoIsTheJSONReportsRecord(t *testing.T) {
	t.Parallel()
	dir, _ := runDemoReports(t)
	rep := readReport(t, dir)
	raw, err := os.ReadFile(filepath.Join(dir, report.InventoryFile))
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dir, report.InventoryFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the record carries tenant data")
	rows := inventoryRows(t, string(raw))
	require.Len(t, rows, len(rep.Environments), "one row per environment, and no tenant failed to list its environments")

	flag := func(b bool) string { return strconv.FormatBool(b) }
	for i, e := range rep.Environments {
		row := rows[i]
		t.Run(e.Name, func(t *testing.T) {
			assert.Equal(t, e.Tenant, row["tenant"])
			assert.Equal(t, e.ID, row["environment_id"])
			assert.Equal(t, e.Name, row["environment"])
			assert.Equal(t, e.Type, row["environment_type"])
			assert.Equal(t, e.Region, row["region"])
			assert.Equal(t, e.InstanceURL, row["instance_url"])
			assert.Equal(t, e.RegionAppID, row["region_app_id"])
			assert.NotEmpty(t, row["region_app_id"], "every demo region maps to a data centre")
			assert.Equal(t, rep.CollectedAt.Format(time.RFC3339), row["scanned_at"])
			assert.Equal(t, rep.Policy.Digest, row["policy_digest"])
			inv := e.Inventory
			switch e.CollectionStatus {
			case "skipped":
				assert.Equal(t, report.RecordSkipped, row["record_status"])
				assert.Equal(t, e.SkipReason, row["record_reason"])
			case "error":
				assert.Equal(t, report.RecordError, row["record_status"])
				assert.Equal(t, e.Error, row["record_reason"])
			default:
				if inv == nil {
					assert.Equal(t, report.RecordNotInstalled, row["record_status"])
				} else {
					assert.Equal(t, report.RecordComplete, row["record_status"])
				}
			}
			if inv == nil {
				for _, c := range []string{"work365_version", "application_user", "service_user", "setting_modified_on"} {
					assert.Empty(t, row[c], "nothing is recorded that was not read: %s", c)
				}
				return
			}
			assert.Equal(t, inv.Work365Version, row["work365_version"])
			assert.Equal(t, inv.Work365FoundBy, row["work365_found_by"])
			if u := inv.ApplicationUser; u != nil {
				assert.Equal(t, []string{u.Name, u.ID, inv.AppID, flag(u.Enabled), flag(u.Deleted), u.BusinessUnit},
					[]string{row["application_user"], row["application_user_id"], row["application_user_app_id"], row["application_user_enabled"],
						row["application_user_deleted"], row["application_user_business_unit"]})
				assert.Equal(t, strings.Join(inv.DirectRoles, "; "), row["direct_roles"])
				var teams []string
				for _, tr := range inv.TeamRoles {
					teams = append(teams, tr.Role+" (team: "+tr.Team+")")
				}
				assert.Equal(t, strings.Join(teams, "; "), row["team_roles"])
			} else {
				assert.Empty(t, row["application_user"])
			}
			if u := inv.ServiceUser; u != nil {
				assert.Equal(t, []string{u.Name, u.ID, u.Kind, flag(u.Enabled), u.DomainName},
					[]string{row["service_user"], row["service_user_id"], row["service_user_kind"], row["service_user_enabled"], row["service_user_domain_name"]})
			}
			if s := inv.ServiceUserSetting; s != nil {
				assert.Equal(t, s.ModifiedOn.Format(time.RFC3339), row["setting_modified_on"])
				assert.Equal(t, s.ModifiedBy, row["setting_modified_by"])
				assert.Equal(t, s.ModifiedByID, row["setting_modified_by_id"])
			}
		})
	}

	byName := map[string]map[string]string{}
	for _, r := range rows {
		byName[r["environment"]] = r
	}
	prod := byName["Contoso Production"]
	assert.Equal(t, "Jane Doe", prod["setting_modified_by"], "the demo says who changed the setting")
	assert.Equal(t, "2025-06-02T09:40:00Z", prod["setting_modified_on"])
	assert.Equal(t, "Work 365 Service", prod["direct_roles"])
	assert.Equal(t, "Work 365 Portal Service (team: Work 365 Integration)", prod["team_roles"])
	assert.Equal(t, "e4b1a995-abe3-4350-a61c-65fccd32e8bd", byName["Contoso Europe"]["application_user_app_id"])
	assert.Equal(t, "5e56ae97-9be1-40d3-938b-99ea52175a30", byName["Contoso Europe"]["region_app_id"], "the record shows the App ID in use beside the region's")
	assert.Equal(t, report.RecordSkipped, byName["Fabrikam Archive"]["record_status"])
}

// After audit scan --fix switches a service user, the record of the final state names the auditor's own
// application user as the last to change the setting, at the time of the fix.
func TestTheInventoryAfterAFixNamesWhoChangedTheSetting(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{}, demoFixtures[1])
	out := filepath.Join(h.dir, "out")
	code := h.run("scan", "--fix", "--yes", "--config", h.cfgPath, "--format", "json,inventory", "--output", out, "--quiet")
	require.Equal(t, exitOK, code, h.stderr.String())
	raw, err := os.ReadFile(filepath.Join(out, report.InventoryFile))
	require.NoError(t, err)
	rows := inventoryRows(t, string(raw))
	byName := map[string]map[string]string{}
	for _, r := range rows {
		byName[r["environment"]] = r
	}
	sandbox := byName["Fabrikam Sandbox"]
	assert.Equal(t, "# Compliance Auditor", sandbox["setting_modified_by"])
	assert.Equal(t, testNow.Format(time.RFC3339), sandbox["setting_modified_on"])
	assert.Equal(t, "application", sandbox["service_user_kind"])
	assert.Equal(t, "Work 365 Portal Service; Work 365 Service", sandbox["direct_roles"])
	prod := byName["Fabrikam Production"]
	assert.Equal(t, "Lena Fischer", prod["setting_modified_by"], "an environment the fix left alone keeps its last change")

	rep := readReport(t, out)
	for _, e := range rep.Environments {
		if e.Name == "Fabrikam Sandbox" {
			require.NotNil(t, e.Inventory)
			require.NotNil(t, e.Inventory.ServiceUserSetting)
			assert.Equal(t, sandbox["setting_modified_by_id"], e.Inventory.ServiceUserSetting.ModifiedByID)
		}
	}
}
