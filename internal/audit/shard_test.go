package audit

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/report"
)

func TestShardFlagParsesIndexOverCount(t *testing.T) {
	t.Parallel()
	var s Shard
	require.NoError(t, s.Set(" 2 / 4 "))
	assert.Equal(t, Shard{Index: 2, Count: 4}, s)
	assert.Equal(t, "2/4", s.String())
	assert.Equal(t, "INDEX/COUNT", s.Type())
	for _, bad := range []string{"", "2", "0/4", "5/4", "a/b", "1/0", "-1/3"} {
		assert.Error(t, new(Shard).Set(bad), bad)
	}
	assert.Equal(t, "", (&Shard{}).String())
}

// Every tenant falls in exactly one part, the same at every run, and a new tenant moves no other one.
func TestPartsHoldWholeTenantsStably(t *testing.T) {
	t.Parallel()
	var names []string
	for i := range 200 {
		names = append(names, fmt.Sprintf("tenant-%03d", i))
	}
	counts := map[int]int{}
	for _, n := range names {
		p := Part(n, 4)
		require.GreaterOrEqual(t, p, 1)
		require.LessOrEqual(t, p, 4)
		assert.Equal(t, p, Part(n, 4), "stable")
		assert.Equal(t, p, Part(fmt.Sprintf("%s", stringsToUpper(n)), 4), "tenant names are matched case-insensitively")
		counts[p]++
	}
	for i := 1; i <= 4; i++ {
		assert.InDelta(t, 50, counts[i], 12, "part %d gets a fair share: %v", i, counts)
	}
	// Going from 4 to 5 parts moves a tenant only into the new part.
	for _, n := range names {
		if before, after := Part(n, 4), Part(n, 5); after != before {
			assert.Equal(t, 5, after, n)
		}
	}

	cfg := &config.Config{}
	for _, n := range names[:10] {
		cfg.Tenants = append(cfg.Tenants, config.Tenant{Name: n})
	}
	all := Shard{Index: 1, Count: 2}.Apply(cfg)
	assert.Equal(t, 10, all)
	for _, tn := range cfg.Tenants {
		assert.Equal(t, 1, Part(tn.Name, 2))
	}
	r := &report.Report{}
	Shard{Index: 1, Count: 2}.Mark(r)
	assert.Equal(t, &report.Shard{Index: 1, Count: 2}, r.Shard)
	Shard{}.Mark(&report.Report{})
}

func stringsToUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestScopeNamesShardAndEnvironments(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "", Scope(Shard{}, nil))
	assert.Equal(t, "shard=2/3 env=a*,b", Scope(Shard{Index: 2, Count: 3}, []string{"b", "a*"}))
}

func TestKeepIsRunsOrDays(t *testing.T) {
	t.Parallel()
	r, err := ParseKeep("50")
	require.NoError(t, err)
	assert.Equal(t, history.Retention{Keep: 50}, r)
	r, err = ParseKeep("30d")
	require.NoError(t, err)
	assert.Equal(t, history.Retention{MaxAge: 30 * 24 * time.Hour}, r)
	for _, bad := range []string{"", "0", "-1", "d", "0d", "3w", "1.5"} {
		_, err := ParseKeep(bad)
		require.Error(t, err, bad)
		assert.Equal(t, CodeUsage, CodeOf(err), bad)
	}
}

func TestHistoryResolvesFromTheConfig(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{History: config.History{Path: "runs.db", Keep: 7}}
	h := History{}
	require.NoError(t, h.Resolve(cfg, false, false))
	assert.Equal(t, History{Path: "runs.db", Retention: history.Retention{Keep: 7}}, h)

	h = History{}
	require.NoError(t, h.Resolve(cfg, true, false))
	assert.Empty(t, h.Path, "a fix keeps no history unless asked")
	h = History{}
	require.NoError(t, h.Resolve(cfg, false, true))
	assert.Empty(t, h.Path, "a part of a sharded scan keeps no history unless asked")

	h = History{Path: "mine.db", Keep: "3d"}
	require.NoError(t, h.Resolve(cfg, false, false))
	assert.Equal(t, history.Retention{MaxAge: 72 * time.Hour}, h.Retention)

	h = History{Keep: "3"}
	err := h.Resolve(nil, false, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--keep needs a history")
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	assert.Equal(t, CodeOK, CodeOf(nil))
	assert.Equal(t, CodeError, CodeOf(fmt.Errorf("boom")))
	assert.Equal(t, CodeUsage, CodeOf(Usagef("bad %s", "flag")))
	assert.Equal(t, CodeFixFailed, CodeOf(fmt.Errorf("wrapped: %w", WithCode(CodeFixFailed, fmt.Errorf("x")))))
	assert.Nil(t, WithCode(CodeUsage, nil))
	assert.Equal(t, CodeUnaudited, CodeOf(ExitFor(1, 5)), "not audited wins over failing")
	assert.Equal(t, CodeFailing, CodeOf(ExitFor(0, 5)))
	assert.Nil(t, ExitFor(0, 0))
	assert.Equal(t, "exit status 3", (&ExitError{Code: 3}).Error())
}
