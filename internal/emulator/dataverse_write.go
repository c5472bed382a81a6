package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// callerID is the systemuserid of the request's caller: who creates, and last changes, the rows it writes.
func (req *dvRequest) callerID() string { return asString(req.caller["systemuserid"]) }

// handleWrite dispatches the writes the emulator supports; every other write on a known table is 405.
func (s *Server) handleWrite(req *dvRequest) *response {
	segs := req.segs
	st := req.st
	st.mu.Lock()
	defer st.mu.Unlock()
	first := segs[0]
	schema := st.schemas[first.name]
	method := req.r.Method
	switch {
	case method == http.MethodPost && len(segs) == 1 && !first.hasKey && first.name == setUsers:
		return s.createUser(req, "")
	case method == http.MethodPost && len(segs) == 1 && !first.hasKey && st.clearCacheAct != "" && first.name == st.clearCacheAct:
		if _, err := decodeBody(req.body); err != nil {
			return payloadError(first.name, err)
		}
		return dvNoContent()
	case len(segs) == 3 && first.hasKey && segs[1].name == navUserRoles && segs[2].name == "$ref" && (first.name == setUsers || first.name == setRoles):
		if method == http.MethodPost && !segs[1].hasKey {
			return s.associate(req)
		}
		if method == http.MethodDelete {
			return s.disassociate(req)
		}
	case method == http.MethodPatch && len(segs) == 1 && first.hasKey && first.name == setUsers:
		return s.updateUser(req)
	case method == http.MethodDelete && len(segs) == 1 && first.hasKey && first.name == setUsers:
		return s.deleteUser(req)
	case st.settingsSet != "" && first.name == st.settingsSet && first.hasKey:
		if method == http.MethodPatch && len(segs) == 1 {
			return s.updateSettings(req)
		}
		if method == http.MethodDelete && len(segs) == 3 && segs[1].name == st.settingsLookup.nav && segs[2].name == "$ref" {
			return s.setServiceUser(req, nil)
		}
	}
	if first.name == setEntityDefinitions {
		return dvError(http.StatusMethodNotAllowed, codeNotFound, "The emulator serves table definitions read-only.")
	}
	if schema == nil {
		return notFoundSegment(first.name)
	}
	if len(segs) >= 2 && first.hasKey {
		if _, ok := schema.lookups[segs[1].name]; !ok && schema.collections[segs[1].name] == "" {
			return notFoundSegment(segs[1].name)
		}
	}
	return dvError(http.StatusMethodNotAllowed, codeNotFound, fmt.Sprintf("The emulator does not support %s on '%s'.", method, req.r.URL.Path))
}

func decodeBody(b []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("the payload is not a JSON object")
	}
	return m, nil
}

func payloadError(set string, err error) *response {
	return dvError(http.StatusBadRequest, codePayload, fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : %s", set, err))
}

// undeclaredProperty is the real answer to a bind through a name that is no navigation property, such as a
// lookup's lowercase logical name where its navigation property is mixed case (OData's own message, as
// Dataverse returns it: github.com/microsoft/PowerPlatform-DataverseServiceClient/issues/31).
func undeclaredProperty(name string) *response {
	return dvError(http.StatusBadRequest, codeUndeclared, fmt.Sprintf("An error occurred while validating input parameters: Microsoft.OData.ODataException: An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", name))
}

func unknownBodyProperty(name string, schema *entitySchema) *response {
	return dvError(http.StatusBadRequest, codePayload, fmt.Sprintf("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", name, schema.typeName()))
}

var refPattern = regexp.MustCompile(`(?:^|/)([A-Za-z_][A-Za-z0-9_]*)\(\{?([0-9a-fA-F-]{36})\}?\)$`)

// parseRef reads "/set(id)", "set(id)" or an absolute URL ending in set(id).
func parseRef(v string) (set, id string, ok bool) {
	if u, err := url.Parse(v); err == nil && u.Path != "" {
		v = u.Path
	}
	m := refPattern.FindStringSubmatch(v)
	if m == nil || !isGUID(m[2]) {
		return "", "", false
	}
	return m[1], strings.ToLower(m[2]), true
}

func typeError(name, want string, schema *entitySchema) *response {
	return dvError(http.StatusBadRequest, codePayload, fmt.Sprintf("Cannot convert the literal for property '%s' on type '%s' to the expected type '%s'.", name, schema.typeName(), want))
}

// userWritable are the systemuser columns a create or update may set; other known columns are ignored,
// as the real service ignores read-only ones.
var userWritable = map[string]colType{
	"fullname": tString, "firstname": tString, "lastname": tString, "internalemailaddress": tString,
	"domainname": tString, "isdisabled": tBool, "accessmode": tInt,
}

// applyUserFields validates and copies writable columns from a body into fields.
func applyUserFields(body map[string]any, schema *entitySchema, fields row, skip map[string]bool) *response {
	for k, v := range body {
		if skip[k] || strings.HasPrefix(k, "@") {
			continue
		}
		if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
			if nav != "businessunitid" {
				return undeclaredProperty(nav)
			}
			continue
		}
		t, writable := userWritable[k]
		if !writable {
			if _, known := schema.columns[k]; !known {
				return unknownBodyProperty(k, schema)
			}
			continue
		}
		switch t {
		case tBool:
			b, ok := v.(bool)
			if !ok {
				return typeError(k, "Edm.Boolean", schema)
			}
			fields[k] = b
		case tInt:
			n, ok := v.(json.Number)
			i, err := strconv.Atoi(string(n))
			if !ok || err != nil {
				return typeError(k, "Edm.Int32", schema)
			}
			fields[k] = i
		default:
			if v == nil {
				fields[k] = nil
				continue
			}
			str, ok := v.(string)
			if !ok {
				return typeError(k, "Edm.String", schema)
			}
			fields[k] = str
		}
	}
	return nil
}

// businessUnitBind resolves "businessunitid@odata.bind"; callers hold the lock.
func (st *store) businessUnitBind(body map[string]any) (string, bool, *response) {
	v, present := body["businessunitid@odata.bind"]
	if !present {
		return "", false, nil
	}
	str, _ := v.(string)
	set, id, ok := parseRef(str)
	if !ok || set != setBusinessUnits {
		return "", true, dvError(http.StatusBadRequest, codePayload, fmt.Sprintf("The value '%v' of businessunitid@odata.bind is not a reference to a businessunit, such as /businessunits(<id>).", v))
	}
	if st.tables[setBusinessUnits][id] == nil {
		return "", true, recordNotFound("businessunit", id)
	}
	return id, true, nil
}

// createUser creates an application user, with a GUID of its own or, for an upsert, the one of the URL.
func (s *Server) createUser(req *dvRequest, id string) *response {
	st := req.st
	schema := st.schemas[setUsers]
	body, err := decodeBody(req.body)
	if err != nil {
		return payloadError(setUsers, err)
	}
	rawApp, _ := body["applicationid"].(string)
	appID := strings.ToLower(rawApp)
	if !isGUID(appID) {
		return dvError(http.StatusBadRequest, codePayload, "The emulator creates application users only: the payload needs an applicationid (the Entra application ID, a GUID).")
	}
	spName, inTenant := s.spNames[appID]
	if !inTenant {
		return dvError(http.StatusBadRequest, ErrCodeAppNotInTenant, fmt.Sprintf(
			"The application with ID '%s' was not found in the directory of tenant '%s'. Make sure the application has a service principal in the tenant (admin consent or onboarding) before creating its application user.", rawApp, s.tenant.ID))
	}
	for id, u := range st.tables[setUsers] {
		if u["applicationid"] != appID {
			continue
		}
		if u["deletedstate"] == 0 {
			return dvError(http.StatusBadRequest, codeDuplicate, fmt.Sprintf("A record with matching key values already exists: the application user %s already exists for application ID '%s'.", id, appID))
		}
		return dvError(http.StatusBadRequest, ErrCodeDeletedUserExists, fmt.Sprintf(
			"A deleted user with application ID '%s' exists (systemuserid %s). Purge it first: delete it again with DELETE systemusers(%s), then create the application user.", appID, id, id))
	}
	buID, _, errResp := st.businessUnitBind(body)
	if errResp != nil {
		return errResp
	}
	if buID == "" {
		buID = st.rootBusinessUnit()["businessunitid"].(string)
	}
	fields := row{"fullname": "# " + spName, "accessmode": 4, "isdisabled": false}
	if errResp := applyUserFields(body, schema, fields, map[string]bool{"applicationid": true}); errResp != nil {
		return errResp
	}
	if id == "" {
		id = st.id("systemuser-created", appID, strconv.Itoa(st.created))
		st.created++
	}
	first, last := splitName(fields["fullname"].(string))
	domain := appID + "@" + s.tenant.Domain
	r := row{
		"systemuserid": id, "firstname": first, "lastname": last, "domainname": domain, "internalemailaddress": domain,
		"windowsliveid": nil, "applicationid": appID, "azureactivedirectoryobjectid": s.objectID(appID), "islicensed": false,
		"_businessunitid_value": buID, "issyncwithdirectory": false, "deletedstate": 0, "ownerid": id,
		"organizationid": st.orgID, "setupuser": false, "isintegrationuser": false, "userlicensetype": -1, "azurestate": 0,
		"invitestatuscode": 4, colCreatedBy: req.callerID(), colModifiedBy: req.callerID(),
	}
	for k, v := range fields {
		r[k] = v
	}
	st.insert(setUsers, r, st.now())
	entityID := req.base + setUsers + "(" + id + ")"
	if req.prefer["return"] == "representation" {
		q, qerr := parseQueryOptions(req.r.URL.RawQuery, schema, st)
		if qerr != nil {
			return dvError(http.StatusBadRequest, codeNotFound, qerr.message)
		}
		out := s.render(req, r, schema, q.sel)
		out["@odata.context"] = req.base + "$metadata#" + setUsers + q.contextSelect() + "/$entity"
		resp := dvJSON(http.StatusCreated, out)
		resp.header.Set("Preference-Applied", "return=representation")
		resp.header.Set("OData-EntityId", entityID)
		resp.header.Set("Location", entityID)
		return resp
	}
	resp := dvNoContent()
	resp.header.Set("OData-EntityId", entityID)
	return resp
}

// checkIfMatch applies optimistic concurrency when the client sends an etag.
func checkIfMatch(r *http.Request, current row) *response {
	m := r.Header.Get("If-Match")
	if m == "" || m == "*" || m == etag(current) {
		return nil
	}
	return dvError(http.StatusPreconditionFailed, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.")
}

// updateUser updates a user; PATCH of a missing one without If-Match creates it under the rules of POST.
func (s *Server) updateUser(req *dvRequest) *response {
	st := req.st
	schema := st.schemas[setUsers]
	id := req.segs[0].key
	u := st.tables[setUsers][id]
	if u == nil {
		if req.r.Header.Get("If-Match") != "" {
			return recordNotFound("systemuser", id)
		}
		return s.createUser(req, id)
	}
	if errResp := checkIfMatch(req.r, u); errResp != nil {
		return errResp
	}
	body, err := decodeBody(req.body)
	if err != nil {
		return payloadError(setUsers, err)
	}
	fields := row{}
	if errResp := applyUserFields(body, schema, fields, nil); errResp != nil {
		return errResp
	}
	buID, buGiven, errResp := st.businessUnitBind(body)
	if errResp != nil {
		return errResp
	}
	for k, v := range fields {
		u[k] = v
	}
	if _, ok := fields["fullname"]; ok {
		if name, ok := fields["fullname"].(string); ok {
			u["firstname"], u["lastname"] = splitName(name)
		}
	}
	if buGiven && buID != u["_businessunitid_value"] {
		// Moving a user to another business unit removes its security roles, as Dataverse does.
		u["_businessunitid_value"] = buID
		st.unlinkLeft(navUserRoles, id)
	}
	st.touch(u, req.callerID())
	return dvNoContent()
}

func (s *Server) deleteUser(req *dvRequest) *response {
	st := req.st
	id := req.segs[0].key
	u := st.tables[setUsers][id]
	if u == nil {
		return recordNotFound("systemuser", id)
	}
	if u["isdisabled"] != true {
		return dvError(http.StatusBadRequest, ErrCodeUserNotDisabled, fmt.Sprintf("Only disabled users can be deleted. Disable the user %s first (PATCH isdisabled=true).", id))
	}
	if u["deletedstate"] == 0 {
		u["deletedstate"] = 1
		st.touch(u, req.callerID())
		return dvNoContent()
	}
	delete(st.tables[setUsers], id)
	st.unlinkLeft(navUserRoles, id)
	st.unlinkLeft(navTeamMembers, id)
	if st.settingsSet != "" {
		col := st.settingsLookup.column
		for _, r := range st.tables[st.settingsSet] {
			if r[col] == id {
				r[col] = nil
				st.touch(r, req.callerID())
			}
		}
	}
	return dvNoContent()
}

// associate links a user and a role from either side of systemuserroles_association.
func (s *Server) associate(req *dvRequest) *response {
	st := req.st
	body, err := decodeBody(req.body)
	if err != nil {
		return payloadError(navUserRoles, err)
	}
	ref, _ := body["@odata.id"].(string)
	set, refID, ok := parseRef(ref)
	want := setRoles
	if req.segs[0].name == setRoles {
		want = setUsers
	}
	if !ok || set != want {
		return dvError(http.StatusBadRequest, codePayload, fmt.Sprintf("The @odata.id '%s' is not a reference to %s(<id>).", ref, want))
	}
	userID, roleID := req.segs[0].key, refID
	if want == setUsers {
		userID, roleID = refID, req.segs[0].key
	}
	return s.assignRole(st, userID, roleID)
}

// assignRole associates a user with a role; callers hold the write lock.
func (s *Server) assignRole(st *store, userID, roleID string) *response {
	u := st.tables[setUsers][userID]
	if u == nil {
		return recordNotFound("systemuser", userID)
	}
	role := st.tables[setRoles][roleID]
	if role == nil {
		return recordNotFound("role", roleID)
	}
	// Disabled users cannot receive security roles unless the organization allows it
	// (learn.microsoft.com/power-platform/admin/create-users); the real refusal's code and text are not public.
	if u["isdisabled"] == true && !st.orgSettings.AllowRoleAssignmentOnDisabledUsers {
		return dvError(http.StatusBadRequest, ErrCodeRoleToDisabledUser, fmt.Sprintf(
			"Security roles cannot be assigned to the disabled user %s. Enable the user first, or turn on the organization setting allowRoleAssignmentOnDisabledUsers.", userID))
	}
	if role["_businessunitid_value"] != u["_businessunitid_value"] {
		return dvError(http.StatusBadRequest, ErrCodeRoleNotInBusinessUnit, fmt.Sprintf(
			"The role %s ('%s') belongs to business unit %s, not to the user's business unit %s. Assign the copy of the role that belongs to the user's business unit.",
			roleID, role["name"], role["_businessunitid_value"], u["_businessunitid_value"]))
	}
	if st.linked(navUserRoles, userID, roleID) {
		return dvError(http.StatusBadRequest, codeDuplicate, "Cannot insert duplicate key.")
	}
	st.link(navUserRoles, userID, roleID)
	return dvNoContent()
}

// disassociate accepts .../systemuserroles_association(<id>)/$ref and .../systemuserroles_association/$ref?$id=<url>.
func (s *Server) disassociate(req *dvRequest) *response {
	st := req.st
	other := req.segs[1].key
	if !req.segs[1].hasKey {
		set, id, ok := parseRef(req.r.URL.Query().Get("$id"))
		if !ok || (set != setRoles && set != setUsers) {
			return dvError(http.StatusBadRequest, codePayload, "Disassociate needs the related record's key: systemuserroles_association(<id>)/$ref or $ref?$id=<url>.")
		}
		other = id
	}
	userID, roleID := req.segs[0].key, other
	if req.segs[0].name == setRoles {
		userID, roleID = other, req.segs[0].key
	}
	if st.tables[setUsers][userID] == nil {
		return recordNotFound("systemuser", userID)
	}
	if st.tables[setRoles][roleID] == nil {
		return recordNotFound("role", roleID)
	}
	st.unlink(navUserRoles, userID, roleID)
	return dvNoContent()
}

// updateSettings updates the settings row, or creates it: PATCH is an upsert unless If-Match is sent
// (learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api,
// "Prevent create in upsert").
func (s *Server) updateSettings(req *dvRequest) *response {
	st := req.st
	schema := st.schemas[st.settingsSet]
	id := req.segs[0].key
	r := st.tables[st.settingsSet][id]
	if r == nil && req.r.Header.Get("If-Match") != "" {
		return recordNotFound(schema.logical, id)
	}
	if r != nil {
		if errResp := checkIfMatch(req.r, r); errResp != nil {
			return errResp
		}
	}
	body, err := decodeBody(req.body)
	if err != nil {
		return payloadError(st.settingsSet, err)
	}
	// Binds go through the navigation property, case-sensitively; the lookup's logical name is no property.
	bindKey := st.settingsLookup.nav + "@odata.bind"
	changes := row{}
	for k, v := range body {
		switch {
		case strings.HasPrefix(k, "@"):
		case k == bindKey:
			if v == nil {
				changes[st.settingsLookup.column] = nil
				continue
			}
			str, _ := v.(string)
			set, userID, ok := parseRef(str)
			if !ok || set != setUsers {
				return dvError(http.StatusBadRequest, codePayload, fmt.Sprintf("The value '%v' of %s is not a reference to a systemuser, such as /systemusers(<id>).", v, bindKey))
			}
			if st.tables[setUsers][userID] == nil {
				return recordNotFound("systemuser", userID)
			}
			changes[st.settingsLookup.column] = userID
		case strings.HasSuffix(k, "@odata.bind"):
			return undeclaredProperty(strings.TrimSuffix(k, "@odata.bind"))
		case k == schema.primaryName:
			str, ok := v.(string)
			if !ok && v != nil {
				return typeError(k, "Edm.String", schema)
			}
			changes[k] = nullable(str)
		default:
			if _, known := schema.columns[k]; !known {
				return unknownBodyProperty(k, schema)
			}
		}
	}
	if r == nil {
		created := row{schema.key: id, "statecode": 0, "statuscode": 1, colCreatedBy: req.callerID(), colModifiedBy: req.callerID()}
		for k, v := range changes {
			created[k] = v
		}
		st.insert(st.settingsSet, created, st.now())
		resp := dvNoContent()
		resp.header.Set("OData-EntityId", req.base+st.settingsSet+"("+id+")")
		return resp
	}
	for k, v := range changes {
		r[k] = v
	}
	st.touch(r, req.callerID())
	return dvNoContent()
}

// setServiceUser points the settings row's lookup at a user (nil clears it); callers hold the write lock.
func (s *Server) setServiceUser(req *dvRequest, userID any) *response {
	st := req.st
	id := req.segs[0].key
	r := st.tables[st.settingsSet][id]
	if r == nil {
		return recordNotFound(st.schemas[st.settingsSet].logical, id)
	}
	if userID == "" {
		userID = nil
	}
	r[st.settingsLookup.column] = userID
	st.touch(r, req.callerID())
	return dvNoContent()
}
