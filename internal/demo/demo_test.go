package demo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/config"
)

// Without files the demo serves and configures its bundled tenants; with files, those files, and a missing
// one is ErrFixtureNotFound.
func TestTheDemoFallsBackOnItsBundledTenantsAndSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		paths   []string
		tenants []string
		served  string
		err     error
	}{
		{name: "bundled", tenants: []string{"contoso", "fabrikam"}, served: "bundled demo tenants (contoso, fabrikam)"},
		{name: "a file", paths: []string{"../../testdata/tenants/demo-fabrikam.yaml"}, tenants: []string{"fabrikam"},
			served: "demo tenants (../../testdata/tenants/demo-fabrikam.yaml)"},
		{name: "a missing file", paths: []string{"../../testdata/tenants/none.yaml"}, err: ErrFixtureNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fxs, err := Fixtures(tc.paths)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			var names []string
			var tenants []config.Tenant
			for _, fx := range fxs {
				names = append(names, fx.Tenant.Name)
				tenants = append(tenants, config.Tenant{Name: fx.Tenant.Name})
			}
			assert.Equal(t, tc.tenants, names)
			assert.Equal(t, tc.served, Served(tc.paths, tenants))
		})
	}

	bundled, err := Settings("")
	require.NoError(t, err)
	fromFile, err := Settings("../../testdata/tenants/demo-config.yaml")
	require.NoError(t, err)
	assert.Equal(t, BundledConfigPath, bundled.Path)
	assert.Equal(t, len(fromFile.Waivers), len(bundled.Waivers), "the bundled settings are the file's")
	_, err = Settings("../../testdata/tenants/none.yaml")
	require.Error(t, err)
}
