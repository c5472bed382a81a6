package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
)

// Part is the report of one part of a sharded scan, with the name it was read from (for errors).
type Part struct {
	Name   string
	Report *Report
}

// Merge combines the reports of every part of a sharded scan (scan --shard i/n, i = 1…n) into the report the
// whole scan gives. Shards hold whole tenants, so every rule, tenant-scoped ones included, was evaluated on
// all the environments of its tenant: the parts' tenants, environments and results are taken as they are,
// in the whole scan's order, and the summary is counted again. Warnings about waivers depend on which
// environments a part saw, so they are merged as one scan would give them: a waiver that matched a failure
// in any part gets no warning; one that expired unused in a part is expired; otherwise it matched nothing.
// Drift and trends sections of the parts are left out (the merged scan's are computed from its own history).
func Merge(parts []Part, generatedAt time.Time) (*Report, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("no report to merge")
	}
	first := parts[0].Report
	if first.Shard == nil {
		return nil, fmt.Errorf("%s is not the report of a part of a sharded scan (audit scan --shard i/n)", parts[0].Name)
	}
	n := first.Shard.Count
	byIndex := map[int]string{}
	tenantPart := map[string]string{}
	for _, p := range parts {
		r := p.Report
		switch {
		case r.Shard == nil:
			return nil, fmt.Errorf("%s is not the report of a part of a sharded scan (audit scan --shard i/n)", p.Name)
		case r.Shard.Count != n:
			return nil, fmt.Errorf("%s is part %d/%d, but %s is part of a scan split in %d", p.Name, r.Shard.Index, r.Shard.Count, parts[0].Name, n)
		case byIndex[r.Shard.Index] != "":
			return nil, fmt.Errorf("part %d/%d is given twice: %s and %s", r.Shard.Index, n, byIndex[r.Shard.Index], p.Name)
		case r.Fix != nil:
			return nil, fmt.Errorf("%s is the report of a fix run: merge combines scan reports", p.Name)
		case r.SchemaVersion != first.SchemaVersion || r.Tool != first.Tool:
			return nil, fmt.Errorf("%s was written by %s %s (schema %d), %s by %s %s (schema %d): merge the parts of one scan",
				p.Name, r.Tool.Name, r.Tool.Version, r.SchemaVersion, parts[0].Name, first.Tool.Name, first.Tool.Version, first.SchemaVersion)
		case r.Policy.Digest != first.Policy.Digest || strings.Join(r.Policy.Sources, "\x00") != strings.Join(first.Policy.Sources, "\x00"):
			return nil, fmt.Errorf("%s and %s were evaluated with different policy bundles: merge the parts of one scan", p.Name, parts[0].Name)
		case r.FailOn != first.FailOn:
			return nil, fmt.Errorf("%s has --fail-on %s, %s has %s: merge the parts of one scan", p.Name, r.FailOn, parts[0].Name, first.FailOn)
		}
		byIndex[r.Shard.Index] = p.Name
		for _, t := range r.Tenants {
			if prev, dup := tenantPart[t.Name]; dup {
				return nil, fmt.Errorf("tenant %s is in %s and in %s: a tenant belongs to one part", t.Name, prev, p.Name)
			}
			tenantPart[t.Name] = p.Name
		}
	}
	var missing []string
	for i := 1; i <= n; i++ {
		if byIndex[i] == "" {
			missing = append(missing, fmt.Sprintf("%d/%d", i, n))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("part %s of the sharded scan is missing: merge needs the reports of all %d parts", strings.Join(missing, ", "), n)
	}

	out := &Report{
		SchemaVersion: first.SchemaVersion, Tool: first.Tool, Policy: first.Policy, GeneratedAt: generatedAt.UTC(), FailOn: first.FailOn,
		Tenants: []Tenant{}, Environments: []Environment{}, Rules: first.Rules, Results: []policy.Result{},
	}
	for _, p := range parts {
		r := p.Report
		if out.CollectedAt.IsZero() || (!r.CollectedAt.IsZero() && r.CollectedAt.Before(out.CollectedAt)) {
			out.CollectedAt = r.CollectedAt
		}
		out.Tenants = append(out.Tenants, r.Tenants...)
		out.Results = append(out.Results, r.Results...)
	}
	// A whole scan lists tenants by name, each tenant's environments as its part listed them.
	sort.SliceStable(out.Tenants, func(i, j int) bool { return out.Tenants[i].Name < out.Tenants[j].Name })
	envs := map[string][]Environment{}
	for _, p := range parts {
		for _, e := range p.Report.Environments {
			envs[e.Tenant] = append(envs[e.Tenant], e)
		}
	}
	for _, t := range out.Tenants {
		out.Environments = append(out.Environments, envs[t.Name]...)
	}
	sort.SliceStable(out.Results, func(i, j int) bool {
		a, b := out.Results[i], out.Results[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.EnvironmentName != b.EnvironmentName {
			return a.EnvironmentName < b.EnvironmentName
		}
		if a.EnvironmentID != b.EnvironmentID {
			return a.EnvironmentID < b.EnvironmentID
		}
		return a.RuleID < b.RuleID
	})
	out.Warnings = mergeWarnings(parts)
	out.Summary = summarize(out, out.FailOn)
	return out, nil
}

// Waiver warnings as policy.Waivers.Warnings words them: "waiver for RULE in "ENV" (WHERE) <state>".
const (
	waiverPrefix  = "waiver for "
	waiverExpired = " expired on "
	waiverUnused  = " matches no failing result"
)

func waiverWarning(w string) (key string, expired, ok bool) {
	if !strings.HasPrefix(w, waiverPrefix) {
		return "", false, false
	}
	if i := strings.Index(w, waiverExpired); i > 0 {
		return w[:i], true, true
	}
	if i := strings.Index(w, waiverUnused); i > 0 {
		return w[:i], false, true
	}
	return "", false, false
}

// mergeWarnings gives the warnings of the whole scan: first the waiver warnings (sorted, as the policy
// engine gives them), then every other warning once, in the order the parts give them.
func mergeWarnings(parts []Part) []string {
	type state struct {
		parts   int
		expired string
		unused  string
	}
	waivers := map[string]*state{}
	var other []string
	seen := map[string]bool{}
	for _, p := range parts {
		mine := map[string]bool{}
		for _, w := range p.Report.Warnings {
			key, expired, ok := waiverWarning(w)
			if !ok {
				if !seen[w] {
					seen[w] = true
					other = append(other, w)
				}
				continue
			}
			st := waivers[key]
			if st == nil {
				st = &state{}
				waivers[key] = st
			}
			if !mine[key] {
				mine[key] = true
				st.parts++
			}
			if expired {
				st.expired = w
			} else {
				st.unused = w
			}
		}
	}
	out := []string{}
	for _, st := range waivers {
		// A part without a warning for the waiver used it on a failure there.
		if st.parts < len(parts) {
			continue
		}
		if st.expired != "" {
			out = append(out, st.expired)
		} else {
			out = append(out, st.unused)
		}
	}
	sort.Strings(out)
	return append(out, other...)
}
