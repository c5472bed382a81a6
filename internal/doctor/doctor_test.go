package doctor_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/demo"
	"github.com/work365/audit/internal/doctor"
	"github.com/work365/audit/internal/emulator"
)

func TestDoctorReportsEachTenantAndEnvironment(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }
	emu, err := demo.Start([]string{"../../testdata/tenants/demo.yaml"}, emulator.Options{}, now)
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	s, err := audit.Open(context.Background(), audit.Deps{Now: now, Getenv: emu.Getenv(func(string) string { return "" }), HTTP: emu.HTTP},
		audit.Settings{Config: emu.Config})
	require.NoError(t, err)
	r := doctor.Run(context.Background(), s.Collector(), s.Targets(), doctor.Options{ClearCacheAction: "w365_ClearCache"})
	require.Len(t, r.Tenants, 1)
	tn := r.Tenants[0]
	assert.Equal(t, doctor.OK, tn.Checks[0].Level)
	assert.Contains(t, tn.Checks[1].Message, "environments listed")
	byName := map[string]doctor.Environment{}
	for _, e := range tn.Environments {
		byName[e.Name] = e
	}
	prod := byName["Contoso Production"]
	require.NotEmpty(t, prod.Checks)
	for _, c := range prod.Checks {
		assert.Equal(t, doctor.OK, c.Level, c.Message)
	}
	portal := byName["Contoso Partner Portal"]
	require.Len(t, portal.Checks, 1)
	assert.Equal(t, doctor.Fail, portal.Checks[0].Level)
	assert.Contains(t, portal.Checks[0].Fix, "+ New app user")
	assert.Contains(t, byName["Contoso Sandbox"].Kind, "runtime state AdminMode")
	assert.Positive(t, r.Count(doctor.Fail))
	_, ok := byName["Contoso (default)"]
	assert.False(t, ok, "environments without Dataverse are not checked")
}
