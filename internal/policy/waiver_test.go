package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func failing(env, rule string, evidence map[string]any) Result {
	return Result{Tenant: "contoso", EnvironmentID: env + "-id", EnvironmentName: env, RuleID: rule, Status: StatusFail, Evidence: evidence}
}

func TestWaiversApplyUntilTheirLastDayInUTC(t *testing.T) {
	t.Parallel()
	w := Waiver{Rule: "W365.ROLES.3", Environment: "Contoso *", Reason: "migration", Owner: "jdoe", Ticket: "CHG-1", Expires: day("2026-11-26")}
	cases := map[string]struct {
		now    time.Time
		status Status
	}{
		"on the last day, late in UTC": {time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC), StatusWaived},
		"the next day in UTC":          {time.Date(2026, 11, 27, 0, 0, 1, 0, time.UTC), StatusFail},
		// 2026-11-26 20:00 in New York is already 2026-11-27 in UTC.
		"the next day in UTC, late the last day in New York": {time.Date(2026, 11, 26, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), StatusFail},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rs := []Result{failing("Contoso Sandbox", "W365.ROLES.3", nil)}
			ws := NewWaivers([]Waiver{w}, tc.now)
			ws.Apply(rs)
			assert.Equal(t, tc.status, rs[0].Status)
			require.NotNil(t, rs[0].Waiver)
			assert.Equal(t, &WaiverInfo{Reason: "migration", Owner: "jdoe", Ticket: "CHG-1", Expires: "2026-11-26", Expired: tc.status == StatusFail}, rs[0].Waiver)
		})
	}
}

func TestWaiversMatchRuleEnvironmentTenantAndObjects(t *testing.T) {
	t.Parallel()
	now := day("2026-11-01")
	flows := map[string]any{"flows": []any{
		map[string]any{"name": "Work 365 - Renewal Reminder", "owner": map[string]any{"name": "Pat Former"}},
		map[string]any{"name": "Work 365 - Invoice Email"},
	}}
	cases := []struct {
		name   string
		waiver Waiver
		result Result
		want   Status
	}{
		{"by environment ID", Waiver{Rule: "W365.BIND.1", Environment: "contoso legacy-id"}, failing("Contoso Legacy", "W365.BIND.1", nil), StatusWaived},
		{"rule glob", Waiver{Rule: "W365.BIND.*", Environment: "*"}, failing("Contoso Legacy", "W365.BIND.2", nil), StatusWaived},
		{"other rule", Waiver{Rule: "W365.BIND.2", Environment: "*"}, failing("Contoso Legacy", "W365.BIND.1", nil), StatusFail},
		{"other tenant", Waiver{Rule: "*", Environment: "*", Tenant: "fabrikam"}, failing("Contoso Legacy", "W365.BIND.1", nil), StatusFail},
		{"every object covered", Waiver{Rule: "W365.BIND.1", Environment: "*", Object: "Work 365 - *"}, failing("Contoso Legacy", "W365.BIND.1", flows), StatusWaived},
		{"one object not covered", Waiver{Rule: "W365.BIND.1", Environment: "*", Object: "*Reminder"}, failing("Contoso Legacy", "W365.BIND.1", flows), StatusFail},
		{"owners are not objects", Waiver{Rule: "W365.BIND.1", Environment: "*", Object: "Pat Former"}, failing("Contoso Legacy", "W365.BIND.1", flows), StatusFail},
		{"object scope needs named objects", Waiver{Rule: "W365.ROLES.2", Environment: "*", Object: "*"}, failing("Contoso Legacy", "W365.ROLES.2", map[string]any{"role": "x"}), StatusFail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.waiver.Expires = day("2027-01-01")
			rs := []Result{tc.result}
			NewWaivers([]Waiver{tc.waiver}, now).Apply(rs)
			assert.Equal(t, tc.want, rs[0].Status)
		})
	}
}

func TestWaiversNeverTouchPassesOrErrors(t *testing.T) {
	t.Parallel()
	rs := []Result{
		{EnvironmentName: "A", RuleID: "W365.ROLES.3", Status: StatusPass},
		{EnvironmentName: "A", RuleID: "W365.ROLES.3", Status: StatusError},
	}
	ws := NewWaivers([]Waiver{{Rule: "*", Environment: "*", Expires: day("2030-01-01")}}, day("2026-01-01"))
	ws.Apply(rs)
	assert.Equal(t, StatusPass, rs[0].Status)
	assert.Equal(t, StatusError, rs[1].Status)
	assert.Nil(t, rs[0].Waiver)
}

func TestWarningsNameStaleAndExpiredWaivers(t *testing.T) {
	t.Parallel()
	ws := NewWaivers([]Waiver{
		{Rule: "W365.ROLES.3", Environment: "Sandbox", Expires: day("2027-01-01"), Where: "audit.yaml:10"},
		{Rule: "W365.JOBS.1", Environment: "Legacy", Expires: day("2026-10-31"), Where: "audit.yaml:17"},
		{Rule: "W365.BIND.2", Environment: "Nowhere", Expires: day("2027-01-01"), Where: "audit.yaml:24"},
	}, day("2026-11-26"))
	ws.Apply([]Result{failing("Sandbox", "W365.ROLES.3", nil), failing("Legacy", "W365.JOBS.1", nil)})
	// A second phase (tenant rules) may use the same set.
	ws.Apply([]Result{failing("Prod", "W365.GOV.1", nil)})
	assert.Equal(t, []string{
		`waiver for W365.BIND.2 in "Nowhere" (audit.yaml:24) matches no failing result: remove it if the exception is over, or correct its rule or environment`,
		`waiver for W365.JOBS.1 in "Legacy" (audit.yaml:17) expired on 2026-10-31 and no longer applies: renew it with a new date or fix the failure`,
	}, ws.Warnings())
}
