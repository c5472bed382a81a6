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

// lookupNav is a lookup column and its single-valued navigation property. The navigation property's name is
// case-sensitive and may differ from the lookup's logical name (a custom lookup's is usually its mixed-case
// SchemaName, e.g. w365_ServiceUserId for the attribute w365_serviceuserid), while the value property is always
// _<logical name>_value.
type lookupNav struct {
	nav       string // navigation property: $expand, @odata.bind, …/<nav>/$ref
	attribute string // the lookup's logical name (ReferencingAttribute)
	column    string // _<attribute>_value
	target    string // entity set of the referenced table
	// common marks the lookups every table has (createdby, modifiedby), which Dataverse sets itself.
	common bool
}

// entitySchema describes one entity set as the Web API exposes it.
type entitySchema struct {
	set         string
	logical     string
	schemaName  string // the table's SchemaName (metadata)
	key         string
	primaryName string // the primary name column, the source of formatted lookup values
	custom      bool
	columns     map[string]colType
	lookups     map[string]lookupNav // by navigation property name
	collections map[string]string    // N:N navigation property → entity set on the other side
}

func (s *entitySchema) typeName() string { return "Microsoft.Dynamics.CRM." + s.logical }

// lookupByColumn finds the lookup whose value property is col ("_x_value").
func (s *entitySchema) lookupByColumn(col string) (lookupNav, bool) {
	for _, lk := range s.lookups {
		if lk.column == col {
			return lk, true
		}
	}
	return lookupNav{}, false
}

// newSchema builds a table whose lookups' navigation properties are named like their logical names, as
// Dataverse's own system lookups are.
func newSchema(set, logical, schemaName, primaryName string, columns map[string]colType, lookups map[string]string) *entitySchema {
	s := &entitySchema{
		set: set, logical: logical, schemaName: schemaName, key: logical + "id", primaryName: primaryName,
		columns: map[string]colType{}, lookups: map[string]lookupNav{}, collections: map[string]string{},
	}
	s.columns[s.key] = tGUID
	for _, c := range []string{"createdon", "modifiedon"} {
		s.columns[c] = tDateTime
	}
	s.columns["versionnumber"] = tInt
	for c, t := range columns {
		s.columns[c] = t
	}
	for attr, target := range lookups {
		s.addLookup(attr, attr, target)
	}
	// Every table, custom ones included, has the lookups createdby and modifiedby to the users who created and
	// last changed a row; Dataverse sets them and refuses them as input (IsValidForCreate and IsValidForUpdate
	// false: learn.microsoft.com/power-apps/developer/data-platform/reference/entities/systemuser, read-only
	// columns CreatedBy and ModifiedBy; …/reference/entities/role lists the same).
	for _, attr := range []string{attrCreatedBy, attrModifiedBy} {
		s.addLookup(attr, attr, setUsers)
		lk := s.lookups[attr]
		lk.common = true
		s.lookups[attr] = lk
	}
	return s
}

// The lookups every table has, and their value properties.
const (
	attrCreatedBy  = "createdby"
	attrModifiedBy = "modifiedby"
	colCreatedBy   = "_" + attrCreatedBy + "_value"
	colModifiedBy  = "_" + attrModifiedBy + "_value"
)

func (s *entitySchema) addLookup(attribute, nav, target string) {
	col := "_" + attribute + "_value"
	s.columns[col] = tGUID
	s.lookups[nav] = lookupNav{nav: nav, attribute: attribute, column: col, target: target}
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
	setTeams          = "teams"
	setPublishers     = "publishers"
	setSdkMessages    = "sdkmessages"
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
	users := newSchema(setUsers, "systemuser", "SystemUser", "fullname", map[string]colType{
		"fullname": tString, "firstname": tString, "lastname": tString, "domainname": tString,
		"internalemailaddress": tString, "windowsliveid": tString, "applicationid": tGUID,
		"azureactivedirectoryobjectid": tGUID, "isdisabled": tBool, "islicensed": tBool, "accessmode": tInt,
		"issyncwithdirectory": tBool, "deletedstate": tInt, "ownerid": tGUID, "organizationid": tGUID,
		"setupuser": tBool, "isintegrationuser": tBool, "userlicensetype": tInt, "azurestate": tInt,
		"invitestatuscode": tInt,
	}, map[string]string{"businessunitid": setBusinessUnits})
	users.collections[navUserRoles] = setRoles
	users.collections[navTeamMembers] = setTeams

	bus := newSchema(setBusinessUnits, "businessunit", "BusinessUnit", "name", map[string]colType{
		"name": tString, "organizationid": tGUID, "isdisabled": tBool,
	}, map[string]string{"parentbusinessunitid": setBusinessUnits})

	roles := newSchema(setRoles, "role", "Role", "name", map[string]colType{
		"name": tString, "ismanaged": tBool, "isinherited": tInt, "organizationid": tGUID, "roleidunique": tGUID,
		"componentstate": tInt, "iscustomizable": tObject, "canbedeleted": tObject,
	}, map[string]string{"businessunitid": setBusinessUnits, "parentrootroleid": setRoles, "parentroleid": setRoles})
	roles.collections[navUserRoles] = setUsers
	roles.collections[navTeamRoles] = setTeams

	// Teams (learn.microsoft.com/power-platform/admin/manage-teams): teamtype 0 owner, 1 access, 2 Microsoft
	// Entra security group, 3 Microsoft Entra Office group.
	teams := newSchema(setTeams, "team", "Team", "name", map[string]colType{
		"name": tString, "teamtype": tInt, "isdefault": tBool, "azureactivedirectoryobjectid": tGUID, "organizationid": tGUID,
	}, map[string]string{"businessunitid": setBusinessUnits})
	teams.collections[navTeamMembers] = setUsers
	teams.collections[navTeamRoles] = setRoles

	solutions := newSchema(setSolutions, "solution", "Solution", "friendlyname", map[string]colType{
		"uniquename": tString, "friendlyname": tString, "version": tString, "ismanaged": tBool,
		"installedon": tDateTime, "isvisible": tBool,
	}, map[string]string{"publisherid": setPublishers})
	publishers := newSchema(setPublishers, "publisher", "Publisher", "friendlyname", map[string]colType{
		"uniquename": tString, "friendlyname": tString, "customizationprefix": tString,
	}, nil)

	owned := map[string]string{"ownerid": setUsers}
	asyncOps := newSchema(setAsyncOps, "asyncoperation", "AsyncOperation", "name", map[string]colType{
		"name": tString, "operationtype": tInt, "statecode": tInt, "statuscode": tInt, "message": tString,
		"friendlymessage": tString, "errorcode": tInt, "completedon": tDateTime,
	}, map[string]string{"ownerid": setUsers, "workflowactivationid": setWorkflows})
	workflows := newSchema(setWorkflows, "workflow", "Workflow", "name", map[string]colType{
		"name": tString, "category": tInt, "statecode": tInt, "statuscode": tInt, "type": tInt, "primaryentity": tString,
	}, owned)
	connRefs := newSchema(setConnectionRefs, "connectionreference", "connectionreference", "connectionreferencedisplayname", map[string]colType{
		"connectionreferencelogicalname": tString, "connectionreferencedisplayname": tString, "connectorid": tString,
		"connectionid": tString, "statecode": tInt, "statuscode": tInt,
	}, owned)
	templates := newSchema(setTemplates, "template", "Template", "title", map[string]colType{
		"title": tString, "templatetypecode": tString, "ispersonal": tBool, "languagecode": tInt,
	}, owned)

	sdkMessages := newSchema(setSdkMessages, "sdkmessage", "SdkMessage", "name", map[string]colType{"name": tString}, nil)

	out := map[string]*entitySchema{}
	for _, s := range []*entitySchema{users, bus, roles, teams, solutions, publishers, asyncOps, workflows, connRefs, templates, sdkMessages} {
		out[s.set] = s
	}
	return out
}

// customizationPrefix is the publisher prefix of a custom name ("w365" of "w365_configuration").
func customizationPrefix(logical string) string {
	prefix, _, _ := strings.Cut(logical, "_")
	return prefix
}

// customSchemaName is the SchemaName the emulator gives a custom table: its prefix, then the rest capitalised
// (w365_configuration → w365_Configuration), as the maker portal proposes it.
func customSchemaName(logical string) string {
	prefix, rest, ok := strings.Cut(logical, "_")
	if !ok || rest == "" {
		return logical
	}
	return prefix + "_" + strings.ToUpper(rest[:1]) + rest[1:]
}

// customSchema is a custom table with a key and a primary name column (<prefix>_name).
func customSchema(set, logical, schemaName string) *entitySchema {
	nameCol := customizationPrefix(logical) + "_name"
	s := newSchema(set, logical, schemaName, nameCol, map[string]colType{
		nameCol: tString, "statecode": tInt, "statuscode": tInt,
	}, nil)
	s.custom = true
	return s
}

// settingsSchema is the Work 365 settings table with its service-user lookup, whose navigation property is
// named apart from its logical name.
func settingsSchema(w work365Names) *entitySchema {
	s := customSchema(w.set, w.logical, customSchemaName(w.logical))
	s.addLookup(w.lookup, w.nav, setUsers)
	return s
}
