package emulator

import (
	"maps"
	"strings"
)

// colType is the Edm type of a column, which decides how $filter literals compare with it.
type colType int

const (
	tString colType = iota
	tGUID
	tInt
	tBool
	tDateTime
	tObject
)

func (t colType) edm() string {
	switch t {
	case tGUID:
		return "Edm.Guid"
	case tInt:
		return "Edm.Int32"
	case tBool:
		return "Edm.Boolean"
	case tDateTime:
		return "Edm.DateTimeOffset"
	case tObject:
		return "Microsoft.Dynamics.CRM.BooleanManagedProperty"
	}
	return "Edm.String"
}

// lookupNav is a single-valued navigation property backed by a _<name>_value column.
type lookupNav struct {
	column string
	target string
}

// entitySchema describes one entity set as the Web API exposes it.
type entitySchema struct {
	set         string
	logical     string
	key         string
	columns     map[string]colType
	lookups     map[string]lookupNav
	collections map[string]string
}

func (s *entitySchema) typeName() string { return "Microsoft.Dynamics.CRM." + s.logical }

func newSchema(set, logical string, columns map[string]colType, lookups map[string]string) *entitySchema {
	s := &entitySchema{set: set, logical: logical, key: logical + "id", columns: map[string]colType{}, lookups: map[string]lookupNav{}, collections: map[string]string{}}
	s.columns[s.key] = tGUID
	for _, c := range []string{"createdon", "modifiedon"} {
		s.columns[c] = tDateTime
	}
	s.columns["versionnumber"] = tInt
	for c, t := range columns {
		s.columns[c] = t
	}
	for nav, target := range lookups {
		col := "_" + nav + "_value"
		s.columns[col] = tGUID
		s.lookups[nav] = lookupNav{column: col, target: target}
	}
	return s
}

const (
	setUsers          = "systemusers"
	setBusinessUnits  = "businessunits"
	setRoles          = "roles"
	setSolutions      = "solutions"
	setAsyncOps       = "asyncoperations"
	setWorkflows      = "workflows"
	setConnectionRefs = "connectionreferences"
	setTemplates      = "templates"
	navUserRoles      = "systemuserroles_association"
)

// fixedSchemas are shared by every environment and never modified after init.
var fixedSchemas = buildFixedSchemas()

// baseSchemas gives an environment its own map of the fixed tables, to which it adds the Work 365 settings
// table, whose names come from the fixture.
func baseSchemas() map[string]*entitySchema {
	return maps.Clone(fixedSchemas)
}

func buildFixedSchemas() map[string]*entitySchema {
	users := newSchema(setUsers, "systemuser", map[string]colType{
		"fullname": tString, "firstname": tString, "lastname": tString, "domainname": tString,
		"internalemailaddress": tString, "windowsliveid": tString, "applicationid": tGUID,
		"azureactivedirectoryobjectid": tGUID, "isdisabled": tBool, "islicensed": tBool, "accessmode": tInt,
		"issyncwithdirectory": tBool, "deletedstate": tInt, "ownerid": tGUID, "organizationid": tGUID,
		"setupuser": tBool, "isintegrationuser": tBool, "userlicensetype": tInt, "azurestate": tInt,
		"invitestatuscode": tInt,
	}, map[string]string{"businessunitid": setBusinessUnits})
	users.collections[navUserRoles] = setRoles

	bus := newSchema(setBusinessUnits, "businessunit", map[string]colType{
		"name": tString, "organizationid": tGUID, "isdisabled": tBool,
	}, map[string]string{"parentbusinessunitid": setBusinessUnits})

	roles := newSchema(setRoles, "role", map[string]colType{
		"name": tString, "ismanaged": tBool, "isinherited": tInt, "organizationid": tGUID, "roleidunique": tGUID,
		"componentstate": tInt, "iscustomizable": tObject, "canbedeleted": tObject,
	}, map[string]string{"businessunitid": setBusinessUnits, "parentrootroleid": setRoles, "parentroleid": setRoles})
	roles.collections[navUserRoles] = setUsers

	solutions := newSchema(setSolutions, "solution", map[string]colType{
		"uniquename": tString, "friendlyname": tString, "version": tString, "ismanaged": tBool,
		"installedon": tDateTime, "isvisible": tBool,
	}, nil)

	owned := map[string]string{"ownerid": setUsers}
	asyncOps := newSchema(setAsyncOps, "asyncoperation", map[string]colType{
		"name": tString, "operationtype": tInt, "statecode": tInt, "statuscode": tInt, "message": tString,
		"friendlymessage": tString, "errorcode": tInt, "completedon": tDateTime,
	}, map[string]string{"ownerid": setUsers, "workflowactivationid": setWorkflows})
	workflows := newSchema(setWorkflows, "workflow", map[string]colType{
		"name": tString, "category": tInt, "statecode": tInt, "statuscode": tInt, "type": tInt, "primaryentity": tString,
	}, owned)
	connRefs := newSchema(setConnectionRefs, "connectionreference", map[string]colType{
		"connectionreferencelogicalname": tString, "connectionreferencedisplayname": tString, "connectorid": tString,
		"connectionid": tString, "statecode": tInt, "statuscode": tInt,
	}, owned)
	templates := newSchema(setTemplates, "template", map[string]colType{
		"title": tString, "templatetypecode": tString, "ispersonal": tBool, "languagecode": tInt,
	}, owned)

	out := map[string]*entitySchema{}
	for _, s := range []*entitySchema{users, bus, roles, solutions, asyncOps, workflows, connRefs, templates} {
		out[s.set] = s
	}
	return out
}

// settingsSchema is the Work 365 settings table; its logical name is the entity set name without the plural "s".
func settingsSchema(set, attribute string) *entitySchema {
	logical := strings.TrimSuffix(set, "s")
	return newSchema(set, logical, map[string]colType{
		strings.SplitN(logical, "_", 2)[0] + "_name": tString, "statecode": tInt, "statuscode": tInt,
	}, map[string]string{attribute: setUsers})
}
