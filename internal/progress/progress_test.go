package progress

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/snapshot"
)

func TestProgressShowsEachEnvironmentAndASummary(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := New(&b, Options{Enabled: true, Width: 120, Now: func() time.Time { return clock }})
	p.Event(collect.Event{Tenant: "contoso", Environment: "Prod", Total: 3})
	clock = clock.Add(1500 * time.Millisecond)
	p.Event(collect.Event{Tenant: "contoso", Environment: "Prod\x1b[2J", Done: true, Status: snapshot.StatusOK, Total: 3, Elapsed: 1400 * time.Millisecond})
	p.Event(collect.Event{Tenant: "contoso", Environment: "Teams", Done: true, Status: snapshot.StatusSkipped, Total: 3})
	p.Event(collect.Event{Tenant: "contoso", Environment: "Gone", Done: true, Status: snapshot.StatusError, Total: 3})
	p.Finish()
	out := b.String()
	assert.Contains(t, out, "  ✓ Prod (contoso)  read in 1.4s\n", "tenant text is cleaned")
	assert.Contains(t, out, "  – Teams (contoso)  skipped in 0s\n")
	assert.Contains(t, out, "  ✗ Gone (contoso)  could not be read in 0s\n")
	assert.Contains(t, out, "collecting: 1/3 environments, 0 in progress, 0 could not be read · 1.5s")
	assert.True(t, strings.HasSuffix(out, "collected 3 environments in 1.5s: 1 read, 1 skipped, 1 could not be read\n"), out)
	assert.NotContains(t, out, "\x1b[32m", "no colour unless asked")
}

func TestDisabledProgressSaysNothing(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	p := New(&b, Options{})
	p.Event(collect.Event{Tenant: "t", Environment: "e", Done: true})
	p.Finish()
	assert.Empty(t, b.String())
}
