package report

import (
	_ "embed"
	"encoding/csv"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

func init() {
	register(Format{Name: "inventory", Ext: "csv", File: InventoryFile, New: func(Options) Reporter { return inventoryReporter{} }})
}

// InventoryFile is the file --format inventory writes in --output: the audit record as CSV.
const InventoryFile = "inventory.csv"

// The record statuses of the audit record: how much of an environment's record is known.
const (
	RecordComplete        = "complete"              // read, with Work 365 installed: every column that applies is filled
	RecordNotInstalled    = "work365_not_installed" // read; Work 365 is not installed, so it has no application user or setting
	RecordSkipped         = "skipped"               // deliberately not read: no Dataverse, or the environment is disabled
	RecordError           = "error"                 // could not be read completely
	RecordTenantNotListed = "tenant_not_listed"     // a tenant whose environments could not be listed, in place of its environments
)

// InventoryColumns are the columns of the audit record (--format inventory), in order.
var InventoryColumns = []string{
	"tenant", "environment_id", "environment", "environment_type", "region", "instance_url",
	"record_status", "record_reason",
	"work365_version", "work365_found_by", "region_app_id",
	"application_user", "application_user_id", "application_user_app_id", "application_user_enabled",
	"application_user_deleted", "application_user_business_unit",
	"direct_roles", "team_roles",
	"service_user", "service_user_id", "service_user_kind", "service_user_enabled", "service_user_domain_name",
	"setting_modified_on", "setting_modified_by", "setting_modified_by_id",
	"scanned_at", "policy_digest",
}

// auditRecord is one row of the audit record: an environment, or a tenant whose environments could not be listed.
type auditRecord struct {
	Tenant string
	Env    *Environment // nil for a tenant that could not list its environments
	Inv    *Inventory   // nil unless the record is complete
	Status string
	Reason string
}

// auditRecords lists the record of every environment, tenant by tenant in the report's order; a tenant whose
// environments could not be listed has one row that says so, since its environments are unknown.
func auditRecords(r *Report) []auditRecord {
	var out []auditRecord
	done := map[int]bool{}
	add := func(i int) {
		e := &r.Environments[i]
		rec := auditRecord{Tenant: e.Tenant, Env: e}
		switch {
		case e.CollectionStatus == "error":
			rec.Status, rec.Reason = RecordError, e.Error
		case e.CollectionStatus == "skipped":
			rec.Status, rec.Reason = RecordSkipped, e.SkipReason
		case e.Inventory == nil:
			rec.Status, rec.Reason = RecordNotInstalled, "Work 365 is not installed"
		default:
			rec.Status, rec.Inv = RecordComplete, e.Inventory
		}
		done[i] = true
		out = append(out, rec)
	}
	for _, t := range r.Tenants {
		listed := false
		for i := range r.Environments {
			if r.Environments[i].Tenant == t.Name && !done[i] {
				add(i)
				listed = true
			}
		}
		if !listed && t.Error != "" {
			out = append(out, auditRecord{Tenant: t.Name, Status: RecordTenantNotListed, Reason: t.Error})
		}
	}
	for i := range r.Environments {
		if !done[i] {
			add(i)
		}
	}
	return out
}

// RecordLabel is the human name of a record status.
func RecordLabel(status string) string {
	switch status {
	case RecordComplete:
		return "Recorded"
	case RecordNotInstalled:
		return "Work 365 not installed"
	case RecordSkipped:
		return "Not read"
	case RecordError:
		return "Could not be read"
	case RecordTenantNotListed:
		return "Environments not listed"
	}
	return title(strings.ReplaceAll(status, "_", " "))
}

// inventoryReporter writes the audit record the guide asks for ("record App ID, assigned roles, and environment
// details for audits") as CSV: one row per environment, with the scan time and the policy bundle on every row so
// that each row stands alone when filed. It follows RFC 4180 and defuses formula characters as the CSV report
// does, since names come from the tenant.
type inventoryReporter struct{}

func (inventoryReporter) Write(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(InventoryColumns); err != nil {
		return err
	}
	scanned := ""
	if !r.CollectedAt.IsZero() {
		scanned = r.CollectedAt.UTC().Format(time.RFC3339)
	}
	for _, rec := range auditRecords(r) {
		row := rec.csvRow(scanned, r.Policy.Digest)
		for i := range row {
			row[i] = defuse(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvRow renders a record in the order of InventoryColumns; what does not apply or is not known is empty.
func (rec auditRecord) csvRow(scanned, digest string) []string {
	v := map[string]string{"tenant": rec.Tenant, "record_status": rec.Status, "record_reason": rec.Reason,
		"scanned_at": scanned, "policy_digest": digest}
	if e := rec.Env; e != nil {
		v["environment"], v["environment_id"], v["environment_type"], v["region"] = e.Name, e.ID, e.Type, e.Region
		v["instance_url"], v["region_app_id"] = e.InstanceURL, e.RegionAppID
	}
	if inv := rec.Inv; inv != nil {
		v["work365_version"], v["work365_found_by"] = inv.Work365Version, inv.Work365FoundBy
		if u := inv.ApplicationUser; u != nil {
			v["application_user"], v["application_user_id"], v["application_user_app_id"] = u.Name, u.ID, inv.AppID
			v["application_user_enabled"], v["application_user_deleted"] = strconv.FormatBool(u.Enabled), strconv.FormatBool(u.Deleted)
			v["application_user_business_unit"] = u.BusinessUnit
			v["direct_roles"] = strings.Join(inv.DirectRoles, "; ")
			teams := make([]string, 0, len(inv.TeamRoles))
			for _, tr := range inv.TeamRoles {
				teams = append(teams, tr.Role+" (team: "+tr.Team+")")
			}
			v["team_roles"] = strings.Join(teams, "; ")
		}
		if u := inv.ServiceUser; u != nil {
			v["service_user"], v["service_user_id"], v["service_user_kind"] = u.Name, u.ID, u.Kind
			v["service_user_enabled"], v["service_user_domain_name"] = strconv.FormatBool(u.Enabled), u.DomainName
		}
		if s := inv.ServiceUserSetting; s != nil {
			if !s.ModifiedOn.IsZero() {
				v["setting_modified_on"] = s.ModifiedOn.UTC().Format(time.RFC3339)
			}
			v["setting_modified_by"], v["setting_modified_by_id"] = s.ModifiedBy, s.ModifiedByID
		}
	}
	row := make([]string, len(InventoryColumns))
	for i, c := range InventoryColumns {
		row[i] = v[c]
	}
	return row
}

// inventoryTemplate is the audit record's section of the HTML report, a named template ("inventory") that the
// report's template includes.
//
//go:embed templates/inventory.html.tmpl
var inventoryTemplate string

var _ = template.Must(htmlTemplate.Funcs(template.FuncMap{
	"auditRecords": auditRecords,
	"recordLabel":  RecordLabel,
	"recordTime":   formatTime,
	"recordMatch":  func(s string) string { return strings.ReplaceAll(s, "_", " ") },
}).New("inventory.html.tmpl").Parse(inventoryTemplate))
