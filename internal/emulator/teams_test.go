package emulator

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startWithTeams serves the minimal fixture with teams of every kind in production.
func startWithTeams(t *testing.T, opts Options) *Server {
	t.Helper()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	f.Environments[0].Dataverse.Teams = []Team{
		{Name: "Work 365 Operators", Roles: []string{"Work 365 Service"}, Members: []string{"jdoe", "w365app"}},
		{Name: "Sales Admins", Type: 2, BusinessUnit: "Sales", Roles: []string{"System Administrator"}, Members: []string{"bob"}},
		{Name: "Reviewers", Type: 1, Members: []string{"jdoe"}},
		{Default: true, BusinessUnit: "Sales", Roles: []string{"Basic User"}},
	}
	return startFixture(t, f, opts)
}

func teamID(t *testing.T, srv *Server, env, name string) string {
	t.Helper()
	for _, r := range srv.Rows(env, "teams") {
		if r["name"] == name {
			return r["teamid"].(string)
		}
	}
	t.Fatalf("no team %q", name)
	return ""
}

func TestTeams(t *testing.T) {
	t.Parallel()
	srv := startWithTeams(t, Options{})
	tok := dvToken(t, srv)
	root := rootBU(t, srv, prod)
	get := func(path string) []map[string]any {
		t.Helper()
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, path), tok, "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		return resp.values(t)
	}

	t.Run("default teams and the fixture's", func(t *testing.T) {
		rows := get("teams?$select=name,teamtype,isdefault,_businessunitid_value,azureactivedirectoryobjectid&$orderby=name")
		require.Len(t, rows, 5)
		byName := map[string]map[string]any{}
		for _, r := range rows {
			byName[r["name"].(string)] = r
		}
		assert.Equal(t, true, byName["Contoso"]["isdefault"])
		assert.Equal(t, float64(0), byName["Contoso"]["teamtype"])
		assert.Equal(t, root, byName["Contoso"]["_businessunitid_value"])
		assert.Equal(t, true, byName["Sales"]["isdefault"])
		assert.Equal(t, false, byName["Reviewers"]["isdefault"])
		assert.Equal(t, float64(1), byName["Reviewers"]["teamtype"])
		assert.Equal(t, float64(2), byName["Sales Admins"]["teamtype"])
		assert.Regexp(t, `^[0-9a-f-]{36}$`, byName["Sales Admins"]["azureactivedirectoryobjectid"], "a group team has its Entra group")
		assert.Nil(t, byName["Work 365 Operators"]["azureactivedirectoryobjectid"])
		assert.Empty(t, get("teams?$filter="+url.QueryEscape("isdefault eq true and teamtype ne 0")))
	})
	t.Run("a user's teams include its business unit's default team", func(t *testing.T) {
		rows := get("systemusers(" + srv.UserID(prod, "jdoe") + ")/teammembership_association?$select=teamid,name,teamtype")
		assert.ElementsMatch(t, []string{"Contoso", "Work 365 Operators", "Reviewers"}, names(rows, "name"))
		rows = get("systemusers(" + srv.UserID(prod, "bob") + ")/teammembership_association?$select=name")
		assert.ElementsMatch(t, []string{"Sales", "Sales Admins"}, names(rows, "name"))
	})
	t.Run("a team's roles, from both sides", func(t *testing.T) {
		rows := get("teams(" + teamID(t, srv, prod, "Work 365 Operators") + ")/teamroles_association?$select=roleid,name,_businessunitid_value")
		require.Len(t, rows, 1)
		assert.Equal(t, "Work 365 Service", rows[0]["name"])
		assert.Equal(t, root, rows[0]["_businessunitid_value"], "roles resolve in the team's business unit")
		rows = get("roles(" + roleID(t, srv, prod, "Work 365 Service", root) + ")/teamroles_association?$select=name")
		assert.Equal(t, []string{"Work 365 Operators"}, names(rows, "name"))
		rows = get("teams(" + teamID(t, srv, prod, "Sales") + ")/teamroles_association?$select=name")
		assert.Equal(t, []string{"Basic User"}, names(rows, "name"), "a default team can hold roles")
		assert.Empty(t, get("teams("+teamID(t, srv, prod, "Reviewers")+")/teamroles_association"))
	})
	t.Run("expanded from every side", func(t *testing.T) {
		rows := get("systemusers?$select=fullname&$filter=" + url.QueryEscape("fullname eq 'Jane Doe'") + "&$expand=teammembership_association($select=name;$orderby=name)")
		require.Len(t, rows, 1)
		var teams []string
		for _, x := range rows[0]["teammembership_association"].([]any) {
			teams = append(teams, x.(map[string]any)["name"].(string))
		}
		assert.Equal(t, []string{"Contoso", "Reviewers", "Work 365 Operators"}, teams)

		rows = get("teams?$select=name&$filter=" + url.QueryEscape("name eq 'Work 365 Operators'") + "&$expand=teamroles_association($select=name)")
		require.Len(t, rows, 1)
		assert.Len(t, rows[0]["teamroles_association"], 1)
		rows = get("teams?$select=name&$filter=" + url.QueryEscape("name eq 'Work 365 Operators'") + "&$expand=teammembership_association($select=fullname)")
		assert.Len(t, rows[0]["teammembership_association"], 2)
		rows = get("roles?$select=name&$filter=" + url.QueryEscape("name eq 'System Administrator'") + "&$expand=teamroles_association($select=name)")
		require.Len(t, rows, 2)
	})
	t.Run("default teams follow the business unit's users", func(t *testing.T) {
		other := startWithTeams(t, Options{})
		tok := dvToken(t, other)
		contoso := teamID(t, other, prod, "Contoso")
		members := func() []string {
			return names(call(t, other, http.MethodGet, dvURL(other, prod, "teams("+contoso+")/teammembership_association?$select=fullname"), tok, "").values(t), "fullname")
		}
		before := members()
		assert.Contains(t, before, "Jane Doe")
		assert.NotContains(t, before, "Bob O'Brien")
		resp := call(t, other, http.MethodPost, dvURL(other, prod, "systemusers"), tok, `{"applicationid":"`+work365EU+`"}`)
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		assert.Contains(t, members(), "# Work 365 EU", "users created through the API join their default team")
		resp = call(t, other, http.MethodPatch, dvURL(other, prod, "systemusers("+other.UserID(prod, "bob")+")"), tok, `{"businessunitid@odata.bind":"/businessunits(`+rootBU(t, other, prod)+`)"}`)
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		assert.Contains(t, members(), "Bob O'Brien", "a user moved to another business unit changes default team")
	})
	t.Run("team associations are read-only", func(t *testing.T) {
		resp := call(t, srv, http.MethodPost, dvURL(srv, prod, "teams("+teamID(t, srv, prod, "Reviewers")+")/teamroles_association/$ref"), tok, `{"@odata.id":"/roles(`+roleID(t, srv, prod, "Basic User", root)+`)"}`)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.status, "%s", resp.body)
	})
}

func TestTeamFixtureErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tail string
		want string
	}{
		{"access team with roles", "      teams: [{name: Reviewers, type: 1, roles: [Work 365 Service]}]\n", `team "Reviewers": an access team cannot hold security roles (line 16)`},
		{"unknown type", "      teams: [{name: X, type: 4}]\n", `team "X": type 4 is not 0 (owner)`},
		{"unknown member", "      teams: [{name: X, members: [ghost]}]\n", `team "X": unknown user key "ghost"`},
		{"unknown role", "      teams: [{name: X, roles: [Nobody]}]\n", `team "X": unknown role "Nobody"`},
		{"unknown business unit", "      teams: [{name: X, business_unit: Nowhere}]\n", `team "X": unknown business unit "Nowhere"`},
		{"default team with members", "      teams: [{default: true, business_unit: Sales, members: [jdoe]}]\n", `takes no type or members`},
		{"default team named otherwise", "      teams: [{default: true, name: Other}]\n", `the default team of business unit "Root" is named after it`},
		{"a second team named like the default", "      teams: [{name: sales, business_unit: Sales}]\n", `duplicate team name in business unit "Sales"`},
		{"group ID on an owner team", "      teams: [{name: X, azureactivedirectoryobjectid: 3f6c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f}]\n", `only for Entra group teams`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFixture([]byte(fixtureHead+tt.tail), "")
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
