// Package fix turns failing results into a plan of remediation steps per environment, applies the automatic
// ones through the Dataverse Web API with a journal of every write, and undoes a run from its journal.
// Every action re-reads the state it changes before acting, so a run that is interrupted and started again
// converges without duplicate users or roles.
package fix

import (
	"fmt"
	"sort"
	"strings"

	"github.com/work365/audit/internal/glob"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// Action is what a remediation step does: the "action" of a policy's remediation.
type Action string

// Actions, in the order they are applied within an environment.
const (
	ActCreateAppUser  Action = "create_app_user"
	ActEnableUser     Action = "enable_user"
	ActAssignRole     Action = "assign_role"
	ActSetServiceUser Action = "set_service_user"
	ActRemoveRole     Action = "remove_role"
	ActClearCache     Action = "clear_cache"
	ActManual         Action = "manual"
	// ActPurgeAppUser permanently deleted a soft-deleted application user in earlier versions. Permanent deletion
	// of users is a preview feature that needs an environment setting and the reassignment of the user's records
	// first (learn.microsoft.com/power-platform/admin/delete-users), so it is a manual step now; the name stays to
	// read older journals and to refuse the action by name.
	ActPurgeAppUser Action = "purge_app_user"
)

// The service user is switched before roles are removed: a removal re-checks that it does not take what Work
// 365 still runs on (W365.LEGACY.1 removes a person's roles only once the service user is an application user).
var actionRank = map[Action]int{
	ActCreateAppUser: 1, ActEnableUser: 2, ActAssignRole: 3, ActSetServiceUser: 4, ActRemoveRole: 5, ActClearCache: 6,
}

// OptInFixPrivileges is the opt-in flag that unlocks removing roles.
const OptInFixPrivileges = "fix-privileges"

// purgeIsManual is why a purge is never applied automatically.
const purgeIsManual = "permanent deletion of a user is a preview feature that needs an environment setting and its records reassigned first: it is a manual step (see the manual steps)"

// Options shape a plan.
type Options struct {
	Rules           []string // only failures of these rules (globs); empty means all
	Environments    []string // only these environments (name or ID globs); empty means all
	FixPrivileges   bool     // allow remove_role (least privilege, legacy role holders)
	AllowProduction bool     // change production environments without a passing sandbox
	// NonProductionTypes are the environment types that are not production (policy data non_production_types:
	// Sandbox, Developer, Trial). Every other type is production for the gate — Default (Microsoft calls it a
	// production environment), an empty type and types this version does not know included.
	NonProductionTypes []string
	SandboxTypes       []string // environment types that count as sandboxes (policy data sandbox_types)
	// Roles are the Work 365 roles: assign_role steps for other roles are left out, with the reason.
	Roles          RoleNames
	MinVersion     string // for the message of environments below it
	ClearCacheName string // the clear-cache action, for descriptions
}

// Step is one remediation step of an environment's plan.
type Step struct {
	Action      Action         `json:"action"`
	Params      map[string]any `json:"params"`
	Rules       []string       `json:"rules"` // the failing rules that asked for it
	Description string         `json:"description"`
	Title       string         `json:"title,omitempty"`  // manual steps
	Steps       []string       `json:"steps,omitempty"`  // manual steps: what to do, in order
	Reason      string         `json:"reason,omitempty"` // why a step is not applied
}

// Gate says whether a production environment may be changed in this run.
const (
	GateOpen        = "open"        // not production, or a sandbox already passes, or --allow-production
	GateConditional = "conditional" // changed only if a sandbox passes the critical rules after this run's own fixes
	GateClosed      = "closed"      // held back: no sandbox can qualify in this run
)

// EnvPlan is the plan of one environment.
type EnvPlan struct {
	Tenant        string `json:"tenant"`
	EnvironmentID string `json:"environment_id"`
	Name          string `json:"name"`
	Type          string `json:"type"`
	Region        string `json:"region"`
	InstanceURL   string `json:"instance_url"`
	Production    bool   `json:"production"`
	Sandbox       bool   `json:"sandbox"`
	// Schema is where the environment keeps Work 365's service-user setting, as collected.
	Schema *snapshot.Schema `json:"schema,omitempty"`
	// Steps are the automatic steps, in dependency order.
	Steps []Step `json:"steps"`
	// Manual are the steps a person has to take; never faked as automatic.
	Manual []Step `json:"manual"`
	// NotApplied are automatic steps left out, each with its reason (opt-in flag missing, waived, blocked).
	NotApplied []Step `json:"not_applied"`
	// Blocked, when set, is why no automatic step is made in this environment at all.
	Blocked string `json:"blocked,omitempty"`
	Gate    string `json:"gate"`
	// GateReason explains the gate of a production environment.
	GateReason string `json:"gate_reason,omitempty"`
}

// Plan is the remediation plan of a snapshot's failing results.
type Plan struct {
	Environments []EnvPlan `json:"environments"`
}

// Automatic counts the automatic steps that would be applied (open and conditional environments).
func (p *Plan) Automatic() int {
	n := 0
	for _, e := range p.Environments {
		if e.Blocked == "" && e.Gate != GateClosed {
			n += len(e.Steps)
		}
	}
	return n
}

// BuildPlan derives the plan from the results of an evaluation of snap.
func BuildPlan(snap *snapshot.Snapshot, results []policy.Result, rules []policy.Rule, opts Options) *Plan {
	severity := map[string]string{}
	for _, r := range rules {
		severity[r.ID] = r.Severity
	}
	byEnv := map[string][]policy.Result{}
	for _, r := range results {
		byEnv[r.EnvironmentID] = append(byEnv[r.EnvironmentID], r)
	}
	plan := &Plan{}
	for ti := range snap.Tenants {
		t := &snap.Tenants[ti]
		var tenantPlans []EnvPlan
		qualified := ""
		for ei := range t.Environments {
			env := &t.Environments[ei]
			res := byEnv[env.ID]
			ep := EnvPlan{Tenant: t.Name, EnvironmentID: env.ID, Name: env.Name, Type: env.Type, Region: env.Region,
				InstanceURL: env.InstanceURL, Production: production(env.Type, opts.NonProductionTypes), Sandbox: oneOf(env.Type, opts.SandboxTypes),
				Steps: []Step{}, Manual: []Step{}, NotApplied: []Step{}, Gate: GateOpen}
			if ep.Sandbox && qualified == "" && PassesCritical(env, res, severity) {
				qualified = env.Name
			}
			if !matchAny(opts.Environments, env.Name, env.ID) {
				continue
			}
			if env.Dataverse != nil {
				ep.Schema = env.Dataverse.Schema
			}
			buildEnv(&ep, env, res, opts)
			if len(ep.Steps)+len(ep.Manual)+len(ep.NotApplied) == 0 && ep.Blocked == "" {
				continue
			}
			tenantPlans = append(tenantPlans, ep)
		}
		gate(tenantPlans, qualified, opts)
		plan.Environments = append(plan.Environments, tenantPlans...)
	}
	return plan
}

// PassesCritical reports whether a sandbox was read completely, runs Work 365 and passes every critical rule
// (a waived failure counts as passing): what opens the sandbox-first gate. res are the environment's results;
// severity maps rule IDs to severities.
func PassesCritical(env *snapshot.Environment, res []policy.Result, severity map[string]string) bool {
	if env.Status != snapshot.StatusOK || env.Dataverse == nil || !env.Dataverse.Work365.Installed {
		return false
	}
	for _, r := range res {
		if severity[r.RuleID] == "critical" && (r.Status == policy.StatusFail || r.Status == policy.StatusError) {
			return false
		}
	}
	return true
}

// gate decides, per tenant, whether its production environments may be changed.
func gate(envs []EnvPlan, qualified string, opts Options) {
	var fixableSandboxes []string
	for _, e := range envs {
		if e.Sandbox && e.Blocked == "" && len(e.Steps) > 0 {
			fixableSandboxes = append(fixableSandboxes, e.Name)
		}
	}
	for i := range envs {
		e := &envs[i]
		if !e.Production || e.Blocked != "" || len(e.Steps) == 0 {
			continue
		}
		switch {
		case opts.AllowProduction:
			e.Gate, e.GateReason = GateOpen, "production, changed because of --allow-production"
		case qualified != "":
			e.Gate, e.GateReason = GateOpen, fmt.Sprintf("production; sandbox %q already passes the critical rules", qualified)
		case len(fixableSandboxes) > 0:
			e.Gate, e.GateReason = GateConditional, fmt.Sprintf("production; changed only if sandbox %s passes the critical rules after its own fixes in this run",
				quoteList(fixableSandboxes))
		default:
			e.Gate, e.GateReason = GateClosed, fmt.Sprintf("production; held back because no sandbox of tenant %q passes the critical rules: fix one first (sandbox first), or re-run with --allow-production", e.Tenant)
		}
	}
}

func buildEnv(ep *EnvPlan, env *snapshot.Environment, res []policy.Result, opts Options) {
	belowMin := false
	for _, r := range res {
		if r.RuleID == "W365.INSTALL.1" && r.Status == policy.StatusFail {
			belowMin = true
		}
	}
	switch {
	case env.Status == snapshot.StatusError:
		ep.Blocked = "the environment could not be read completely: it is never changed"
		return
	case env.Status != snapshot.StatusOK || env.Dataverse == nil:
		return
	}
	seen := map[string]int{}
	manualSeen := map[string]bool{}
	for _, r := range res {
		if r.Status != policy.StatusFail && r.Status != policy.StatusWaived {
			continue
		}
		if !matchAny(opts.Rules, r.RuleID) || r.Remediation == nil {
			continue
		}
		for _, a := range r.Remediation.Actions {
			kind := Action(str(a, "action"))
			if kind == ActManual {
				title, _ := a["title"].(string)
				steps := strs(a["steps"])
				key := title + "\x00" + strings.Join(steps, "\x00")
				if r.Status == policy.StatusWaived || manualSeen[key] {
					continue
				}
				manualSeen[key] = true
				ep.Manual = append(ep.Manual, Step{Action: ActManual, Params: a, Rules: []string{r.RuleID}, Title: title, Steps: steps, Description: title})
				continue
			}
			if kind == ActPurgeAppUser {
				ep.NotApplied = append(ep.NotApplied, Step{Action: kind, Params: a, Rules: []string{r.RuleID},
					Description: describe(a, env, opts), Reason: purgeIsManual})
				continue
			}
			if _, known := actionRank[kind]; !known {
				ep.NotApplied = append(ep.NotApplied, Step{Action: kind, Params: a, Rules: []string{r.RuleID},
					Description: "unknown action " + string(kind), Reason: "this version of audit does not know how to apply it"})
				continue
			}
			key := actionKey(a)
			if i, ok := seen[key]; ok {
				ep.Steps[i].Rules = appendUnique(ep.Steps[i].Rules, r.RuleID)
				continue
			}
			st := Step{Action: kind, Params: a, Rules: []string{r.RuleID}, Description: describe(a, env, opts)}
			if r.Status == policy.StatusWaived {
				st.Reason = fmt.Sprintf("the failure of %s is waived until %s", r.RuleID, waivedUntil(r))
				ep.NotApplied = append(ep.NotApplied, st)
				continue
			}
			seen[key] = len(ep.Steps)
			ep.Steps = append(ep.Steps, st)
		}
	}
	// A step asked by several rules stays if any asking rule is not waived; drop waived duplicates.
	ep.NotApplied = dropCovered(ep.NotApplied, seen)
	sort.SliceStable(ep.Steps, func(i, j int) bool { return actionRank[ep.Steps[i].Action] < actionRank[ep.Steps[j].Action] })

	// Opt-in steps, and steps that depend on an application user that cannot be created: a soft-deleted one
	// of the same App ID blocks creating it until it is purged, which a person does (a manual step).
	var keep []Step
	for _, st := range ep.Steps {
		if st.Action == ActAssignRole {
			if ok, why := opts.Roles.allowed(str(st.Params, "role")); !ok {
				st.Reason = why
				ep.NotApplied = append(ep.NotApplied, st)
				continue
			}
		}
		if optIn(st.Params) == OptInFixPrivileges && !opts.FixPrivileges {
			st.Reason = "removing roles needs --fix-privileges (least privilege is applied only on request)"
			ep.NotApplied = append(ep.NotApplied, st)
			continue
		}
		app := appID(st.Params)
		if app != "" && st.Action != ActClearCache && hasDeleted(env, app) && !hasLive(env, app) {
			st.Reason = "a soft-deleted application user with this App ID blocks creating a new one: it has to be purged first (see the manual steps)"
			ep.NotApplied = append(ep.NotApplied, st)
			continue
		}
		keep = append(keep, st)
	}
	ep.Steps = keep
	if len(ep.Steps) == 1 && ep.Steps[0].Action == ActClearCache {
		ep.Steps[0].Reason = "nothing else changes in this environment"
		ep.NotApplied = append(ep.NotApplied, ep.Steps[0])
		ep.Steps = nil
	}
	if ep.Steps == nil {
		ep.Steps = []Step{}
	}
	if belowMin && len(ep.Steps) > 0 {
		version := env.Dataverse.Work365.Version
		ep.Blocked = fmt.Sprintf("Work 365 %s is below %s: no automatic change is made until it is upgraded (an application user it cannot use would only break it)", version, opts.MinVersion)
		for _, st := range ep.Steps {
			st.Reason = "Work 365 must be upgraded first"
			ep.NotApplied = append(ep.NotApplied, st)
		}
		ep.Steps = []Step{}
		// The upgrade comes first among the manual steps.
		sort.SliceStable(ep.Manual, func(i, j int) bool {
			return contains(ep.Manual[i].Rules, "W365.INSTALL.1") && !contains(ep.Manual[j].Rules, "W365.INSTALL.1")
		})
	}
}

func dropCovered(notApplied []Step, planned map[string]int) []Step {
	out := []Step{}
	seen := map[string]bool{}
	for _, st := range notApplied {
		key := actionKey(st.Params)
		if _, ok := planned[key]; ok || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, st)
	}
	return out
}

func waivedUntil(r policy.Result) string {
	if r.Waiver != nil {
		return r.Waiver.Expires
	}
	return "its expiry"
}

func hasDeleted(env *snapshot.Environment, app string) bool {
	for _, u := range env.Dataverse.ApplicationUsers {
		if strings.EqualFold(u.ApplicationID, app) && u.DeletedState != 0 {
			return true
		}
	}
	return false
}

func hasLive(env *snapshot.Environment, app string) bool {
	for _, u := range env.Dataverse.ApplicationUsers {
		if strings.EqualFold(u.ApplicationID, app) && u.DeletedState == 0 {
			return true
		}
	}
	return false
}

// actionKey identifies an action so that the same step asked by several rules is applied once.
func actionKey(a map[string]any) string {
	kind, _ := a["action"].(string)
	parts := []string{kind}
	for _, k := range []string{"app_id", "user_id", "role", "role_id"} {
		if v, ok := a[k].(string); ok {
			parts = append(parts, k+"="+strings.ToLower(v))
		}
	}
	return strings.Join(parts, "|")
}

func optIn(a map[string]any) string {
	s, _ := a["opt_in"].(string)
	if s == "" && Action(str(a, "action")) == ActRemoveRole {
		return OptInFixPrivileges
	}
	return s
}

func appID(a map[string]any) string {
	s, _ := a["app_id"].(string)
	return strings.ToLower(s)
}

func str(a map[string]any, k string) string {
	s, _ := a[k].(string)
	return s
}

func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// describe says in one sentence what a step does, with the names an admin recognises.
func describe(a map[string]any, env *snapshot.Environment, opts Options) string {
	app := str(a, "app_id")
	userName := func(id string) string {
		for _, u := range append(append([]snapshot.User{}, env.Dataverse.ApplicationUsers...), env.Dataverse.ServiceRoleHolders...) {
			if strings.EqualFold(u.ID, id) {
				if u.DomainName != "" && !u.IsApplication() {
					return fmt.Sprintf("%q (%s)", u.FullName, u.DomainName)
				}
				return fmt.Sprintf("%q", u.FullName)
			}
		}
		return id
	}
	switch Action(str(a, "action")) {
	case ActPurgeAppUser:
		return fmt.Sprintf("Purge the soft-deleted application user %s (App ID %s)", userName(str(a, "user_id")), app)
	case ActCreateAppUser:
		bu := "the root business unit"
		if env.Dataverse.RootBusinessUnit != nil {
			bu = fmt.Sprintf("business unit %q", env.Dataverse.RootBusinessUnit.Name)
		}
		return fmt.Sprintf("Create the application user for App ID %s in %s (access mode 4, non-interactive)", app, bu)
	case ActEnableUser:
		return fmt.Sprintf("Enable the application user %s", userName(str(a, "user_id")))
	case ActAssignRole:
		return fmt.Sprintf("Assign the role %q to the application user of App ID %s", str(a, "role"), app)
	case ActRemoveRole:
		return fmt.Sprintf("Remove the role %q from %s", str(a, "role"), userName(str(a, "user_id")))
	case ActSetServiceUser:
		return fmt.Sprintf("Set the Work 365 service user to the application user of App ID %s", app)
	case ActClearCache:
		name := opts.ClearCacheName
		if name == "" {
			name = "clear cache"
		}
		return fmt.Sprintf("Clear the Work 365 cache (%s)", name)
	}
	return str(a, "action")
}

// production reports whether an environment type is production for the gate: every type that is not known as
// non-production. An empty list keeps Microsoft's three non-production types.
func production(envType string, nonProduction []string) bool {
	if len(nonProduction) == 0 {
		nonProduction = DefaultNonProductionTypes
	}
	return !oneOf(envType, nonProduction)
}

// DefaultNonProductionTypes are the environment types that are not production.
var DefaultNonProductionTypes = policy.DefaultNonProductionTypes

func oneOf(s string, list []string) bool {
	for _, v := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, values ...string) bool { return glob.Any(patterns, values...) }

func appendUnique(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
