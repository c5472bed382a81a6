package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/work365/audit/internal/policy"
)

func init() {
	register(Format{Name: "junit", Ext: "xml", New: func(Options) Reporter { return junitReporter{} }})
}

// junitReporter writes JUnit XML as CI systems read it (the Ant/Jenkins dialect): one testsuite per environment,
// one testcase per (environment, rule). A failing pair is a <failure>, a pair that could not be judged because
// the environment could not be read is an <error>, and waived or not applicable pairs are <skipped>.
type junitReporter struct{}

// junitCounts are the totals of a testsuite or of the testsuites.
type junitCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
}

type junitSuite struct {
	Name     string `xml:"name,attr"`
	ID       int    `xml:"id,attr"`
	Package  string `xml:"package,attr"`
	Hostname string `xml:"hostname,attr"`
	junitCounts
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemErr  string          `xml:"system-err,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitSkipped `xml:"skipped"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",innerxml"` // escaped by xmlText
}

// xmlText escapes element text for XML but keeps its line breaks and quotes as they are, so that the failure
// text reads in the file as it does in a CI log.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.NewReplacer("&#xA;", "\n", "&#34;", `"`, "&#39;", "'").Replace(b.String())
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// Write writes the suites one at a time: only the totals are counted beforehand, and each suite is built and
// encoded as it is written.
func (junitReporter) Write(w io.Writer, r *Report) error {
	byEnv := map[string][]int{} // each environment's results, in order
	for i := range r.Results {
		byEnv[r.Results[i].EnvironmentID] = append(byEnv[r.Results[i].EnvironmentID], i)
	}
	var total junitCounts
	for _, e := range r.Environments {
		for _, i := range byEnv[e.ID] {
			total.count(r.Results[i].Status)
		}
	}
	for _, t := range r.Tenants {
		if t.Error != "" {
			total.count(policy.StatusError)
		}
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	attr := func(name string, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: name}, Value: value} }
	start := xml.StartElement{Name: xml.Name{Local: "testsuites"}, Attr: []xml.Attr{
		attr("name", "Work 365 compliance audit"), attr("tests", strconv.Itoa(total.Tests)), attr("failures", strconv.Itoa(total.Failures)),
		attr("errors", strconv.Itoa(total.Errors)), attr("skipped", strconv.Itoa(total.Skipped)), attr("time", "0"),
	}}
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	suite := xml.StartElement{Name: xml.Name{Local: "testsuite"}}
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
		for _, k := range byEnv[e.ID] {
			res := r.Results[k]
			s.Cases = append(s.Cases, junitCaseOf(r, e, res))
			s.count(res.Status)
		}
		if err := enc.EncodeElement(&s, suite); err != nil {
			return err
		}
	}
	for i, t := range r.Tenants {
		if t.Error == "" {
			continue
		}
		// A tenant whose environments could not be listed is one erroring test case, so CI does not go green.
		s := junitSuite{Name: t.Name, ID: len(r.Environments) + i, Package: t.Name, junitCounts: junitCounts{Tests: 1, Errors: 1}, Time: "0",
			Timestamp: stamp, Properties: []junitProperty{{Name: "tenant.id", Value: t.ID}},
			Cases: []junitCase{{Name: "list environments", Classname: t.Name, Time: "0",
				Error: &junitProblem{Message: oneLine(t.Error), Type: "error", Text: xmlText(t.Error)}}}}
		if err := enc.EncodeElement(&s, suite); err != nil {
			return err
		}
	}
	if err := enc.EncodeToken(start.End()); err != nil {
		return err
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// count counts a test case of the given status.
func (c *junitCounts) count(status policy.Status) {
	c.Tests++
	switch status {
	case policy.StatusFail:
		c.Failures++
	case policy.StatusError:
		c.Errors++
	case policy.StatusWaived, policy.StatusNotApplicable:
		c.Skipped++
	}
}

func junitCaseOf(r *Report, e Environment, res policy.Result) junitCase {
	c := junitCase{Name: res.RuleID + " " + res.Title, Classname: e.Tenant + " / " + e.Name, Time: "0"}
	switch res.Status {
	case policy.StatusFail:
		c.Failure = &junitProblem{Message: oneLine(res.Message), Type: res.Severity, Text: xmlText(problemText(r, res))}
	case policy.StatusError:
		c.Error = &junitProblem{Message: oneLine(res.Message), Type: "error", Text: xmlText(res.Message)}
	case policy.StatusWaived:
		msg := "waived"
		if wv := res.Waiver; wv != nil {
			msg = fmt.Sprintf("waived until %s by %s: %s", wv.Expires, wv.Owner, oneLine(wv.Reason))
			if wv.Ticket != "" {
				msg += " (" + wv.Ticket + ")"
			}
		}
		c.Skipped = &junitSkipped{Message: msg}
	case policy.StatusNotApplicable:
		c.Skipped = &junitSkipped{Message: "not applicable: " + oneLine(res.Message)}
	}
	return c
}

// problemText is the body of a failure: the finding, then what to do, as a person reads it in a CI log.
func problemText(r *Report, res policy.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s\n", res.RuleID, res.Severity, res.Message)
	if wv := res.Waiver; wv != nil && wv.Expired {
		fmt.Fprintf(&b, "\nA waiver expired on %s (owner %s): %s\n", wv.Expires, wv.Owner, wv.Reason)
	}
	if acts := Actions(res); len(acts) > 0 {
		b.WriteString("\nHow to fix")
		if res.Remediation.Automatic {
			b.WriteString(" (audit fix can apply this)")
		}
		if res.Remediation.OptIn != "" {
			b.WriteString(" (needs opt-in " + res.Remediation.OptIn + ")")
		}
		b.WriteString(":\n")
		for i, a := range acts {
			fmt.Fprintf(&b, "%d. %s\n", i+1, a.Text)
			for j, s := range a.Steps {
				fmt.Fprintf(&b, "   %d.%d. %s\n", i+1, j+1, s)
			}
		}
	}
	if rule, ok := r.Rule(res.RuleID); ok && rule.Guide != "" {
		fmt.Fprintf(&b, "\nGuide: %s\n", rule.Guide)
	}
	return b.String()
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Host
}
