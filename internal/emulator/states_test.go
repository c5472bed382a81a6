package emulator

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuntimeStates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		state  string
		roles  []string // the auditor's own roles
		team   []string // roles of a team the auditor belongs to
		status int
		code   string
	}{
		{"enabled", "Enabled", nil, nil, 200, ""},
		{"warning", "Warning", nil, nil, 200, ""},
		{"disabled: everyone is refused", "Disabled", []string{"System Administrator"}, nil, 403, ErrCodeOrganizationDisabled},
		{"admin mode: a user without an admin role", "AdminMode", []string{"Basic User"}, nil, 403, ErrCodeAdminMode},
		{"admin mode: a team without an admin role", "AdminMode", nil, []string{"Basic User"}, 403, ErrCodeAdminMode},
		{"admin mode: System Administrator", "AdminMode", []string{"System Administrator"}, nil, 200, ""},
		{"admin mode: System Customizer", "AdminMode", []string{"System Customizer"}, nil, 200, ""},
		{"admin mode: System Customizer through a team", "AdminMode", nil, []string{"System Customizer"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := LoadFixture(minimalFixture)
			require.NoError(t, err)
			env := &f.Environments[0]
			env.State = tt.state
			dv := env.Dataverse
			dv.Roles = append(dv.Roles, "System Customizer")
			dv.Users = append(dv.Users, User{Key: "auditor", ApplicationID: auditorID, Roles: tt.roles})
			if tt.team != nil {
				dv.Teams = []Team{{Name: "Admins", Type: 2, Roles: tt.team, Members: []string{"auditor"}}}
			}
			srv := startFixture(t, f, Options{})
			tok := dvToken(t, srv)
			for _, req := range []struct{ method, path, body string }{
				{http.MethodGet, "WhoAmI", ""},
				{http.MethodPatch, "systemusers(" + srv.UserID(prod, "svc") + ")", `{"isdisabled":false}`},
			} {
				resp := call(t, srv, req.method, dvURL(srv, prod, req.path), tok, req.body)
				if tt.status == 200 {
					assert.Less(t, resp.status, 300, "%s %s: %s", req.method, req.path, resp.body)
					continue
				}
				require.Equal(t, tt.status, resp.status, "%s", resp.body)
				assert.Equal(t, tt.code, resp.errorCode(t))
			}
			if tt.status != 200 {
				assert.Equal(t, true, userRow(t, srv, prod, srv.UserID(prod, "svc"))["isdisabled"], "a refused write changes nothing")
				writes := srv.Writes()
				require.Len(t, writes, 1)
				assert.Equal(t, tt.status, writes[0].Status)
			}
			assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, dvURL(srv, sandbox, "WhoAmI"), orgToken(t, srv, sandbox), "").status, "other environments are not affected")
			bap := call(t, srv, http.MethodGet, srv.BAPURL()+bapEnvironmentsPath+"/"+srv.EnvironmentID(prod)+"?api-version=2021-04-01", bapToken(t, srv), "")
			require.Equal(t, http.StatusOK, bap.status, "%s", bap.body)
			states := bap.object(t)["properties"].(map[string]any)["states"].(map[string]any)
			assert.Equal(t, tt.state, states["runtime"].(map[string]any)["id"])
		})
	}
	t.Run("messages", func(t *testing.T) {
		t.Parallel()
		f, err := LoadFixture(minimalFixture)
		require.NoError(t, err)
		f.Environments[0].State = "Disabled"
		srv := startFixture(t, f, Options{})
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), dvToken(t, srv), "")
		assert.Contains(t, resp.errorMessage(t), "The organization 'contosoprod' is disabled")
	})
	t.Run("unknown state", func(t *testing.T) {
		t.Parallel()
		_, err := ParseFixture([]byte(fixtureHead+"    state: Suspended\n"), "")
		assert.ErrorContains(t, err, `state "Suspended" is not Enabled, AdminMode, Disabled or Warning (line 16)`)
	})
}
