package collect

import (
	"context"
	"sort"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// A user holds a security role directly or as a member of a team that holds it: an owner team or a Microsoft
// Entra group team (learn.microsoft.com/power-platform/admin/manage-teams). Access teams hold no roles. Members
// of an Entra group team appear in Dataverse once they have used the environment; the auditor sees what
// Dataverse records.

// wireTeam is a teams row, with its roles and members when they are expanded.
type wireTeam struct {
	ID             string     `json:"teamid"`
	Name           string     `json:"name"`
	Type           int        `json:"teamtype"`
	BusinessUnitID string     `json:"_businessunitid_value"`
	Roles          []wireRole `json:"teamroles_association"`
	RolesLink      string     `json:"teamroles_association@odata.nextLink"`
	Members        []wireUser `json:"teammembership_association"`
	MembersLink    string     `json:"teammembership_association@odata.nextLink"`
}

const teamColumns = "teamid,name,teamtype,_businessunitid_value"

func (w wireTeam) model() snapshot.Team {
	return snapshot.Team{ID: w.ID, Name: w.Name, Type: w.Type, BusinessUnitID: w.BusinessUnitID}
}

// teamRoles is a team with the roles it holds.
type teamRoles struct {
	team  snapshot.Team
	roles []wireRole
}

// rolesOf is what a member holds through the team.
func (t *teamRoles) rolesOf() []snapshot.Role {
	team := t.team
	out := make([]snapshot.Role, 0, len(t.roles))
	for _, r := range t.roles {
		out = append(out, r.model(&team))
	}
	return out
}

func (t *teamRoles) holds(names []string) bool {
	for _, r := range t.roles {
		for _, n := range names {
			if strings.EqualFold(r.Name, n) {
				return true
			}
		}
	}
	return false
}

// teamsWithRoles reads every team that can hold roles (all but access teams) with its roles, by team ID (lower
// case). Teams without roles are left out.
func (r *reader) teamsWithRoles(ctx context.Context) (map[string]*teamRoles, error) {
	const stage = "teams (roles held through teams)"
	q := api.Query("teams",
		[2]string{"$select", teamColumns},
		[2]string{"$filter", "teamtype ne 1"},
		[2]string{"$expand", "teamroles_association($select=" + roleColumns + ")"})
	var rows []wireTeam
	if err := list(ctx, r, stage, q, func(t wireTeam) error { rows = append(rows, t); return nil }); err != nil {
		return nil, err
	}
	out := map[string]*teamRoles{}
	for _, t := range rows {
		roles, err := expanded(ctx, r, stage, t.Roles, t.RolesLink, func(x wireRole) string { return x.ID })
		if err != nil {
			return nil, err
		}
		if len(roles) > 0 {
			out[strings.ToLower(t.ID)] = &teamRoles{team: t.model(), roles: roles}
		}
	}
	return out, nil
}

// work365TeamMembers reads the members of the teams that hold a Work 365 role, by team ID (lower case); it sends
// no request when no team does.
func (r *reader) work365TeamMembers(ctx context.Context, teams map[string]*teamRoles) (map[string][]wireUser, error) {
	var ids []string
	for id, t := range teams {
		if t.holds(r.c.opts.RoleNames) {
			ids = append(ids, id)
		}
	}
	out := map[string][]wireUser{}
	if len(ids) == 0 {
		return out, nil
	}
	sort.Strings(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "teamid eq " + id
	}
	const stage = "teams (members of teams holding a Work 365 role)"
	q := api.Query("teams",
		[2]string{"$select", "teamid"},
		[2]string{"$filter", strings.Join(parts, " or ")},
		[2]string{"$expand", "teammembership_association($select=" + userColumns + ")"})
	var rows []wireTeam
	if err := list(ctx, r, stage, q, func(t wireTeam) error { rows = append(rows, t); return nil }); err != nil {
		return nil, err
	}
	for _, t := range rows {
		members, err := expanded(ctx, r, stage, t.Members, t.MembersLink, func(u wireUser) string { return u.ID })
		if err != nil {
			return nil, err
		}
		out[strings.ToLower(t.ID)] = members
	}
	return out, nil
}

// mergeTeamHolders adds to the direct holders of Work 365 roles the members of the teams that hold one, each
// with the Work 365 roles it holds through them.
func mergeTeamHolders(direct []snapshot.User, members map[string][]wireUser, teams map[string]*teamRoles, roleNames []string) []snapshot.User {
	byID := map[string]*snapshot.User{}
	for i := range direct {
		u := direct[i]
		byID[strings.ToLower(u.ID)] = &u
	}
	teamIDs := make([]string, 0, len(members))
	for id := range members {
		teamIDs = append(teamIDs, id)
	}
	sort.Strings(teamIDs)
	for _, id := range teamIDs {
		t := teams[id]
		var held []snapshot.Role
		for _, role := range t.rolesOf() {
			for _, n := range roleNames {
				if strings.EqualFold(role.Name, n) {
					held = append(held, role)
				}
			}
		}
		for _, m := range members[id] {
			u := byID[strings.ToLower(m.ID)]
			if u == nil {
				mu := m.model()
				u = &mu
				byID[strings.ToLower(m.ID)] = u
			}
			u.Roles = append(u.Roles, held...)
		}
	}
	return sortedUsers(byID)
}
