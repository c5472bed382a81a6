package fix

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// The state the actions read before acting, straight from Dataverse (never from the snapshot, which may be
// stale by the time a step runs).

type liveRole struct {
	ID             string `json:"roleid"`
	Name           string `json:"name"`
	BusinessUnitID string `json:"_businessunitid_value"`
}

type liveUser struct {
	ID             string     `json:"systemuserid"`
	FullName       string     `json:"fullname"`
	ApplicationID  string     `json:"applicationid"`
	IsDisabled     bool       `json:"isdisabled"`
	DeletedState   int        `json:"deletedstate"`
	BusinessUnitID string     `json:"_businessunitid_value"`
	CreatedOn      string     `json:"createdon"`
	Roles          []liveRole `json:"systemuserroles_association"`
}

const (
	liveUserSelect = "systemuserid,fullname,applicationid,isdisabled,deletedstate,_businessunitid_value,createdon"
	liveUserExpand = "systemuserroles_association($select=roleid,name,_businessunitid_value)"
)

func (u *liveUser) state() map[string]any {
	roles := make([]string, 0, len(u.Roles))
	for _, r := range u.Roles {
		roles = append(roles, r.Name)
	}
	return map[string]any{"user_id": u.ID, "full_name": u.FullName, "is_disabled": u.IsDisabled, "deleted_state": u.DeletedState,
		"business_unit_id": u.BusinessUnitID, "roles": roles}
}

func (u *liveUser) holds(roleID string) bool {
	for _, r := range u.Roles {
		if strings.EqualFold(r.ID, roleID) {
			return true
		}
	}
	return false
}

// holdsByName reports whether a user holds a role of that name, directly or through a team it is a member of.
func holdsByName(ctx context.Context, dv *api.Dataverse, u *liveUser, name string) (bool, error) {
	for _, r := range u.Roles {
		if strings.EqualFold(r.Name, name) {
			return true, nil
		}
	}
	var teams []string
	err := api.Each(ctx, dv, api.Query("systemusers("+u.ID+")/teammembership_association", [2]string{"$select", "teamid"}),
		func(t struct {
			ID string `json:"teamid"`
		}) error {
			teams = append(teams, t.ID)
			return nil
		})
	if err != nil {
		return false, err
	}
	for _, id := range teams {
		held := false
		err := api.Each(ctx, dv, api.Query("teams("+id+")/teamroles_association", [2]string{"$select", "roleid,name"}), func(r liveRole) error {
			held = held || strings.EqualFold(r.Name, name)
			return nil
		})
		if err != nil || held {
			return held, err
		}
	}
	return false, nil
}

// appUsers reads the users of an App ID: the live one and a soft-deleted leftover, if any.
func appUsers(ctx context.Context, dv *api.Dataverse, appID string) (live, deleted *liveUser, err error) {
	q := api.Query("systemusers", [2]string{"$select", liveUserSelect},
		[2]string{"$filter", "applicationid eq " + strings.ToLower(appID)}, [2]string{"$expand", liveUserExpand})
	err = api.Each(ctx, dv, q, func(u liveUser) error {
		uc := u
		if u.DeletedState == 0 && live == nil {
			live = &uc
		} else if u.DeletedState != 0 && deleted == nil {
			deleted = &uc
		}
		return nil
	})
	return live, deleted, err
}

// user reads one user by ID; nil when it does not exist.
func user(ctx context.Context, dv *api.Dataverse, id string) (*liveUser, error) {
	var u liveUser
	q := api.Query("systemusers("+id+")", [2]string{"$select", liveUserSelect}, [2]string{"$expand", liveUserExpand})
	if err := dv.Get(ctx, q, &u); err != nil {
		if api.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return &u, nil
}

// roleInUnit resolves a role by name in a business unit (roles exist once per business unit).
func roleInUnit(ctx context.Context, dv *api.Dataverse, name, buID string) (*liveRole, error) {
	q := api.Query("roles", [2]string{"$select", "roleid,name,_businessunitid_value"},
		[2]string{"$filter", "_businessunitid_value eq " + buID + " and name eq " + api.Quote(name)})
	var found *liveRole
	err := api.Each(ctx, dv, q, func(r liveRole) error {
		if found == nil {
			rc := r
			found = &rc
		}
		return nil
	})
	return found, err
}

// rootUnit reads the root business unit.
func rootUnit(ctx context.Context, dv *api.Dataverse) (string, error) {
	q := api.Query("businessunits", [2]string{"$select", "businessunitid,name"}, [2]string{"$filter", "_parentbusinessunitid_value eq null"})
	var id string
	err := api.Each(ctx, dv, q, func(b struct {
		ID string `json:"businessunitid"`
	}) error {
		if id == "" {
			id = b.ID
		}
		return nil
	})
	if err == nil && id == "" {
		err = fmt.Errorf("no root business unit found")
	}
	return id, err
}

// setting is the Work 365 settings row: its key and the user its service-user lookup points to.
type setting struct {
	id, userID string
}

// readSetting reads the settings row through the environment's schema: its key column and the lookup's
// read-only value column.
func readSetting(ctx context.Context, dv *api.Dataverse, s *snapshot.Schema) (*setting, error) {
	var out *setting
	q := api.Query(s.EntitySet, [2]string{"$select", s.PrimaryID + "," + s.ValueColumn()})
	err := api.Each(ctx, dv, q, func(row map[string]json.RawMessage) error {
		if out == nil {
			out = &setting{id: jsonString(row[s.PrimaryID]), userID: jsonString(row[s.ValueColumn()])}
		}
		return nil
	})
	return out, err
}

// settingBefore is what a service-user write journals of the state before it: the setting's value and the names
// it was written through, so that undo needs nothing but the journal.
func settingBefore(s *snapshot.Schema, cur *setting) map[string]any {
	return map[string]any{"setting_id": cur.id, "user_id": cur.userID, "entity_set": s.EntitySet, "primary_id": s.PrimaryID,
		"lookup": s.Lookup, "navigation": s.Navigation}
}

// schemaFrom reads back the names settingBefore journaled; nil when the journal predates them.
func schemaFrom(before map[string]any) *snapshot.Schema {
	s := &snapshot.Schema{EntitySet: beforeString(before, "entity_set"), PrimaryID: beforeString(before, "primary_id"),
		Lookup: beforeString(before, "lookup"), Navigation: beforeString(before, "navigation")}
	if s.EntitySet == "" || s.PrimaryID == "" || s.Lookup == "" || s.Navigation == "" {
		return nil
	}
	return s
}

func jsonString(raw json.RawMessage) string {
	var v *string
	if json.Unmarshal(raw, &v) != nil || v == nil {
		return ""
	}
	return *v
}
