package collect

import (
	"context"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// wireUser is a systemusers row with its roles and business unit expanded.
type wireUser struct {
	ID             string      `json:"systemuserid"`
	FullName       string      `json:"fullname"`
	DomainName     string      `json:"domainname"`
	Email          string      `json:"internalemailaddress"`
	ApplicationID  string      `json:"applicationid"`
	AccessMode     int         `json:"accessmode"`
	IsDisabled     bool        `json:"isdisabled"`
	IsLicensed     bool        `json:"islicensed"`
	DeletedState   int         `json:"deletedstate"`
	BusinessUnitID string      `json:"_businessunitid_value"`
	BusinessUnit   *wireBUName `json:"businessunitid"`
	Roles          []wireRole  `json:"systemuserroles_association"`
}

type wireBUName struct {
	ID   string `json:"businessunitid"`
	Name string `json:"name"`
}

const (
	userColumns = "systemuserid,fullname,domainname,internalemailaddress,applicationid,accessmode,isdisabled,islicensed,deletedstate,_businessunitid_value"
	userExpand  = "systemuserroles_association($select=roleid,name,_businessunitid_value),businessunitid($select=businessunitid,name)"
)

func (w wireUser) model() snapshot.User {
	u := snapshot.User{
		ID: w.ID, FullName: w.FullName, DomainName: w.DomainName, Email: w.Email, ApplicationID: w.ApplicationID,
		AccessMode: w.AccessMode, Disabled: w.IsDisabled, Licensed: w.IsLicensed, DeletedState: w.DeletedState,
		Roles: make([]snapshot.Role, 0, len(w.Roles)),
	}
	if w.BusinessUnitID != "" {
		u.BusinessUnit = &snapshot.BusinessUnit{ID: w.BusinessUnitID}
		if w.BusinessUnit != nil {
			u.BusinessUnit.Name = w.BusinessUnit.Name
		}
	}
	for _, r := range w.Roles {
		u.Roles = append(u.Roles, snapshot.Role{ID: r.ID, Name: r.Name, BusinessUnitID: r.BusinessUnitID})
	}
	return u
}

// applicationUsers reads the users of every configured Work 365 App ID, soft-deleted leftovers included,
// with their roles and business unit.
func (r *reader) applicationUsers(ctx context.Context) ([]snapshot.User, error) {
	out := []snapshot.User{}
	filter := r.appIDFilter()
	if filter == "" {
		return out, nil
	}
	q := api.Query("systemusers",
		[2]string{"$select", userColumns},
		[2]string{"$filter", filter},
		[2]string{"$expand", userExpand})
	err := list(ctx, r, "systemusers (application users)", q, func(w wireUser) error {
		out = append(out, w.model())
		return nil
	})
	return out, err
}

// serviceUser returns the user the service-user setting points to: one of the application users already
// read, or read now. A lookup to a user that no longer exists gives nil.
func (r *reader) serviceUser(ctx context.Context, id string, appUsers []snapshot.User) (*snapshot.User, error) {
	for i := range appUsers {
		if equalID(appUsers[i].ID, id) {
			u := appUsers[i]
			return &u, nil
		}
	}
	q := api.Query("systemusers("+id+")", [2]string{"$select", userColumns}, [2]string{"$expand", userExpand})
	var w wireUser
	if err := r.get(ctx, "systemusers (service user)", q, &w); err != nil {
		if api.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	u := w.model()
	return &u, nil
}

// ownerRow is the part of a user kept to describe an owner.
type ownerRow struct {
	id, name, domain string
	application      bool
}

// disabledUsers reads every disabled user: owners whose flows and templates stop working.
func (r *reader) disabledUsers(ctx context.Context) ([]ownerRow, error) {
	q := api.Query("systemusers",
		[2]string{"$select", "systemuserid,fullname,domainname,applicationid,accessmode"},
		[2]string{"$filter", "isdisabled eq true"})
	var out []ownerRow
	err := list(ctx, r, "systemusers (disabled)", q, func(w wireUser) error {
		out = append(out, ownerRow{id: w.ID, name: w.FullName, domain: w.DomainName,
			application: w.ApplicationID != "" || w.AccessMode == snapshot.AccessModeNonInteractive})
		return nil
	})
	return out, err
}
