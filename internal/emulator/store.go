package emulator

import (
	"cmp"
	"crypto/sha1"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"
)

// row is one record with every column, keyed by logical name as the Web API spells it.
type row map[string]any

// store is the Dataverse content of one environment. One lock guards it: requests are short and the
// tables small, and a single lock keeps multi-table writes (purge, business unit moves) consistent.
type store struct {
	mu      sync.RWMutex
	version int
	schemas map[string]*entitySchema
	tables  map[string]map[string]row
	links   map[string]map[string]map[string]bool // N:N name → left id → right ids
	orgID   string
	now     func() time.Time
	idSeed  string // tenant + environment, prefix of every generated GUID
	created int    // rows created through the API, for deterministic new GUIDs

	settingsSet    string    // "" when Work 365 is not installed
	settingsLookup lookupNav // the service-user lookup of the settings table
	clearCacheAct  string    // "" when the action does not exist
	orgSettings    OrgSettings
}

// deterministicID derives a GUID (version 5 layout) from its parts so that reports are stable across runs.
func deterministicID(parts ...string) string {
	h := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func (st *store) id(kind string, key ...string) string {
	return deterministicID(append([]string{st.idSeed, kind}, key...)...)
}

// nextVersion hands out versionnumber values; callers hold the write lock.
func (st *store) nextVersion() int {
	st.version++
	return st.version
}

// insert adds a row with the common columns filled; callers hold the write lock. A row that does not say who
// created it was created and last changed by SYSTEM, as rows a solution or the platform creates are
// (undocumented: our choice for fixture rows); rows created through the Web API say their caller.
func (st *store) insert(set string, r row, created time.Time) row {
	s := st.schemas[set]
	for _, c := range []string{colCreatedBy, colModifiedBy} {
		if _, ok := r[c]; !ok {
			r[c] = st.systemUserID()
		}
	}
	for c, t := range s.columns {
		if _, ok := r[c]; !ok {
			r[c] = zeroValue(t)
		}
	}
	r["createdon"] = formatTime(created)
	r["modifiedon"] = formatTime(created)
	r["versionnumber"] = st.nextVersion()
	st.tables[set][r[s.key].(string)] = r
	return r
}

func zeroValue(t colType) any {
	switch t {
	case tBool:
		return false
	case tObject:
		return map[string]any{"Value": true, "CanBeChanged": true, "ManagedPropertyLogicalName": "iscustomizableanddeletable"}
	}
	return nil
}

// touch records a change to a row by a user (the caller of the write): Dataverse sets modifiedon and
// modifiedby on every update (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/systemuser,
// ModifiedOn and ModifiedBy). Callers hold the write lock.
func (st *store) touch(r row, by string) {
	r["modifiedon"] = formatTime(st.now())
	r[colModifiedBy] = by
	r["versionnumber"] = st.nextVersion()
}

// systemUserID is the GUID of the organization's SYSTEM user.
func (st *store) systemUserID() string { return st.id("systemuser", "system") }

// withETag copies a row for output, adding the @odata.etag the Web API sends on every record.
func withETag(r row) map[string]any {
	out := make(map[string]any, len(r)+1)
	maps.Copy(out, r)
	out["@odata.etag"] = etag(r)
	return out
}

func etag(r row) string { return fmt.Sprintf("W/\"%d\"", r["versionnumber"]) }

// sortedRows returns a table's rows in primary-key order, the Web API's order without $orderby.
func (st *store) sortedRows(set string) []row {
	t := st.tables[set]
	key := st.schemas[set].key
	out := make([]row, 0, len(t))
	for _, r := range t {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][key].(string) < out[j][key].(string) })
	return out
}

// rootBusinessUnit is the business unit without a parent; callers hold a lock.
func (st *store) rootBusinessUnit() row {
	for _, r := range st.tables[setBusinessUnits] {
		if r["_parentbusinessunitid_value"] == nil {
			return r
		}
	}
	return nil
}

// roleInBusinessUnit finds a role's copy in a business unit by name (case-insensitive); callers hold a lock.
func (st *store) roleInBusinessUnit(name, buID string) row {
	for _, r := range st.tables[setRoles] {
		if r["_businessunitid_value"] == buID && strings.EqualFold(r["name"].(string), name) {
			return r
		}
	}
	return nil
}

// copyTable deep-copies a table for tests, in primary-key order.
func (st *store) copyTable(set string) []map[string]any {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if _, ok := st.tables[set]; !ok {
		return nil
	}
	rows := st.sortedRows(set)
	out := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		c := withETag(r)
		for k, v := range c {
			if m, ok := v.(map[string]any); ok {
				c[k] = maps.Clone(m)
			}
		}
		out = append(out, c)
	}
	return out
}

// tenantContext is what building a store needs from the tenant.
type tenantContext struct {
	tenant   TenantInfo
	clients  []Client
	spNames  map[string]string // lower-case app ID → display name
	now      time.Time
	objectID func(appID string) string
}

// newStore builds an environment's Dataverse content from its fixture entry.
func newStore(tc tenantContext, envID string, e Environment, now func() time.Time) (*store, error) {
	dv := e.Dataverse
	domain := envDomain(e)
	st := &store{
		version:     1000000,
		schemas:     baseSchemas(),
		tables:      map[string]map[string]row{},
		links:       map[string]map[string]map[string]bool{},
		now:         now,
		idSeed:      tc.tenant.ID + "/" + envID,
		orgSettings: dv.OrgSettings,
	}
	st.orgID = st.id("organization")
	if w := dv.Work365; w != nil {
		names := w.names()
		settings := settingsSchema(names)
		st.settingsSet = names.set
		st.settingsLookup = settings.lookups[names.nav]
		st.clearCacheAct = names.clearCache
		st.schemas[st.settingsSet] = settings
	}
	for _, c := range dv.CustomTables {
		logical, set, schemaName := c.names()
		st.schemas[set] = customSchema(set, logical, schemaName)
	}
	for set := range st.schemas {
		st.tables[set] = map[string]row{}
	}
	created := tc.now.Add(-365 * 24 * time.Hour)

	// Business units, root first.
	buIDs := map[string]string{}
	for _, bu := range fixtureBusinessUnits(dv, domain) {
		id := st.id("businessunit", strings.ToLower(bu.Name))
		buIDs[strings.ToLower(bu.Name)] = id
		var parent any
		if bu.Parent != "" {
			parent = buIDs[strings.ToLower(bu.Parent)]
		}
		st.insert(setBusinessUnits, row{"businessunitid": id, "name": bu.Name, "_parentbusinessunitid_value": parent, "organizationid": st.orgID}, created)
	}
	rootBU := st.rootBusinessUnit()["businessunitid"].(string)

	// Roles: one copy per business unit; the root copy is every copy's parent root.
	bus := fixtureBusinessUnits(dv, domain)
	for _, name := range fixtureRoles(dv) {
		rootRole := st.id("role", strings.ToLower(rootBU), strings.ToLower(name))
		for _, bu := range bus {
			buID := buIDs[strings.ToLower(bu.Name)]
			var parentRole any
			if bu.Parent != "" {
				parentRole = st.id("role", strings.ToLower(buIDs[strings.ToLower(bu.Parent)]), strings.ToLower(name))
			}
			st.insert(setRoles, row{
				"roleid": st.id("role", strings.ToLower(buID), strings.ToLower(name)), "name": name,
				"_businessunitid_value": buID, "_parentrootroleid_value": rootRole, "_parentroleid_value": parentRole,
				"ismanaged": true, "isinherited": 0, "organizationid": st.orgID, "componentstate": 0,
				"roleidunique": st.id("roleidunique", strings.ToLower(name)),
			}, created)
		}
	}

	// Users: the built-in ones every organization has, the fixture's, then an application user for each client
	// the fixture did not list itself.
	userIDs := map[string]string{}
	for _, name := range builtInUsers {
		id := st.id("systemuser", strings.ToLower(name))
		userIDs[strings.ToLower(name)] = id
		st.insert(setUsers, builtInUser(id, name, rootBU, st.orgID), created)
	}
	listedApps := map[string]bool{}
	for _, u := range dv.Users {
		if u.ApplicationID != "" {
			listedApps[strings.ToLower(u.ApplicationID)] = true
		}
	}
	addUser := func(u User) (string, error) {
		key := userKey(u)
		id := strings.ToLower(u.ID)
		if id == "" {
			id = st.id("systemuser", strings.ToLower(key))
		}
		app := strings.ToLower(u.ApplicationID)
		accessMode := 0
		if app != "" {
			accessMode = 4
		}
		if u.AccessMode != nil {
			accessMode = *u.AccessMode
		}
		// Application users and non-interactive people (access mode 4) need no license.
		licensed := app == "" && accessMode != 4
		if u.IsLicensed != nil {
			licensed = *u.IsLicensed
		}
		fullName := u.FullName
		if fullName == "" && app != "" {
			fullName = "# " + tc.appName(app)
		}
		objectID := strings.ToLower(u.ObjectID)
		if objectID == "" && app != "" {
			objectID = tc.objectID(app)
		} else if objectID == "" {
			objectID = deterministicID(tc.tenant.ID, "user-object", strings.ToLower(key))
		}
		domainName := u.DomainName
		if domainName == "" && app != "" {
			domainName = app + "@" + tc.tenant.Domain
		}
		email := u.InternalEmailAddress
		if email == "" {
			email = domainName
		}
		buID := rootBU
		if u.BusinessUnit != "" {
			buID = buIDs[strings.ToLower(u.BusinessUnit)]
		}
		createdOn := created
		if u.Created != "" {
			var err error
			if createdOn, err = parseFixtureTime(u.Created, tc.now); err != nil {
				return "", fmt.Errorf("user %q: %w", key, err)
			}
		}
		first, last := splitName(fullName)
		var appValue any
		if app != "" {
			appValue = app
		}
		st.insert(setUsers, row{
			"systemuserid": id, "fullname": fullName, "firstname": first, "lastname": last,
			"domainname": nullable(domainName), "internalemailaddress": nullable(email), "windowsliveid": nullable(u.DomainName),
			"applicationid": appValue, "azureactivedirectoryobjectid": objectID, "isdisabled": u.IsDisabled,
			"islicensed": licensed, "accessmode": accessMode, "_businessunitid_value": buID,
			"issyncwithdirectory": app == "", "deletedstate": u.DeletedState, "ownerid": id, "organizationid": st.orgID,
			"setupuser": false, "isintegrationuser": false, "userlicensetype": map[bool]int{true: 6, false: -1}[licensed],
			"azurestate": 0, "invitestatuscode": 4,
		}, createdOn)
		for _, name := range u.Roles {
			r := st.roleInBusinessUnit(name, buID)
			if r == nil {
				return "", fmt.Errorf("user %q: role %q has no copy in its business unit", key, name)
			}
			st.link(navUserRoles, id, r["roleid"].(string))
		}
		userIDs[strings.ToLower(key)] = id
		return id, nil
	}
	for _, u := range dv.Users {
		if _, err := addUser(u); err != nil {
			return nil, err
		}
	}
	var defaultOwner any
	for i, c := range tc.clients {
		var id string
		if listedApps[strings.ToLower(c.ClientID)] {
			id = st.userByApp(strings.ToLower(c.ClientID))
		} else {
			u := User{Key: "client:" + strings.ToLower(c.ClientID), FullName: "# " + c.Name, ApplicationID: c.ClientID}
			if st.roleInBusinessUnit("System Administrator", rootBU) != nil {
				u.Roles = []string{"System Administrator"}
			}
			var err error
			if id, err = addUser(u); err != nil {
				return nil, err
			}
		}
		if i == 0 && id != "" {
			defaultOwner = id
		}
	}
	if err := st.addTeams(tc, dv, domain, buIDs, userIDs, created); err != nil {
		return nil, err
	}
	owner := func(key string) any {
		if key == "" {
			return defaultOwner
		}
		return userIDs[strings.ToLower(key)]
	}
	at := func(s string) (string, error) {
		if s == "" {
			return formatTime(created), nil
		}
		t, err := parseFixtureTime(s, tc.now)
		return formatTime(t), err
	}

	publisherIDs := map[string]string{}
	for _, p := range append([]Publisher{defaultPublisher(domain)}, dv.Publishers...) {
		id := st.id("publisher", strings.ToLower(p.UniqueName))
		publisherIDs[strings.ToLower(p.UniqueName)] = id
		friendly := p.FriendlyName
		if friendly == "" {
			friendly = p.UniqueName
		}
		st.insert(setPublishers, row{
			"publisherid": id, "uniquename": p.UniqueName, "friendlyname": friendly, "customizationprefix": p.Prefix,
		}, created)
	}
	for _, s := range dv.Solutions {
		installed, err := at(s.InstalledOn)
		if err != nil {
			return nil, fmt.Errorf("solution %q: %w", s.UniqueName, err)
		}
		friendly := s.FriendlyName
		if friendly == "" {
			friendly = s.UniqueName
		}
		st.insert(setSolutions, row{
			"solutionid": st.id("solution", strings.ToLower(s.UniqueName)), "uniquename": s.UniqueName,
			"friendlyname": friendly, "version": s.Version, "ismanaged": s.IsManaged, "installedon": installed, "isvisible": true,
			"_publisherid_value": publisherIDs[strings.ToLower(cmp.Or(s.Publisher, defaultPublisher(domain).UniqueName))],
		}, created)
	}
	if w := dv.Work365; w != nil && w.ServiceUser != nil {
		var lookup any
		if *w.ServiceUser != "" {
			lookup = userIDs[strings.ToLower(*w.ServiceUser)]
		}
		s := st.schemas[st.settingsSet]
		r := row{
			s.key: st.id("work365-settings"), s.primaryName: "Work 365 Settings", st.settingsLookup.column: lookup,
			"statecode": 0, "statuscode": 1,
		}
		if w.ModifiedBy != "" {
			r[colModifiedBy] = userIDs[strings.ToLower(w.ModifiedBy)]
		}
		modified := created
		if w.Modified != "" {
			var err error
			if modified, err = parseFixtureTime(w.Modified, tc.now); err != nil {
				return nil, fmt.Errorf("work365.modified: %w", err)
			}
		}
		createdOn := created
		if modified.Before(createdOn) {
			createdOn = modified // a row is not changed before it exists
		}
		st.insert(st.settingsSet, r, createdOn)
		r["modifiedon"] = formatTime(modified)
	}
	// The messages the emulator implements, and Work 365's action where it exists, so that a client can look an
	// action up before calling it. Standard messages have the same ID in every organization, as in Dataverse.
	for _, name := range standardMessages {
		st.insert(setSdkMessages, row{"sdkmessageid": deterministicID("sdkmessage", strings.ToLower(name)), "name": name}, created)
	}
	if st.clearCacheAct != "" {
		st.insert(setSdkMessages, row{"sdkmessageid": st.id("sdkmessage", strings.ToLower(st.clearCacheAct)), "name": st.clearCacheAct}, created)
	}
	workflowIDs := map[string]string{}
	for i, w := range dv.Workflows {
		id := st.id("workflow", fmt.Sprint(i), w.Name)
		workflowIDs[strings.ToLower(w.Name)] = id
		typ := w.Type
		if typ == 0 {
			typ = 1
		}
		st.insert(setWorkflows, row{
			"workflowid": id, "name": w.Name, "category": w.Category, "statecode": w.StateCode,
			"statuscode": w.StateCode + 1, "type": typ, "primaryentity": "none", "_ownerid_value": owner(w.Owner),
		}, created)
	}
	for i, a := range dv.AsyncOperations {
		createdOn, err := parseFixtureTime(a.Created, tc.now)
		if err != nil {
			return nil, fmt.Errorf("async operation %q: %w", a.Name, err)
		}
		var completed any
		if a.Completed != "" {
			c, err := at(a.Completed)
			if err != nil {
				return nil, fmt.Errorf("async operation %q: %w", a.Name, err)
			}
			completed = c
		} else if a.StateCode == 3 {
			completed = formatTime(createdOn.Add(time.Minute))
		}
		opType := a.OperationType
		if opType == 0 {
			opType = 10
		}
		var activation, errorCode any
		if id, ok := workflowIDs[strings.ToLower(a.Name)]; ok {
			activation = id
		}
		if a.ErrorCode != 0 {
			errorCode = a.ErrorCode
		}
		st.insert(setAsyncOps, row{
			"asyncoperationid": st.id("asyncoperation", fmt.Sprint(i), a.Name), "name": a.Name, "operationtype": opType,
			"statecode": a.StateCode, "statuscode": a.StatusCode, "message": nullable(a.Message),
			"friendlymessage": nullable(a.FriendlyMessage), "errorcode": errorCode, "completedon": completed,
			"_ownerid_value": owner(a.Owner), "_workflowactivationid_value": activation,
		}, createdOn)
	}
	for i, c := range dv.ConnectionReferences {
		display := c.DisplayName
		if display == "" {
			display = c.LogicalName
		}
		st.insert(setConnectionRefs, row{
			"connectionreferenceid":          st.id("connectionreference", fmt.Sprint(i), c.LogicalName),
			"connectionreferencelogicalname": c.LogicalName, "connectionreferencedisplayname": display,
			"connectorid": nullable(c.ConnectorID), "connectionid": nullable(c.ConnectionID), "statecode": c.StateCode,
			"statuscode": c.StateCode + 1, "_ownerid_value": owner(c.Owner),
		}, created)
	}
	for i, t := range dv.Templates {
		st.insert(setTemplates, row{
			"templateid": st.id("template", fmt.Sprint(i), t.Title), "title": t.Title,
			"templatetypecode": nullable(t.TemplateTypeCode), "ispersonal": t.IsPersonal, "languagecode": 1033,
			"_ownerid_value": owner(t.Owner),
		}, created)
	}
	return st, nil
}

func (tc tenantContext) appName(appID string) string {
	if n, ok := tc.spNames[strings.ToLower(appID)]; ok {
		return n
	}
	return appID
}

// userByApp finds the non-deleted user of an application ID; callers hold a lock (or are building the store).
func (st *store) userByApp(appID string) string {
	for id, r := range st.tables[setUsers] {
		if r["applicationid"] == appID && r["deletedstate"] == 0 {
			return id
		}
	}
	return ""
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// splitName mimics how Dataverse fills firstname/lastname for "# App" style names.
func splitName(full string) (any, any) {
	first, last, ok := strings.Cut(full, " ")
	if !ok {
		return nil, nullable(full)
	}
	return first, last
}

// builtInUsers are the system-managed users of every organization
// (learn.microsoft.com/power-platform/admin/system-application-users).
var builtInUsers = []string{"SYSTEM", "INTEGRATION"}

// isBuiltInUserKey reports whether a fixture user key names a built-in user.
func isBuiltInUserKey(key string) bool {
	for _, name := range builtInUsers {
		if strings.EqualFold(key, name) {
			return true
		}
	}
	return false
}

// builtInUser is a system-managed user: disabled, in the root business unit, with no application, no Entra
// object, no UPN and no license. Access mode 0 is our choice (Microsoft does not document it).
func builtInUser(id, name, rootBU, orgID string) row {
	first, last := splitName(name)
	return row{
		"systemuserid": id, "fullname": name, "firstname": first, "lastname": last, "domainname": nil,
		"internalemailaddress": nil, "windowsliveid": nil, "applicationid": nil, "azureactivedirectoryobjectid": nil,
		"isdisabled": true, "islicensed": false, "accessmode": 0, "_businessunitid_value": rootBU,
		"issyncwithdirectory": false, "deletedstate": 0, "ownerid": id, "organizationid": orgID, "setupuser": false,
		"isintegrationuser": false, "userlicensetype": -1, "azurestate": 0, "invitestatuscode": 4,
	}
}

// standardMessages are the Dataverse messages (sdkmessages rows) the emulator implements.
var standardMessages = []string{"Associate", "Create", "Delete", "Disassociate", "Retrieve", "RetrieveMultiple",
	"RetrieveUserPrivileges", "Update", "Upsert", "WhoAmI"}
