package emulator

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// manyToMany is an N:N relationship between two tables, navigable from both sides under its own name.
type manyToMany struct {
	left, right string // entity sets
}

const (
	navTeamMembers = "teammembership_association"
	navTeamRoles   = "teamroles_association"
)

// relationships are the N:N relationships the emulator serves: users' roles, team membership and team roles.
var relationships = map[string]manyToMany{
	navUserRoles:   {left: setUsers, right: setRoles},
	navTeamMembers: {left: setUsers, right: setTeams},
	navTeamRoles:   {left: setTeams, right: setRoles},
}

// linked reports whether two rows are associated by a stored link; callers hold a lock.
func (st *store) linked(rel, left, right string) bool { return st.links[rel][left][right] }

// link associates two rows; callers hold the write lock (or are building the store).
func (st *store) link(rel, left, right string) {
	m := st.links[rel]
	if m == nil {
		m = map[string]map[string]bool{}
		st.links[rel] = m
	}
	if m[left] == nil {
		m[left] = map[string]bool{}
	}
	m[left][right] = true
}

// unlink removes an association; callers hold the write lock.
func (st *store) unlink(rel, left, right string) { delete(st.links[rel][left], right) }

// unlinkLeft removes every association of a left-side row in a relationship; callers hold the write lock.
func (st *store) unlinkLeft(rel, left string) { delete(st.links[rel], left) }

// related lists the rows on the other side of an N:N relationship, in primary-key order; callers hold a lock.
// Default teams' members are not stored: they are the users of the team's business unit, whenever asked.
func (st *store) related(schema *entitySchema, nav, id string) []row {
	rel := relationships[nav]
	ids := map[string]bool{}
	var other string
	if schema.set == rel.left {
		other = rel.right
		for right := range st.links[nav][id] {
			ids[right] = true
		}
	} else {
		other = rel.left
		for left, rights := range st.links[nav] {
			if rights[id] {
				ids[left] = true
			}
		}
	}
	if nav == navTeamMembers {
		if schema.set == setUsers {
			if u := st.tables[setUsers][id]; u != nil {
				if team := st.defaultTeam(asString(u["_businessunitid_value"])); team != nil {
					ids[team["teamid"].(string)] = true
				}
			}
		} else if team := st.tables[setTeams][id]; team != nil && team["isdefault"] == true {
			for uid, u := range st.tables[setUsers] {
				if u["_businessunitid_value"] == team["_businessunitid_value"] {
					ids[uid] = true
				}
			}
		}
	}
	out := make([]row, 0, len(ids))
	for rid := range ids {
		if r, ok := st.tables[other][rid]; ok {
			out = append(out, r)
		}
	}
	key := st.schemas[other].key
	sort.Slice(out, func(i, j int) bool { return out[i][key].(string) < out[j][key].(string) })
	return out
}

// defaultTeam is a business unit's default team; callers hold a lock.
func (st *store) defaultTeam(buID string) row {
	for _, t := range st.tables[setTeams] {
		if t["isdefault"] == true && t["_businessunitid_value"] == buID {
			return t
		}
	}
	return nil
}

// rolesOf lists the names of the roles a user holds directly or through its teams; callers hold a lock.
func (st *store) rolesOf(userID string) []string {
	users := st.schemas[setUsers]
	var out []string
	for _, r := range st.related(users, navUserRoles, userID) {
		out = append(out, asString(r["name"]))
	}
	for _, team := range st.related(users, navTeamMembers, userID) {
		for _, r := range st.related(st.schemas[setTeams], navTeamRoles, team["teamid"].(string)) {
			out = append(out, asString(r["name"]))
		}
	}
	return out
}

// addTeams creates every business unit's default team and the fixture's teams, with their roles and members.
func (st *store) addTeams(tc tenantContext, dv *Dataverse, domain string, buIDs, userIDs map[string]string, created time.Time) error {
	for _, bu := range fixtureBusinessUnits(dv, domain) {
		buID := buIDs[strings.ToLower(bu.Name)]
		st.insert(setTeams, row{
			"teamid": st.id("team", buID, "default"), "name": bu.Name, "teamtype": 0, "isdefault": true,
			"_businessunitid_value": buID, "azureactivedirectoryobjectid": nil, "organizationid": st.orgID,
		}, created)
	}
	for _, t := range dv.Teams {
		buID := buIDs[strings.ToLower(t.BusinessUnit)]
		if t.BusinessUnit == "" {
			buID = st.rootBusinessUnit()["businessunitid"].(string)
		}
		var team row
		if t.Default {
			team = st.defaultTeam(buID)
		} else {
			var objectID any
			if t.Type == 2 || t.Type == 3 {
				objectID = deterministicID(tc.tenant.ID, "group", strings.ToLower(t.Name))
				if t.ObjectID != "" {
					objectID = strings.ToLower(t.ObjectID)
				}
			}
			team = st.insert(setTeams, row{
				"teamid": st.id("team", buID, strings.ToLower(t.Name)), "name": t.Name, "teamtype": t.Type, "isdefault": false,
				"_businessunitid_value": buID, "azureactivedirectoryobjectid": objectID, "organizationid": st.orgID,
			}, created)
		}
		teamID := team["teamid"].(string)
		for _, name := range t.Roles {
			r := st.roleInBusinessUnit(name, buID)
			if r == nil {
				return fmt.Errorf("team %q: role %q has no copy in its business unit", team["name"], name)
			}
			st.link(navTeamRoles, teamID, r["roleid"].(string))
		}
		for _, key := range t.Members {
			st.link(navTeamMembers, userIDs[strings.ToLower(key)], teamID)
		}
	}
	return nil
}
