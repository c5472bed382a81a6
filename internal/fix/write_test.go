package fix

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/policy"
)

// The write protocol under lost answers: a write that landed but whose answer was a 429, a 500 or nothing at all
// is never sent twice, ends applied, and the journal says what happened; one that did not land is sent again.

func noSleep(context.Context, time.Duration) error { return nil }

// quietRig is a rig whose reads retry without sleeping.
func quietRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	r.target.Client.Sleep = noSleep
	return r
}

// run applies the plan of one environment (all its rules, production allowed) with a fresh journal.
func (r *rig) run(t *testing.T, env string, tweak func(*ApplyOptions)) (*Result, string) {
	t.Helper()
	snap, results, _ := r.plan(t, env)
	plan := BuildPlan(snap, results, r.eng.Rules(), Options{Environments: []string{env}, Roles: testRoles, SandboxTypes: []string{"Sandbox"},
		MinVersion: "3.5", AllowProduction: true, FixPrivileges: true})
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := OpenJournal(path, "run-1", "fix", "test", func() time.Time { return now })
	require.NoError(t, err)
	opts := r.options(j)
	opts.Sleep = noSleep
	if tweak != nil {
		tweak(&opts)
	}
	res, err := Apply(context.Background(), plan, opts)
	require.NoError(t, err)
	require.NoError(t, j.Close())
	return res, path
}

func outcomeOf(t *testing.T, res *Result, action Action) Outcome {
	t.Helper()
	for _, o := range res.Outcomes {
		if o.Step.Action == action {
			return o
		}
	}
	t.Fatalf("no outcome for %s in %+v", action, res.Outcomes)
	return Outcome{}
}

// sent counts the writes the emulator received with that method whose path contains part ("$" ends it).
func sent(srv *emulator.Server, method, part string) int {
	n := 0
	for _, w := range srv.Writes() {
		path, _, _ := strings.Cut(w.Path, "?")
		if w.Method == method && (strings.Contains(path, part) || strings.HasSuffix(part, "$") && strings.HasSuffix(path, strings.TrimSuffix(part, "$"))) {
			n++
		}
	}
	return n
}

// journaled lists, in order, every outcome journaled for the writes of an action (a write whose answer was
// lost has two: the lost answer, then what re-reading the state found).
func journaled(t *testing.T, path string, action Action) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	actions := map[int]Action{}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var rec Record
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		switch rec.Phase {
		case PhaseIntent:
			actions[rec.Seq] = rec.Action
		case PhaseOutcome:
			if actions[rec.Seq] == action {
				out = append(out, rec.Result)
			}
		}
	}
	return out
}

// passes checks that the rules a full fix addresses pass afterwards.
func (r *rig) passes(t *testing.T, env string, rules ...string) {
	t.Helper()
	_, results, _ := r.plan(t, env)
	for _, res := range results {
		if res.EnvironmentName == env && contains(rules, res.RuleID) {
			assert.Equal(t, policy.StatusPass, res.Status, "%s in %s: %s", res.RuleID, env, res.Message)
		}
	}
}

type writeCase struct {
	action       Action
	env          string
	match        string // the fault rule's match
	method, part string // how to recognise the write among the emulator's
}

var writeCases = []writeCase{
	{ActCreateAppUser, "Contoso Legacy", "POST systemusers", http.MethodPost, "/systemusers$"},
	{ActEnableUser, "Contoso Finance", "PATCH systemusers", http.MethodPatch, "/systemusers("},
	{ActAssignRole, "Contoso Finance", "POST systemusers", http.MethodPost, "systemuserroles_association/$ref"},
	{ActSetServiceUser, "Contoso Legacy", "PATCH w365_configurations", http.MethodPatch, "w365_configurations("},
}

func TestAWriteThatLandedIsNeverSentTwice(t *testing.T) {
	t.Parallel()
	for _, wc := range writeCases {
		for _, fault := range []struct {
			name  string
			rule  emulator.FaultRule
			first string // what the journal says of the lost answer
		}{
			{"429", emulator.FaultRule{Status: http.StatusTooManyRequests, RetryAfter: 1}, OutcomeFailed},
			{"500", emulator.FaultRule{Status: http.StatusInternalServerError}, OutcomeUnknown},
			{"no answer", emulator.FaultRule{Reset: true}, OutcomeUnknown},
		} {
			t.Run(string(wc.action)+" "+fault.name, func(t *testing.T) {
				t.Parallel()
				r := quietRig(t)
				rule := fault.rule
				rule.Match, rule.Applied, rule.Count = wc.match, true, 1
				require.NoError(t, r.srv.SetFaults(wc.env, emulator.Faults{Rules: []emulator.FaultRule{rule}}))
				res, path := r.run(t, wc.env, nil)

				o := outcomeOf(t, res, wc.action)
				assert.Equal(t, OutcomeApplied, o.Status, o.Reason)
				assert.Equal(t, confirmed, o.Reason)
				assert.Zero(t, res.Failed(), "%+v", res.Outcomes)
				assert.Equal(t, 1, sent(r.srv, wc.method, wc.part), "no duplicate request")
				assert.Equal(t, []string{fault.first, OutcomeApplied}, journaled(t, path, wc.action)[:2],
					"the lost answer is journaled, then what re-reading found")
				r.passes(t, wc.env, "W365.APPUSER.1", "W365.APPUSER.3", "W365.ROLES.1", "W365.ROLES.2", "W365.SERVICE.1")
			})
		}
	}
}

func TestAWriteThatDidNotLandIsSentAgain(t *testing.T) {
	t.Parallel()
	for _, wc := range writeCases {
		for _, fault := range []struct {
			name    string
			rule    emulator.FaultRule
			journal []string
		}{
			{"429", emulator.FaultRule{Status: http.StatusTooManyRequests, RetryAfter: 2}, []string{OutcomeFailed, OutcomeApplied}},
			{"503", emulator.FaultRule{Status: http.StatusServiceUnavailable}, []string{OutcomeUnknown, OutcomeFailed, OutcomeApplied}},
			{"no answer", emulator.FaultRule{Reset: true}, []string{OutcomeUnknown, OutcomeFailed, OutcomeApplied}},
		} {
			t.Run(string(wc.action)+" "+fault.name, func(t *testing.T) {
				t.Parallel()
				r := quietRig(t)
				rule := fault.rule
				rule.Match, rule.Count = wc.match, 1
				require.NoError(t, r.srv.SetFaults(wc.env, emulator.Faults{Rules: []emulator.FaultRule{rule}}))
				var slept []time.Duration
				res, path := r.run(t, wc.env, func(o *ApplyOptions) {
					o.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
				})
				o := outcomeOf(t, res, wc.action)
				assert.Equal(t, OutcomeApplied, o.Status, o.Reason)
				assert.Empty(t, o.Reason)
				assert.Zero(t, res.Failed(), "%+v", res.Outcomes)
				assert.Equal(t, 2, sent(r.srv, wc.method, wc.part), "sent again once")
				assert.Equal(t, fault.journal, journaled(t, path, wc.action)[:len(fault.journal)])
				require.Len(t, slept, 1, "one wait before re-reading")
				if fault.rule.RetryAfter > 0 {
					assert.Equal(t, time.Duration(fault.rule.RetryAfter)*time.Second, slept[0], "Retry-After is obeyed on writes")
				}
			})
		}
	}
}

// When the state cannot be read back either, the outcome stays unknown: the run says so, stops the
// environment, counts the step as not done, and the journal keeps it unknown for the next run and undo.
func TestAnUnreadableOutcomeStaysUnknown(t *testing.T) {
	t.Parallel()
	r := quietRig(t)
	res, path := r.run(t, "Contoso Finance", func(o *ApplyOptions) {
		o.beforeWrite = func(int) error {
			// From the first write on, the write lands without an answer and no user can be read.
			return r.srv.SetFaults("Contoso Finance", emulator.Faults{Rules: []emulator.FaultRule{
				{Match: "PATCH systemusers", Applied: true, Reset: true, Count: 1},
				{Match: "GET systemusers", Status: http.StatusServiceUnavailable},
			}})
		}
	})
	o := outcomeOf(t, res, ActEnableUser)
	assert.Equal(t, OutcomeUnknown, o.Status)
	assert.Contains(t, o.Reason, "reading the state again failed too")
	assert.Contains(t, o.Reason, "the next audit fix and --undo read the state again to decide")
	assert.Equal(t, 1, res.Failed()-countStatus(res, OutcomeFailed), "unknown counts as not done")
	assert.Contains(t, outcomeOf(t, res, ActAssignRole).Reason, "not attempted: step 1 (enable_user) has an unknown outcome")
	assert.Equal(t, 1, sent(r.srv, http.MethodPatch, "/systemusers("), "never sent twice while its outcome is unknown")
	assert.Equal(t, []string{OutcomeUnknown}, journaled(t, path, ActEnableUser))
	assert.Empty(t, res.Touched, "an environment is touched only by a write known to have landed")

	// The next run reads the state: the user is enabled, so the step is already done.
	require.NoError(t, r.srv.SetFaults("Contoso Finance", emulator.Faults{}))
	res, _ = r.run(t, "Contoso Finance", nil)
	for _, o := range res.Outcomes {
		assert.NotEqual(t, ActEnableUser, o.Step.Action, "the user is enabled: the next plan has no such step")
	}
	assert.Equal(t, OutcomeApplied, outcomeOf(t, res, ActAssignRole).Status)
	assert.Zero(t, res.Failed())
}

func countStatus(res *Result, status string) int {
	n := 0
	for _, o := range res.Outcomes {
		if o.Status == status {
			n++
		}
	}
	return n
}

// A write throttled on every attempt is sent at most MaxWriteAttempts times and fails with what to do; a
// Retry-After beyond the ceiling is not waited for at all; a long wait is announced.
func TestThrottledWritesAreBounded(t *testing.T) {
	t.Parallel()
	t.Run("persistent 429", func(t *testing.T) {
		t.Parallel()
		r := quietRig(t)
		require.NoError(t, r.srv.SetFaults("Contoso Finance", emulator.Faults{Rules: []emulator.FaultRule{
			{Match: "PATCH systemusers", Status: http.StatusTooManyRequests, RetryAfter: 10}}}))
		var mu sync.Mutex
		var told []string
		res, path := r.run(t, "Contoso Finance", func(o *ApplyOptions) {
			o.MaxWriteAttempts = 3
			o.Waiting = func(tenant, env string, d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				told = append(told, fmt.Sprintf("%s/%s %s", tenant, env, d))
			}
		})
		o := outcomeOf(t, res, ActEnableUser)
		assert.Equal(t, OutcomeFailed, o.Status)
		assert.Contains(t, o.Reason, "Dataverse kept throttling this write: run audit fix again later")
		assert.Equal(t, 3, sent(r.srv, http.MethodPatch, "/systemusers("))
		assert.Equal(t, []string{OutcomeFailed, OutcomeFailed, OutcomeFailed}, journaled(t, path, ActEnableUser))
		assert.Equal(t, []string{"contoso/Contoso Finance 10s", "contoso/Contoso Finance 10s"}, told, "waits of LongWait or more are announced")
		assert.Equal(t, OutcomeFailed, outcomeOf(t, res, ActAssignRole).Status)
		assert.Contains(t, outcomeOf(t, res, ActAssignRole).Reason, "not attempted: step 1 (enable_user) failed")
	})
	t.Run("a wait of exactly LongWait is announced", func(t *testing.T) {
		t.Parallel()
		r := quietRig(t)
		require.NoError(t, r.srv.SetFaults("Contoso Finance", emulator.Faults{Rules: []emulator.FaultRule{
			{Match: "PATCH systemusers", Status: http.StatusTooManyRequests, RetryAfter: int(LongWait / time.Second), Count: 1}}}))
		var told []time.Duration
		res, _ := r.run(t, "Contoso Finance", func(o *ApplyOptions) {
			o.Waiting = func(_, _ string, d time.Duration) { told = append(told, d) }
		})
		assert.Equal(t, OutcomeApplied, outcomeOf(t, res, ActEnableUser).Status)
		assert.Equal(t, []time.Duration{LongWait}, told)
	})
	t.Run("a write that keeps failing is sent MaxWriteAttempts times", func(t *testing.T) {
		t.Parallel()
		r := quietRig(t)
		require.NoError(t, r.srv.SetFaults("Contoso Finance", emulator.Faults{Rules: []emulator.FaultRule{
			{Match: "PATCH systemusers", Status: http.StatusInternalServerError}}}))
		res, path := r.run(t, "Contoso Finance", func(o *ApplyOptions) { o.MaxWriteAttempts = 3 })
		assert.Equal(t, OutcomeFailed, outcomeOf(t, res, ActEnableUser).Status)
		assert.Equal(t, 3, sent(r.srv, http.MethodPatch, "/systemusers("))
		// A 500 may have landed: each attempt is unknown until a re-read finds it did not.
		assert.Equal(t, []string{OutcomeUnknown, OutcomeFailed, OutcomeUnknown, OutcomeFailed, OutcomeUnknown, OutcomeFailed},
			journaled(t, path, ActEnableUser))
	})
	t.Run("Retry-After beyond the ceiling", func(t *testing.T) {
		t.Parallel()
		r := quietRig(t)
		require.NoError(t, r.srv.SetFaults("Contoso Finance", emulator.Faults{Rules: []emulator.FaultRule{
			{Match: "PATCH systemusers", Status: http.StatusTooManyRequests, RetryAfter: 7200}}}))
		slept := 0
		res, _ := r.run(t, "Contoso Finance", func(o *ApplyOptions) {
			o.Sleep = func(context.Context, time.Duration) error { slept++; return nil }
		})
		o := outcomeOf(t, res, ActEnableUser)
		assert.Equal(t, OutcomeFailed, o.Status)
		assert.Contains(t, o.Reason, "ceiling on Retry-After")
		assert.Zero(t, slept, "a run is never stuck behind a Retry-After of hours")
		assert.Equal(t, 1, sent(r.srv, http.MethodPatch, "/systemusers("))
	})
}
