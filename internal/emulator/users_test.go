package emulator

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuiltInUsers(t *testing.T) {
	t.Parallel()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	dv := f.Environments[0].Dataverse
	dv.Templates = append(dv.Templates, Template{Title: "Out-of-box Template", Owner: "INTEGRATION"})
	four := 4
	dv.Users = append(dv.Users, User{Key: "kiosk", FullName: "Kiosk Account", DomainName: "kiosk@contoso.onmicrosoft.com", AccessMode: &four})
	srv := startFixture(t, f, Options{})
	tok := dvToken(t, srv)
	root := rootBU(t, srv, prod)

	for _, name := range []string{"SYSTEM", "INTEGRATION"} {
		t.Run(name, func(t *testing.T) {
			rows := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$filter="+url.QueryEscape("fullname eq '"+name+"'")), tok, "").values(t)
			require.Len(t, rows, 1)
			u := rows[0]
			assert.Equal(t, srv.UserID(prod, name), u["systemuserid"])
			for col, want := range map[string]any{"isdisabled": true, "applicationid": nil, "azureactivedirectoryobjectid": nil,
				"issyncwithdirectory": false, "islicensed": false, "domainname": nil, "accessmode": float64(0),
				"_businessunitid_value": root, "deletedstate": float64(0)} {
				assert.Equal(t, want, u[col], col)
			}
			assert.Equal(t, srv.UserID(prod, name), srv.UserID(prod, name), "deterministic")
			other := startServer(t, Options{})
			assert.Equal(t, srv.UserID(prod, name), other.UserID(prod, name), "the same fixture gives the same IDs")
			assert.NotEqual(t, srv.UserID(prod, name), srv.UserID(sandbox, name), "every organization has its own")
		})
	}
	t.Run("fixture records can be owned by them", func(t *testing.T) {
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, "templates?$select=title,_ownerid_value&$filter="+url.QueryEscape("title eq 'Out-of-box Template'")), tok, "").values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, srv.UserID(prod, "INTEGRATION"), rows[0]["_ownerid_value"])
	})
	t.Run("a non-interactive person stays a person", func(t *testing.T) {
		u := userRow(t, srv, prod, srv.UserID(prod, "kiosk"))
		assert.Nil(t, u["applicationid"])
		assert.Equal(t, 4, u["accessmode"])
		assert.Equal(t, "kiosk@contoso.onmicrosoft.com", u["domainname"])
		assert.Equal(t, true, u["issyncwithdirectory"])
		assert.Equal(t, false, u["islicensed"], "non-interactive users need no license")
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$select=fullname&$filter="+url.QueryEscape("applicationid ne null")), tok, "").values(t)
		assert.NotContains(t, names(rows, "fullname"), "Kiosk Account")
	})
}

func TestBuiltInUserFixtureErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tail string
		want string
	}{
		{"a fixture user keyed SYSTEM", "        - {key: system, fullname: Impostor}\n", `user "system": the key is reserved for the built-in user`},
		{"a fixture user named INTEGRATION", "        - {fullname: INTEGRATION}\n", `user "INTEGRATION": the key is reserved`},
		{"a non-interactive person without UPN", "        - {key: kiosk, accessmode: 4}\n", `user "kiosk": a non-interactive person (accessmode 4 without applicationid) is an Entra user account and needs a domainname (UPN) (line 16)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFixture([]byte(fixtureHead+tt.tail), "")
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
