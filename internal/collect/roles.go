package collect

import (
	"context"
	"sort"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// wireRole is a roles row, with the users holding it when they are expanded.
type wireRole struct {
	ID             string     `json:"roleid"`
	Name           string     `json:"name"`
	BusinessUnitID string     `json:"_businessunitid_value"`
	Holders        []wireUser `json:"systemuserroles_association"`
	HoldersLink    string     `json:"systemuserroles_association@odata.nextLink"`
}

func (r wireRole) model(team *snapshot.Team) snapshot.Role {
	return snapshot.Role{ID: r.ID, Name: r.Name, BusinessUnitID: r.BusinessUnitID, Team: team}
}

// roleNameFilter matches the Work 365 roles by name (Dataverse compares strings case-insensitively).
func (r *reader) roleNameFilter(column string) string {
	names := make([]string, len(r.c.opts.RoleNames))
	for i, n := range r.c.opts.RoleNames {
		names[i] = column + " eq " + api.Quote(n)
	}
	return strings.Join(names, " or ")
}

// serviceRoleHolders reads every user holding a Work 365 role directly (in any business unit), each with the
// Work 365 roles it holds.
func (r *reader) serviceRoleHolders(ctx context.Context) ([]snapshot.User, error) {
	if len(r.c.opts.RoleNames) == 0 {
		return nil, nil
	}
	const stage = "roles (Work 365 role holders)"
	q := api.Query("roles",
		[2]string{"$select", roleColumns},
		[2]string{"$filter", r.roleNameFilter("name")},
		[2]string{"$expand", "systemuserroles_association($select=" + userColumns + ")"})
	var rows []wireRole
	if err := list(ctx, r, stage, q, func(role wireRole) error { rows = append(rows, role); return nil }); err != nil {
		return nil, err
	}
	byID := map[string]*snapshot.User{}
	for _, role := range rows {
		holders, err := expanded(ctx, r, stage, role.Holders, role.HoldersLink, func(u wireUser) string { return u.ID })
		if err != nil {
			return nil, err
		}
		for _, h := range holders {
			u := byID[strings.ToLower(h.ID)]
			if u == nil {
				m := h.model()
				u = &m
				byID[strings.ToLower(h.ID)] = u
			}
			u.Roles = append(u.Roles, role.model(nil))
		}
	}
	return sortedUsers(byID), nil
}

func sortedUsers(byID map[string]*snapshot.User) []snapshot.User {
	out := make([]snapshot.User, 0, len(byID))
	for _, u := range byID {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func equalID(a, b string) bool { return strings.EqualFold(a, b) }
