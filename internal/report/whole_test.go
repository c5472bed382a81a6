package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"

	"github.com/work365/audit/internal/policy"
)

// The SARIF and JUnit reporters as they were before they streamed: each builds its whole document and encodes
// it at once. They are the reference the streaming reporters must match byte for byte.

func wholeSARIF(s sarifReporter, w io.Writer, r *Report) error {
	ruleIndex := map[string]int{}
	driver := sarifDriver{Name: "audit", FullName: "audit: Work 365 environment compliance auditor", Version: r.Tool.Version,
		InformationURI: sarifInfoURI, Rules: []sarifRule{}}
	for i, rule := range r.Rules {
		ruleIndex[rule.ID] = i
		driver.Rules = append(driver.Rules, sarifRuleOf(rule))
	}
	envs := map[string]Environment{}
	for _, e := range r.Environments {
		envs[e.ID] = e
	}
	inv := sarifInvocation{ExecutionSuccessful: r.Summary.Errors == 0, StartTimeUTC: sarifTime(r.CollectedAt.UTC().Format(timeLayout)),
		EndTimeUTC: sarifTime(r.GeneratedAt.UTC().Format(timeLayout))}
	for _, t := range r.Tenants {
		if t.Error != "" {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
				Level: "error", Message: sarifText{Text: fmt.Sprintf("Tenant %s: its environments could not be listed: %s", t.Name, t.Error)},
				Descriptor: &sarifDescriptor{ID: "tenant-not-audited"}, Properties: map[string]any{"tenant": t.Name, "tenant_id": t.ID}})
		}
	}
	for _, e := range r.Environments {
		if e.Status != policy.StatusError {
			continue
		}
		msg := e.Error
		if rs := r.ResultsOf(e.ID); len(rs) > 0 && rs[0].Message != "" {
			msg = rs[0].Message
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level: "error", Message: sarifText{Text: fmt.Sprintf("Environment %s could not be audited: %s", e.Name, msg)},
			Locations:  []sarifLocation{{LogicalLocations: []sarifLogicalLocation{logicalLocation(e)}}},
			Descriptor: &sarifDescriptor{ID: "environment-not-audited"}, Properties: map[string]any{"environment_id": e.ID, "tenant": e.Tenant}})
	}
	if len(inv.ToolExecutionNotifications) > 0 {
		driver.Notifications = []sarifNotice{
			{ID: "environment-not-audited", ShortDescription: sarifText{Text: "An environment could not be read completely; its rules are reported as errors, not results."}},
			{ID: "tenant-not-audited", ShortDescription: sarifText{Text: "A tenant's environment list could not be read."}},
		}
	}
	run := sarifRun{
		Tool:        sarifTool{Driver: driver},
		Invocations: []sarifInvocation{inv},
		Results:     []sarifResult{},
		Properties: map[string]any{
			"policy_digest": r.Policy.Digest, "fail_on": r.FailOn, "schema_version": r.SchemaVersion,
			"tenants": tenantList(r), "summary": r.Summary,
		},
	}
	for _, res := range r.Results {
		if res.Status != policy.StatusFail && res.Status != policy.StatusWaived {
			continue
		}
		e := envs[res.EnvironmentID]
		if e.ID == "" {
			e = Environment{ID: res.EnvironmentID, Name: res.EnvironmentName, Tenant: res.Tenant}
		}
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
		run.Results = append(run.Results, sr)
	}
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

type junitWholeSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

func wholeJUnit(w io.Writer, r *Report) error {
	out := junitWholeSuites{Name: "Work 365 compliance audit", Time: "0"}
	stamp := r.CollectedAt.UTC().Format("2006-01-02T15:04:05")
	for i, e := range r.Environments {
		s := junitSuite{Name: e.Tenant + " / " + e.Name, ID: i, Package: e.Tenant, Hostname: hostOf(e.InstanceURL), Time: "0", Timestamp: stamp,
			Properties: []junitProperty{
				{Name: "environment.id", Value: e.ID}, {Name: "environment.type", Value: e.Type},
				{Name: "environment.region", Value: e.Region}, {Name: "environment.status", Value: string(e.Status)},
			}}
		if e.InstanceURL != "" {
			s.Properties = append(s.Properties, junitProperty{Name: "environment.instance_url", Value: e.InstanceURL})
		}
		if inv := e.Inventory; inv != nil {
			s.Properties = append(s.Properties, junitProperty{Name: "work365.version", Value: inv.Work365Version})
			if inv.AppID != "" {
				s.Properties = append(s.Properties, junitProperty{Name: "work365.app_id", Value: inv.AppID})
			}
		}
		if e.Error != "" {
			s.SystemErr = e.Error
		}
		for _, res := range r.Results {
			if res.EnvironmentID != e.ID {
				continue
			}
			s.Cases = append(s.Cases, junitCaseOf(r, e, res))
			s.Tests++
			switch res.Status {
			case policy.StatusFail:
				s.Failures++
			case policy.StatusError:
				s.Errors++
			case policy.StatusWaived, policy.StatusNotApplicable:
				s.Skipped++
			}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	for i, t := range r.Tenants {
		if t.Error == "" {
			continue
		}
		// A tenant whose environments could not be listed is one erroring test case, so CI does not go green.
		s := junitSuite{Name: t.Name, ID: len(r.Environments) + i, Package: t.Name, junitCounts: junitCounts{Tests: 1, Errors: 1}, Time: "0", Timestamp: stamp,
			Properties: []junitProperty{{Name: "tenant.id", Value: t.ID}},
			Cases: []junitCase{{Name: "list environments", Classname: t.Name, Time: "0",
				Error: &junitProblem{Message: oneLine(t.Error), Type: "error", Text: xmlText(t.Error)}}}}
		out.Tests++
		out.Errors++
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
