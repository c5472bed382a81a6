package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tenantYAML = "tenants:\n  - name: a\n    tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f\n    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b\n    client_secret_env: S\n"

func TestNotifyAndHistorySectionsAreReadWithDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(tenantYAML+`history:
  path: state/history.db
  keep: 90
notify:
  - name: ops
    type: teams
    url_env: TEAMS_WEBHOOK_URL
  - name: audit-feed
    type: webhook
    url_env: AUDIT_HOOK
    on: [new_failures, resolved, inventory]
    min_severity: high
    timeout: 3s
    retries: 0
`), filepath.Join("/etc/audit", "audit.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "/etc/audit/state/history.db", c.HistoryPath())
	assert.Equal(t, 90, c.History.Keep)
	require.Len(t, c.Notify, 2)
	ops, feed := c.Notify[0], c.Notify[1]
	assert.Equal(t, 10, ops.Line)
	assert.Equal(t, []string{"new_failures", "resolved"}, ops.Events())
	assert.Equal(t, "low", ops.Severity())
	assert.Equal(t, DefaultNotifyTimeout, ops.AttemptTimeout())
	assert.Equal(t, DefaultNotifyRetries, ops.RetryCount())
	assert.Equal(t, []string{"new_failures", "resolved", "inventory"}, feed.Events())
	assert.Equal(t, "high", feed.Severity())
	assert.Equal(t, 3*time.Second, feed.AttemptTimeout())
	assert.Equal(t, 0, feed.RetryCount())
}

func TestNotifyAndHistoryProblemsAreReportedWithTheirLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"URL in the file", "notify:\n  - name: n\n    type: slack\n    url: https://hooks.slack.com/services/T0/B0/x\n",
			[]string{`audit.yaml:9: unknown key "url" in a notify target`, "name the environment variable that holds it with url_env"}},
		{"URL in url_env", "notify:\n  - {name: n, type: slack, url_env: \"https://hooks.slack.com/services/T0/B0/x\"}\n",
			[]string{`audit.yaml:7: notify target "n": url_env must name an environment variable, not hold the URL`}},
		{"no url_env", "notify:\n  - {name: n, type: webhook}\n", []string{`audit.yaml:7: notify target "n" has no url_env`}},
		{"unknown type and event", "notify:\n  - {name: n, type: email, url_env: X, on: [failures], min_severity: urgent}\n",
			[]string{`audit.yaml:7: notify target "n": type "email": use one of webhook, teams, slack`,
				`audit.yaml:7: notify target "n": on "failures": use any of new_failures, resolved, inventory`,
				`audit.yaml:7: notify target "n": min_severity "urgent"`}},
		{"duplicate name and bad retries", "notify:\n  - {name: n, type: teams, url_env: A}\n  - {name: n, type: teams, url_env: B, retries: 50}\n",
			[]string{`audit.yaml:8: notify target "n": the name is used twice (first at line 7)`, `audit.yaml:8: notify target "n": retries is 50: use 0 to 10`}},
		{"unnamed", "notify:\n  - {type: teams, url_env: A}\n", []string{`audit.yaml:7: notify target 1 has no name`}},
		{"negative retention", "history:\n  keep: -1\n", []string{`audit.yaml:6: history: keep and keep_days count runs and days`}},
		{"unknown history key", "history:\n  file: h.db\n", []string{`audit.yaml:7: unknown key "file" in history (known: path, keep, keep_days)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tenantYAML+tc.yaml), "audit.yaml")
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "hooks.slack.com", "a URL put in the file by mistake is not echoed")
		})
	}
}
