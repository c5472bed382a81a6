package policy

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSettingsAreDecodedOnceFromThePolicyData(t *testing.T) {
	t.Parallel()
	eng, err := Load(context.Background(), Options{Data: map[string]any{
		"app_ids":       map[string]any{"UK": "0D4C3B2A-1F0E-4D9C-8B7A-6F5E4D3C2B1A"},
		"regions":       map[string]any{"unitedkingdom": "UK"},
		"lookback_days": 14,
	}})
	require.NoError(t, err)
	s := eng.Settings()
	assert.Equal(t, "0d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", s.AppIDs["UK"], "lower-cased")
	assert.Equal(t, "e4b1a995-abe3-4350-a61c-65fccd32e8bd", s.AppIDs["US"], "the defaults stay")
	assert.Equal(t, "UK", s.Regions["unitedkingdom"])
	assert.Equal(t, RoleNames{Service: "Work 365 Service", Portal: "Work 365 Portal Service"}, s.Roles)
	assert.Equal(t, []string{"Work 365 Service", "Work 365 Portal Service"}, s.Roles.Names())
	assert.Equal(t, "3.5", s.MinVersion)
	assert.Equal(t, 14, s.LookbackDays)
	assert.Equal(t, []string{"Sandbox"}, s.SandboxTypes)
	assert.Equal(t, []string{"Sandbox", "Developer", "Trial"}, s.NonProductionTypes)
	assert.Equal(t, []string{"SYSTEM", "INTEGRATION"}, s.BuiltinUsers)
}

func TestSettingsOfTheWrongTypeAreRefused(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		data map[string]any
		want string
	}{
		"app ID not a GUID":   {map[string]any{"app_ids": map[string]any{"UK": "work365"}}, `app_ids.UK: "work365" is not a GUID`},
		"lookback as text":    {map[string]any{"lookback_days": "week"}, "lookback_days: a string where the policies expect a int"},
		"sandbox types a map": {map[string]any{"sandbox_types": map[string]any{"a": 1}}, "sandbox_types: a object"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(context.Background(), Options{Data: tc.data})
			require.Error(t, err)
			var le *LoadError
			require.ErrorAs(t, err, &le)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The settings read from the data files alone are those of the compiled engine.
func TestReadSettingsGivesTheEnginesSettings(t *testing.T) {
	t.Parallel()
	opts := Options{Data: map[string]any{"app_ids": map[string]any{"UK": "0D4C3B2A-1F0E-4D9C-8B7A-6F5E4D3C2B1A"}, "lookback_days": 3}}
	eng, err := Load(context.Background(), opts)
	require.NoError(t, err)
	s, err := ReadSettings(opts)
	require.NoError(t, err)
	assert.Equal(t, eng.Settings(), s)
	_, err = ReadSettings(Options{Data: map[string]any{"app_ids": map[string]any{"UK": "x"}}})
	var le *LoadError
	require.ErrorAs(t, err, &le)
}
