package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

func init() {
	register(Format{Name: "sarif", Ext: "sarif", New: func(o Options) Reporter { return sarifReporter{source: o.Source} }})
}

// sarifReporter writes SARIF 2.1.0: one run, one reportingDescriptor per catalog rule, one result per failing
// (environment, rule) pair, located by a logical location for the environment and, when the scan had a config
// file, a physical location in it (the tenant's entry). Waived pairs are results with an accepted external
// suppression; environments that could not be read are tool execution notifications.
type sarifReporter struct {
	source *SourceFile
}

// SourceFile is the file SARIF results are located in: code-scanning dashboards such as GitHub's accept a
// result only with a physical location, a file of the repository. No file is analysed, so the honest choice
// is the config file the scan was given, at the line of the tenant's entry when it has one.
type SourceFile struct {
	URI   string         // relative to the repository root, with forward slashes
	Lines map[string]int // the line of each tenant's entry, by tenant name
}

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	sarifInfoURI = "https://github.com/work365/audit"
)

// sarifLevels maps severities to SARIF levels; securitySeverity to the CVSS-like score code scanning sorts by.
var (
	sarifLevels      = map[string]string{"critical": "error", "high": "error", "medium": "warning", "low": "note"}
	securitySeverity = map[string]string{"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string        `json:"name"`
	FullName       string        `json:"fullName"`
	Version        string        `json:"version"`
	InformationURI string        `json:"informationUri"`
	Rules          []sarifRule   `json:"rules"`
	Notifications  []sarifNotice `json:"notifications,omitempty"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 *sarifText     `json:"help,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifNotice struct {
	ID               string    `json:"id"`
	ShortDescription sarifText `json:"shortDescription"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	StartTimeUTC               string              `json:"startTimeUtc,omitempty"`
	EndTimeUTC                 string              `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level      string           `json:"level"`
	Message    sarifText        `json:"message"`
	Locations  []sarifLocation  `json:"locations,omitempty"`
	Descriptor *sarifDescriptor `json:"descriptor,omitempty"`
	Properties map[string]any   `json:"properties,omitempty"`
}

type sarifDescriptor struct {
	ID string `json:"id"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Kind                string            `json:"kind"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Suppressions        []sarifSuppress   `json:"suppressions,omitempty"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppress struct {
	Kind          string         `json:"kind"`
	Status        string         `json:"status"`
	Justification string         `json:"justification"`
	Properties    map[string]any `json:"properties,omitempty"`
}

// Write writes the log one result and one notification at a time: the rest of it is encoded in memory, and
// each result is built and encoded as it is written.
func (s sarifReporter) Write(w io.Writer, r *Report) error {
	ruleIndex := map[string]int{}
	driver := sarifDriver{Name: "audit", FullName: "audit: Work 365 environment compliance auditor", Version: r.Tool.Version,
		InformationURI: sarifInfoURI, Rules: []sarifRule{}}
	for i, rule := range r.Rules {
		ruleIndex[rule.ID] = i
		driver.Rules = append(driver.Rules, sarifRuleOf(rule))
	}
	envs := map[string]int{} // the last environment of each ID, as results find it
	for i, e := range r.Environments {
		envs[e.ID] = i
	}
	notes := sarifNotifications{r: r, first: firstForDisplayOfErrors(r)}
	inv := sarifInvocation{ExecutionSuccessful: r.Summary.Errors == 0, StartTimeUTC: sarifTime(r.CollectedAt.UTC().Format(timeLayout)),
		EndTimeUTC: sarifTime(r.GeneratedAt.UTC().Format(timeLayout))}
	var invSplices []snapshot.Splice
	if notes.some() {
		driver.Notifications = []sarifNotice{
			{ID: "environment-not-audited", ShortDescription: sarifText{Text: "An environment could not be read completely; its rules are reported as errors, not results."}},
			{ID: "tenant-not-audited", ShortDescription: sarifText{Text: "A tenant's environment list could not be read."}},
		}
		inv.ToolExecutionNotifications = make([]sarifNotification, 1)
		invSplices = append(invSplices, snapshot.Splice{Key: "toolExecutionNotifications", Write: func(v *snapshot.JSONValue) error {
			return v.Array(notes.add)
		}})
	}
	run := sarifRun{
		Tool:        sarifTool{Driver: driver},
		Invocations: make([]sarifInvocation, 1),
		Results:     []sarifResult{},
		Properties: map[string]any{
			"policy_digest": r.Policy.Digest, "fail_on": r.FailOn, "schema_version": r.SchemaVersion,
			"tenants": tenantList(r), "summary": r.Summary,
		},
	}
	invocations := snapshot.Splice{Key: "invocations", Write: func(v *snapshot.JSONValue) error {
		return v.Array(func(a *snapshot.JSONArray) error { return a.Add(&inv, invSplices...) })
	}}
	results := snapshot.Splice{Key: "results", Write: func(v *snapshot.JSONValue) error {
		return v.Array(func(a *snapshot.JSONArray) error {
			for i := range r.Results {
				res := &r.Results[i]
				if res.Status != policy.StatusFail && res.Status != policy.StatusWaived {
					continue
				}
				e := Environment{ID: res.EnvironmentID, Name: res.EnvironmentName, Tenant: res.Tenant}
				if k, ok := envs[res.EnvironmentID]; ok && r.Environments[k].ID != "" {
					e = r.Environments[k]
				}
				sr := s.result(res, e, ruleIndex)
				if err := a.Add(&sr); err != nil {
					return err
				}
			}
			return nil
		})
	}}
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: make([]sarifRun, 1)}
	return snapshot.NewJSONWriter(w).Encode(&log, snapshot.Splice{Key: "runs", Write: func(v *snapshot.JSONValue) error {
		return v.Array(func(a *snapshot.JSONArray) error { return a.Add(&run, invocations, results) })
	}})
}

// result is the SARIF result of a failing or waived pair.
func (s sarifReporter) result(res *policy.Result, e Environment, ruleIndex map[string]int) sarifResult {
	idx, ok := ruleIndex[res.RuleID]
	if !ok {
		idx = -1
	}
	sr := sarifResult{
		RuleID: res.RuleID, RuleIndex: idx, Kind: "fail", Level: sarifLevels[res.Severity],
		Message:             sarifText{Text: res.Message},
		Locations:           []sarifLocation{{PhysicalLocation: s.physical(res.Tenant), LogicalLocations: []sarifLogicalLocation{logicalLocation(e)}}},
		PartialFingerprints: map[string]string{"environmentRule/v1": res.EnvironmentID + ":" + res.RuleID},
		Properties:          map[string]any{"severity": res.Severity, "tenant": res.Tenant, "environment_id": res.EnvironmentID, "environment": res.EnvironmentName},
	}
	if sr.Level == "" {
		sr.Level = "warning"
	}
	if res.Evidence != nil {
		sr.Properties["evidence"] = res.Evidence
	}
	if res.Remediation != nil {
		sr.Properties["remediation"] = res.Remediation
	}
	if res.Waiver != nil {
		sr.Properties["waiver"] = res.Waiver
	}
	if res.Status == policy.StatusWaived && res.Waiver != nil {
		just := res.Waiver.Reason + " (owner " + res.Waiver.Owner
		if res.Waiver.Ticket != "" {
			just += ", ticket " + res.Waiver.Ticket
		}
		just += ", until " + res.Waiver.Expires + ")"
		sr.Suppressions = []sarifSuppress{{Kind: "external", Status: "accepted", Justification: just,
			Properties: map[string]any{"owner": res.Waiver.Owner, "ticket": res.Waiver.Ticket, "expires": res.Waiver.Expires}}}
	}
	return sr
}

// sarifNotifications are the tool execution notifications: a tenant whose environments could not be listed,
// then an environment that could not be read.
type sarifNotifications struct {
	r     *Report
	first map[string]*policy.Result // the first result in display order of each environment in error
}

func (n sarifNotifications) some() bool {
	for _, t := range n.r.Tenants {
		if t.Error != "" {
			return true
		}
	}
	for _, e := range n.r.Environments {
		if e.Status == policy.StatusError {
			return true
		}
	}
	return false
}

func (n sarifNotifications) add(a *snapshot.JSONArray) error {
	for _, t := range n.r.Tenants {
		if t.Error == "" {
			continue
		}
		err := a.Add(&sarifNotification{
			Level: "error", Message: sarifText{Text: fmt.Sprintf("Tenant %s: its environments could not be listed: %s", t.Name, t.Error)},
			Descriptor: &sarifDescriptor{ID: "tenant-not-audited"}, Properties: map[string]any{"tenant": t.Name, "tenant_id": t.ID}})
		if err != nil {
			return err
		}
	}
	for _, e := range n.r.Environments {
		if e.Status != policy.StatusError {
			continue
		}
		msg := e.Error
		if res := n.first[e.ID]; res != nil && res.Message != "" {
			msg = res.Message
		}
		err := a.Add(&sarifNotification{
			Level: "error", Message: sarifText{Text: fmt.Sprintf("Environment %s could not be audited: %s", e.Name, msg)},
			Locations:  []sarifLocation{{LogicalLocations: []sarifLogicalLocation{logicalLocation(e)}}},
			Descriptor: &sarifDescriptor{ID: "environment-not-audited"}, Properties: map[string]any{"environment_id": e.ID, "tenant": e.Tenant}})
		if err != nil {
			return err
		}
	}
	return nil
}

// firstForDisplayOfErrors is the first of ResultsOf of each environment in error, found in one pass over the
// results rather than one per environment.
func firstForDisplayOfErrors(r *Report) map[string]*policy.Result {
	first := map[string]*policy.Result{}
	for _, e := range r.Environments {
		if e.Status == policy.StatusError {
			first[e.ID] = nil
		}
	}
	if len(first) == 0 {
		return first
	}
	for i := range r.Results {
		res := &r.Results[i]
		best, ok := first[res.EnvironmentID]
		if ok && (best == nil || displayLess(res, best)) {
			first[res.EnvironmentID] = res
		}
	}
	return first
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func sarifTime(s string) string {
	if strings.HasPrefix(s, "0001-") {
		return ""
	}
	return s
}

func sarifRuleOf(rule Rule) sarifRule {
	sr := sarifRule{
		ID:                   rule.ID,
		ShortDescription:     sarifText{Text: rule.Title},
		FullDescription:      sarifText{Text: orText(rule.Description, rule.Title)},
		DefaultConfiguration: sarifConfig{Level: orText(sarifLevels[rule.Severity], "warning")},
		Properties: map[string]any{
			"severity":          rule.Severity,
			"security-severity": securitySeverity[rule.Severity],
			"tags":              []string{"work365", "power-platform", "security", strings.ToLower(ruleFamily(rule.ID))},
			"automatic":         rule.Automatic,
			"source":            rule.Source,
		},
	}
	if rule.Guide != "" {
		sr.Properties["guide"] = rule.Guide
	}
	if rule.Remediation != "" {
		help := rule.Remediation
		md := rule.Remediation
		if rule.Guide != "" {
			help += "\n\nGuide: " + rule.Guide
			md += "\n\nGuide: *" + rule.Guide + "*"
		}
		var links []string
		for _, rr := range rule.Related {
			links = append(links, fmt.Sprintf("- [%s](%s)", orText(rr.Description, rr.Ref), rr.Ref))
		}
		if len(links) > 0 {
			md += "\n\n" + strings.Join(links, "\n")
		}
		sr.Help = &sarifText{Text: help, Markdown: md}
	}
	if len(rule.Related) > 0 {
		sr.HelpURI = rule.Related[0].Ref
	}
	return sr
}

// ruleFamily is the middle part of a rule ID: APPUSER of W365.APPUSER.1.
func ruleFamily(id string) string {
	parts := strings.Split(id, ".")
	if len(parts) >= 3 {
		return parts[1]
	}
	return id
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// physical locates a tenant's results in the source file, or nowhere without one.
func (s sarifReporter) physical(tenant string) *sarifPhysicalLocation {
	if s.source == nil || s.source.URI == "" {
		return nil
	}
	loc := &sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: s.source.URI, URIBaseID: "%SRCROOT%"}}
	if line := s.source.Lines[tenant]; line > 0 {
		loc.Region = &sarifRegion{StartLine: line}
	}
	return loc
}

func logicalLocation(e Environment) sarifLogicalLocation {
	return sarifLogicalLocation{Name: e.Name, FullyQualifiedName: e.Tenant + "/" + e.Name, Kind: "resource"}
}

func tenantList(r *Report) []map[string]string {
	out := []map[string]string{}
	for _, t := range r.Tenants {
		out = append(out, map[string]string{"name": t.Name, "id": t.ID})
	}
	return out
}

// SourceFor locates SARIF results in a config file, relative to the Git repository that holds it (what code
// scanning expects), at the line of each tenant's entry (lines by tenant name). An empty path has no source.
func SourceFor(path string, lines map[string]int) *SourceFile {
	if path == "" {
		return nil
	}
	src := &SourceFile{URI: repoRelative(path), Lines: map[string]int{}}
	for name, line := range lines {
		if line > 0 {
			src.Lines[name] = line
		}
	}
	return src
}

// repoRelative is path relative to the root of the Git repository that holds it, else relative to the
// working directory when it is below it, else its base name.
func repoRelative(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			if rel, err := filepath.Rel(dir, abs); err == nil {
				return filepath.ToSlash(rel)
			}
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(abs)
}
