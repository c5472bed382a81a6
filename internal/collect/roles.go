package collect

import (
	"context"
	"sort"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// wireRole is a roles row.
type wireRole struct {
	ID             string     `json:"roleid"`
	Name           string     `json:"name"`
	BusinessUnitID string     `json:"_businessunitid_value"`
	Holders        []wireUser `json:"systemuserroles_association"`
}

// serviceRoleHolders reads every user holding a Work 365 role (in any business unit), each with the
// Work 365 roles it holds.
func (r *reader) serviceRoleHolders(ctx context.Context) ([]snapshot.User, error) {
	if len(r.c.opts.RoleNames) == 0 {
		return nil, nil
	}
	names := make([]string, len(r.c.opts.RoleNames))
	for i, n := range r.c.opts.RoleNames {
		names[i] = "name eq " + api.Quote(n)
	}
	q := api.Query("roles",
		[2]string{"$select", "roleid,name,_businessunitid_value"},
		[2]string{"$filter", strings.Join(names, " or ")},
		[2]string{"$expand", "systemuserroles_association($select=" + userColumns + ")"})
	byID := map[string]*snapshot.User{}
	err := list(ctx, r, "roles (Work 365 role holders)", q, func(role wireRole) error {
		for _, h := range role.Holders {
			u := byID[strings.ToLower(h.ID)]
			if u == nil {
				m := h.model()
				u = &m
				byID[strings.ToLower(h.ID)] = u
			}
			u.Roles = append(u.Roles, snapshot.Role{ID: role.ID, Name: role.Name, BusinessUnitID: role.BusinessUnitID})
		}
		return nil
	})
	out := make([]snapshot.User, 0, len(byID))
	for _, u := range byID {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

func equalID(a, b string) bool { return strings.EqualFold(a, b) }
