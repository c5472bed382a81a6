package collect

import (
	"context"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// wireUser is a systemusers row with its roles expanded and its business unit's name as a formatted value.
type wireUser struct {
	ID               string     `json:"systemuserid"`
	FullName         string     `json:"fullname"`
	DomainName       string     `json:"domainname"`
	Email            string     `json:"internalemailaddress"`
	ApplicationID    string     `json:"applicationid"`
	AccessMode       int        `json:"accessmode"`
	IsDisabled       bool       `json:"isdisabled"`
	IsLicensed       bool       `json:"islicensed"`
	DeletedState     int        `json:"deletedstate"`
	ObjectID         string     `json:"azureactivedirectoryobjectid"`
	BusinessUnitID   string     `json:"_businessunitid_value"`
	BusinessUnitName string     `json:"_businessunitid_value@OData.Community.Display.V1.FormattedValue"`
	Roles            []wireRole `json:"systemuserroles_association"`
	RolesLink        string     `json:"systemuserroles_association@odata.nextLink"`
}

// userColumns are the columns read of every user. The business unit's name comes from the formatted value of
// _businessunitid_value, not from a second navigation in $expand: one revision of Microsoft's "Join tables"
// page lists an N:N collection expand combined with another navigation as unsupported, so each query expands
// at most one navigation.
const (
	userColumns = "systemuserid,fullname,domainname,internalemailaddress,applicationid,accessmode,isdisabled,islicensed,deletedstate,_businessunitid_value"
	roleColumns = "roleid,name,_businessunitid_value"
	userRoles   = "systemuserroles_association($select=" + roleColumns + ")"
)

func (w wireUser) model() snapshot.User {
	u := snapshot.User{
		ID: w.ID, FullName: w.FullName, DomainName: w.DomainName, Email: w.Email, ApplicationID: w.ApplicationID,
		AccessMode: w.AccessMode, Disabled: w.IsDisabled, Licensed: w.IsLicensed, DeletedState: w.DeletedState,
		Roles: make([]snapshot.Role, 0, len(w.Roles)),
	}
	if w.BusinessUnitID != "" {
		u.BusinessUnit = &snapshot.BusinessUnit{ID: w.BusinessUnitID, Name: w.BusinessUnitName}
	}
	for _, r := range w.Roles {
		u.Roles = append(u.Roles, r.model(nil))
	}
	return u
}

// withRoles completes a user's expanded roles (see expanded).
func (r *reader) withRoles(ctx context.Context, stage string, w wireUser) (wireUser, error) {
	var err error
	w.Roles, err = expanded(ctx, r, stage, w.Roles, w.RolesLink, func(x wireRole) string { return x.ID })
	return w, err
}

// applicationUsers reads the users of every configured Work 365 App ID, soft-deleted leftovers included,
// with their direct roles and business unit.
func (r *reader) applicationUsers(ctx context.Context) ([]snapshot.User, error) {
	out := []snapshot.User{}
	filter := r.appIDFilter()
	if filter == "" {
		return out, nil
	}
	const stage = "systemusers (application users)"
	q := api.Query("systemusers",
		[2]string{"$select", userColumns},
		[2]string{"$filter", filter},
		[2]string{"$expand", userRoles})
	var rows []wireUser
	if err := list(ctx, r.formatted(), stage, q, func(w wireUser) error { rows = append(rows, w); return nil }); err != nil {
		return nil, err
	}
	for _, w := range rows {
		w, err := r.withRoles(ctx, stage, w)
		if err != nil {
			return nil, err
		}
		out = append(out, w.model())
	}
	return out, nil
}

// serviceUser returns the user the service-user setting points to: one of the users already read (the
// application users, the people holding a Work 365 role), or read now. A lookup to a user that no longer exists
// gives nil.
func (r *reader) serviceUser(ctx context.Context, id string, known ...[]snapshot.User) (*snapshot.User, error) {
	for _, users := range known {
		for i := range users {
			if equalID(users[i].ID, id) {
				u := users[i]
				u.Roles = append([]snapshot.Role(nil), u.Roles...)
				return &u, nil
			}
		}
	}
	const stage = "systemusers (service user)"
	q := api.Query("systemusers("+id+")", [2]string{"$select", userColumns}, [2]string{"$expand", userRoles})
	var w wireUser
	if err := r.formatted().get(ctx, stage, q, &w); err != nil {
		if api.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	w, err := r.withRoles(ctx, stage, w)
	if err != nil {
		return nil, err
	}
	u := w.model()
	return &u, nil
}

// ownerRow is the part of a user kept to describe an owner.
type ownerRow struct {
	id, name, domain, objectID string
	application                bool
}

// disabledUsers reads every disabled user: owners whose flows and templates stop working. System-managed users
// (SYSTEM, INTEGRATION) are among them; the rules tell them apart.
func (r *reader) disabledUsers(ctx context.Context) ([]ownerRow, error) {
	q := api.Query("systemusers",
		[2]string{"$select", "systemuserid,fullname,domainname,applicationid,azureactivedirectoryobjectid"},
		[2]string{"$filter", "isdisabled eq true"})
	var out []ownerRow
	err := list(ctx, r, "systemusers (disabled)", q, func(w wireUser) error {
		out = append(out, ownerRow{id: w.ID, name: w.FullName, domain: w.DomainName, objectID: w.ObjectID,
			application: w.ApplicationID != ""})
		return nil
	})
	return out, err
}

// teamRefs are a user's teams, as expanded from teammembership_association.
type wireMembership struct {
	ID        string     `json:"systemuserid"`
	Teams     []wireTeam `json:"teammembership_association"`
	TeamsLink string     `json:"teammembership_association@odata.nextLink"`
}

// applicationUserTeams reads the teams each Work 365 application user is a member of, by user ID (lower case).
func (r *reader) applicationUserTeams(ctx context.Context) (map[string][]snapshot.Team, error) {
	out := map[string][]snapshot.Team{}
	filter := r.appIDFilter()
	if filter == "" {
		return out, nil
	}
	const stage = "systemusers (teams of application users)"
	q := api.Query("systemusers",
		[2]string{"$select", "systemuserid"},
		[2]string{"$filter", filter},
		[2]string{"$expand", "teammembership_association($select=" + teamColumns + ")"})
	var rows []wireMembership
	if err := list(ctx, r, stage, q, func(w wireMembership) error { rows = append(rows, w); return nil }); err != nil {
		return nil, err
	}
	for _, w := range rows {
		teams, err := expanded(ctx, r, stage, w.Teams, w.TeamsLink, func(t wireTeam) string { return t.ID })
		if err != nil {
			return nil, err
		}
		for _, t := range teams {
			out[strings.ToLower(w.ID)] = append(out[strings.ToLower(w.ID)], t.model())
		}
	}
	return out, nil
}
