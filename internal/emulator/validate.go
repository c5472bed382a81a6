package emulator

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

var (
	guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// customNamePattern is a custom table's or column's logical name: lowercase, with its publisher prefix.
	customNamePattern = regexp.MustCompile(`^[a-z][a-z0-9]*_[a-z0-9_]+$`)
	identPattern      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	prefixPattern     = regexp.MustCompile(`^[a-z][a-z0-9]{1,7}$`)
)

func isGUID(s string) bool { return guidPattern.MatchString(s) }

var defaultRoles = []string{"System Administrator", "Basic User"}

// userKey is how fixture entries refer to a user within its environment.
func userKey(u User) string {
	for _, k := range []string{u.Key, u.DomainName, u.FullName, u.ApplicationID} {
		if k != "" {
			return k
		}
	}
	return ""
}

// envDomain is the Dataverse domain name, derived from the display name when the fixture gives none.
func envDomain(e Environment) string {
	if e.Dataverse != nil && e.Dataverse.Domain != "" {
		return strings.ToLower(e.Dataverse.Domain)
	}
	var b strings.Builder
	for _, r := range strings.ToLower(e.Name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "org"
	}
	return b.String()
}

func fixtureBusinessUnits(dv *Dataverse, domain string) []BusinessUnit {
	if len(dv.BusinessUnits) > 0 {
		return dv.BusinessUnits
	}
	return []BusinessUnit{{Name: domain}}
}

func fixtureRoles(dv *Dataverse) []string {
	if len(dv.Roles) > 0 {
		return dv.Roles
	}
	return defaultRoles
}

var (
	validAccess    = map[string]bool{"": true, "full": true, "read": true, "none": true}
	validBodyKinds = map[string]bool{"": true, "json": true, "html": true, "truncated": true, "not_json": true, "wrong_type": true, "oversize": true, "empty": true}
	validNextLinks = map[string]bool{"": true, "loop": true, "foreign": true}
)

// validate checks identifiers and every cross reference, naming the environment, the key and the YAML line.
func (f *Fixture) validate(at locator) error {
	if at == nil {
		at = func(...any) int { return 0 }
	}
	if f.Tenant.ID == "" && f.Tenant.Name == "" {
		return fmt.Errorf("tenant: id or name is required%s", lineSuffix(at("tenant")))
	}
	if f.Tenant.ID != "" && !isGUID(f.Tenant.ID) {
		return fmt.Errorf("tenant: id %q is not a GUID%s", f.Tenant.ID, lineSuffix(at("tenant", "id")))
	}
	clientIDs := map[string]bool{}
	for i, c := range f.Clients {
		if !isGUID(c.ClientID) {
			return fmt.Errorf("client %q: client_id %q is not a GUID%s", c.Name, c.ClientID, lineSuffix(at("clients", i)))
		}
		if clientIDs[strings.ToLower(c.ClientID)] {
			return fmt.Errorf("client %q: duplicate client_id %s%s", c.Name, c.ClientID, lineSuffix(at("clients", i)))
		}
		clientIDs[strings.ToLower(c.ClientID)] = true
		for j, fi := range c.FederatedIssuers {
			if fi.Issuer == "" || fi.Subject == "" || (fi.Key == "" && len(fi.KeyPEM) == 0) {
				return fmt.Errorf("client %q: federated issuer needs issuer, subject and key%s", c.Name, lineSuffix(at("clients", i, "federated_issuers", j)))
			}
		}
	}
	for i, sp := range f.ServicePrincipals {
		if !isGUID(sp.AppID) {
			return fmt.Errorf("service principal %q: app_id %q is not a GUID%s", sp.Name, sp.AppID, lineSuffix(at("service_principals", i)))
		}
	}
	if err := validateFaults(f.BAP, "bap", func(p ...any) int { return at(append([]any{"bap", "faults"}, p...)...) }); err != nil {
		return err
	}
	names, ids, domains := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, e := range f.Environments {
		envAt := func(p ...any) int { return at(append([]any{"environments", i}, p...)...) }
		if e.Name == "" {
			return fmt.Errorf("environments[%d]: name is required%s", i, lineSuffix(envAt()))
		}
		if names[strings.ToLower(e.Name)] {
			return fmt.Errorf("environment %q: duplicate name%s", e.Name, lineSuffix(envAt("name")))
		}
		names[strings.ToLower(e.Name)] = true
		if e.ID != "" {
			if !isGUID(e.ID) {
				return fmt.Errorf("environment %q: id %q is not a GUID%s", e.Name, e.ID, lineSuffix(envAt("id")))
			}
			if ids[strings.ToLower(e.ID)] {
				return fmt.Errorf("environment %q: duplicate id %s%s", e.Name, e.ID, lineSuffix(envAt("id")))
			}
			ids[strings.ToLower(e.ID)] = true
		}
		if !validStates[e.State] {
			return fmt.Errorf("environment %q: state %q is not Enabled, AdminMode, Disabled or Warning%s", e.Name, e.State, lineSuffix(envAt("state")))
		}
		if !validAccess[e.Access] {
			return fmt.Errorf("environment %q: access %q is not full, read or none%s", e.Name, e.Access, lineSuffix(envAt("access")))
		}
		if err := validateFaults(e.Faults, "environment "+fmt.Sprintf("%q", e.Name), func(p ...any) int { return envAt(append([]any{"faults"}, p...)...) }); err != nil {
			return err
		}
		if e.Dataverse == nil {
			continue
		}
		d := envDomain(e)
		if domains[d] {
			return fmt.Errorf("environment %q: duplicate Dataverse domain %q%s", e.Name, d, lineSuffix(envAt("dataverse")))
		}
		domains[d] = true
		if err := validateDataverse(e, func(p ...any) int { return envAt(append([]any{"dataverse"}, p...)...) }); err != nil {
			return fmt.Errorf("environment %q: %w", e.Name, err)
		}
	}
	return nil
}

func validateFaults(f Faults, owner string, at locator) error {
	for i, r := range f.Rules {
		where := lineSuffix(at("rules", i))
		switch {
		case !validBodyKinds[r.Body]:
			return fmt.Errorf("%s: fault rule %d: unknown body %q%s", owner, i, r.Body, where)
		case !validNextLinks[r.NextLink]:
			return fmt.Errorf("%s: fault rule %d: next_link %q is not loop or foreign%s", owner, i, r.NextLink, where)
		case r.Status != 0 && (r.Status < 100 || r.Status > 599):
			return fmt.Errorf("%s: fault rule %d: status %d is not an HTTP status%s", owner, i, r.Status, where)
		case r.Count < 0 || r.Every < 0 || r.RetryAfter < 0:
			return fmt.Errorf("%s: fault rule %d: count, every and retry_after cannot be negative%s", owner, i, where)
		case r.Count > 0 && r.Every > 0:
			return fmt.Errorf("%s: fault rule %d: count and every are exclusive%s", owner, i, where)
		case r.Applied && r.Status == 0 && !r.Reset:
			return fmt.Errorf("%s: fault rule %d: applied needs a status or reset (the answer that replaces the real one)%s", owner, i, where)
		}
	}
	return nil
}

func validateDataverse(e Environment, at locator) error {
	dv := e.Dataverse
	domain := envDomain(e)
	bus := map[string]bool{}
	for i, bu := range fixtureBusinessUnits(dv, domain) {
		if bu.Name == "" {
			return fmt.Errorf("business_units[%d]: name is required%s", i, lineSuffix(at("business_units", i)))
		}
		if bus[strings.ToLower(bu.Name)] {
			return fmt.Errorf("duplicate business unit %q%s", bu.Name, lineSuffix(at("business_units", i)))
		}
		if i == 0 && bu.Parent != "" {
			return fmt.Errorf("business unit %q: the first business unit is the root and has no parent%s", bu.Name, lineSuffix(at("business_units", i)))
		}
		if i > 0 {
			parent := bu.Parent
			if parent == "" {
				return fmt.Errorf("business unit %q: parent is required (only the first is the root)%s", bu.Name, lineSuffix(at("business_units", i)))
			}
			if !bus[strings.ToLower(parent)] {
				return fmt.Errorf("business unit %q: unknown parent %q (parents must come first)%s", bu.Name, parent, lineSuffix(at("business_units", i, "parent")))
			}
		}
		bus[strings.ToLower(bu.Name)] = true
	}
	roles := map[string]bool{}
	for _, r := range fixtureRoles(dv) {
		roles[strings.ToLower(r)] = true
	}
	users := map[string]bool{}
	for _, name := range builtInUsers {
		users[strings.ToLower(name)] = true
	}
	for i, u := range dv.Users {
		k := userKey(u)
		if k == "" {
			return fmt.Errorf("users[%d]: needs a key, domainname, fullname or applicationid%s", i, lineSuffix(at("users", i)))
		}
		if isBuiltInUserKey(k) {
			return fmt.Errorf("user %q: the key is reserved for the built-in user every organization has%s", k, lineSuffix(at("users", i)))
		}
		if u.ApplicationID == "" && u.AccessMode != nil && *u.AccessMode == 4 && u.DomainName == "" {
			return fmt.Errorf("user %q: a non-interactive person (accessmode 4 without applicationid) is an Entra user account and needs a domainname (UPN)%s", k, lineSuffix(at("users", i)))
		}
		if users[strings.ToLower(k)] {
			return fmt.Errorf("duplicate user key %q%s", k, lineSuffix(at("users", i)))
		}
		users[strings.ToLower(k)] = true
		if u.ID != "" && !isGUID(u.ID) {
			return fmt.Errorf("user %q: id %q is not a GUID%s", k, u.ID, lineSuffix(at("users", i, "id")))
		}
		if u.ApplicationID != "" && !isGUID(u.ApplicationID) {
			return fmt.Errorf("user %q: applicationid %q is not a GUID%s", k, u.ApplicationID, lineSuffix(at("users", i, "applicationid")))
		}
		if u.DeletedState != 0 && u.DeletedState != 1 {
			return fmt.Errorf("user %q: deletedstate must be 0 or 1%s", k, lineSuffix(at("users", i, "deletedstate")))
		}
		if u.BusinessUnit != "" && !bus[strings.ToLower(u.BusinessUnit)] {
			return fmt.Errorf("user %q: unknown business unit %q%s", k, u.BusinessUnit, lineSuffix(at("users", i, "business_unit")))
		}
		for j, r := range u.Roles {
			if !roles[strings.ToLower(r)] {
				return fmt.Errorf("user %q: unknown role %q (not in the environment's roles list)%s", k, r, lineSuffix(at("users", i, "roles", j)))
			}
		}
		if _, err := parseFixtureTime(u.Created, time.Time{}); err != nil {
			return fmt.Errorf("user %q: %w%s", k, err, lineSuffix(at("users", i, "created")))
		}
	}
	owner := func(key string, at func() int) error {
		if key != "" && !users[strings.ToLower(key)] {
			return fmt.Errorf("unknown user key %q%s", key, lineSuffix(at()))
		}
		return nil
	}
	if w := dv.Work365; w != nil {
		if err := validateWork365(w, at); err != nil {
			return err
		}
		if w.ServiceUser != nil {
			if err := owner(*w.ServiceUser, func() int { return at("work365", "service_user") }); err != nil {
				return fmt.Errorf("work365.service_user: %w", err)
			}
		}
		if (w.ModifiedBy != "" || w.Modified != "") && w.ServiceUser == nil {
			return fmt.Errorf("work365.modified_by and modified describe the settings row, which needs service_user (null for a row with an empty lookup)%s", lineSuffix(at("work365")))
		}
		if err := owner(w.ModifiedBy, func() int { return at("work365", "modified_by") }); err != nil {
			return fmt.Errorf("work365.modified_by: %w", err)
		}
		if _, err := parseFixtureTime(w.Modified, time.Time{}); err != nil {
			return fmt.Errorf("work365.modified: %w%s", err, lineSuffix(at("work365", "modified")))
		}
	}
	if err := validateTeams(dv, domain, bus, roles, users, at); err != nil {
		return err
	}
	if err := validateCustomTables(dv, at); err != nil {
		return err
	}
	publishers := map[string]bool{strings.ToLower(defaultPublisher(domain).UniqueName): true}
	for i, p := range dv.Publishers {
		where := lineSuffix(at("publishers", i))
		switch {
		case !identPattern.MatchString(p.UniqueName):
			return fmt.Errorf("publishers[%d]: uniquename %q is not a valid unique name%s", i, p.UniqueName, where)
		case publishers[strings.ToLower(p.UniqueName)]:
			return fmt.Errorf("publisher %q: duplicate uniquename (the default publisher is %s)%s", p.UniqueName, defaultPublisher(domain).UniqueName, where)
		case !prefixPattern.MatchString(p.Prefix) || strings.HasPrefix(p.Prefix, "mscrm"):
			return fmt.Errorf("publisher %q: prefix %q is not a customization prefix (2 to 8 lowercase letters and digits, starting with a letter, not mscrm)%s", p.UniqueName, p.Prefix, lineSuffix(at("publishers", i, "prefix")))
		}
		publishers[strings.ToLower(p.UniqueName)] = true
	}
	for i, s := range dv.Solutions {
		if s.UniqueName == "" {
			return fmt.Errorf("solutions[%d]: uniquename is required%s", i, lineSuffix(at("solutions", i)))
		}
		if s.Publisher != "" && !publishers[strings.ToLower(s.Publisher)] {
			return fmt.Errorf("solution %q: unknown publisher %q%s", s.UniqueName, s.Publisher, lineSuffix(at("solutions", i, "publisher")))
		}
		if _, err := parseFixtureTime(s.InstalledOn, time.Time{}); err != nil {
			return fmt.Errorf("solution %q: %w%s", s.UniqueName, err, lineSuffix(at("solutions", i, "installedon")))
		}
	}
	for i, a := range dv.AsyncOperations {
		if err := owner(a.Owner, func() int { return at("async_operations", i, "owner") }); err != nil {
			return fmt.Errorf("async operation %q: %w", a.Name, err)
		}
		for _, ts := range []string{a.Created, a.Completed} {
			if _, err := parseFixtureTime(ts, time.Time{}); err != nil {
				return fmt.Errorf("async operation %q: %w%s", a.Name, err, lineSuffix(at("async_operations", i)))
			}
		}
	}
	for i, w := range dv.Workflows {
		if err := owner(w.Owner, func() int { return at("workflows", i, "owner") }); err != nil {
			return fmt.Errorf("workflow %q: %w", w.Name, err)
		}
	}
	for i, c := range dv.ConnectionReferences {
		if err := owner(c.Owner, func() int { return at("connection_references", i, "owner") }); err != nil {
			return fmt.Errorf("connection reference %q: %w", c.LogicalName, err)
		}
	}
	for i, t := range dv.Templates {
		if err := owner(t.Owner, func() int { return at("templates", i, "owner") }); err != nil {
			return fmt.Errorf("template %q: %w", t.Title, err)
		}
	}
	return nil
}

// validateWork365 checks the names of the settings storage: Dataverse's naming rules for custom tables and
// columns, and no clash with the tables every environment has.
func validateWork365(w *Work365, at locator) error {
	n := w.names()
	switch {
	case !customNamePattern.MatchString(n.logical):
		return fmt.Errorf("work365.settings_table %q is not a custom table's logical name (lowercase, with its publisher prefix, e.g. %s)%s", n.logical, DefaultSettingsTable, lineSuffix(at("work365", "settings_table")))
	case isFixedTable(n.logical, n.set):
		return fmt.Errorf("work365.settings_table %q (entity set %q) is the name of a built-in table%s", n.logical, n.set, lineSuffix(at("work365")))
	case !identPattern.MatchString(n.set):
		return fmt.Errorf("work365.settings_entity_set %q is not a valid entity set name%s", n.set, lineSuffix(at("work365", "settings_entity_set")))
	case !customNamePattern.MatchString(n.lookup):
		return fmt.Errorf("work365.service_user_lookup %q is not a custom column's logical name (lowercase, with its publisher prefix, e.g. %s)%s", n.lookup, DefaultServiceUserLookup, lineSuffix(at("work365", "service_user_lookup")))
	case n.nav == "":
		return fmt.Errorf("work365.service_user_navigation is required with service_user_lookup %q: a navigation property's name cannot be derived from the lookup's%s", n.lookup, lineSuffix(at("work365")))
	case !identPattern.MatchString(n.nav):
		return fmt.Errorf("work365.service_user_navigation %q is not a valid property name%s", n.nav, lineSuffix(at("work365", "service_user_navigation")))
	}
	return nil
}

// isFixedTable reports whether a logical name or entity set is taken by a table every environment has.
func isFixedTable(logical, set string) bool {
	for _, s := range fixedSchemas {
		if strings.EqualFold(s.logical, logical) || strings.EqualFold(s.set, set) || strings.EqualFold(s.set, logical) {
			return true
		}
	}
	return false
}

// validateCustomTables checks the custom tables' names: custom names, unique, apart from the built-in tables and
// from Work 365's settings table.
func validateCustomTables(dv *Dataverse, at locator) error {
	logicals, sets := map[string]bool{}, map[string]bool{}
	if dv.Work365 != nil {
		n := dv.Work365.names()
		logicals[n.logical], sets[strings.ToLower(n.set)] = true, true
	}
	for i, c := range dv.CustomTables {
		logical, set, schemaName := c.names()
		where := lineSuffix(at("custom_tables", i))
		switch {
		case !customNamePattern.MatchString(logical):
			return fmt.Errorf("custom_tables[%d]: logical_name %q is not a custom table's logical name (lowercase, with its publisher prefix, e.g. w365_invoice)%s", i, logical, where)
		case !identPattern.MatchString(set) || !identPattern.MatchString(schemaName):
			return fmt.Errorf("custom table %q: entity_set %q or schema_name %q is not a valid name%s", logical, set, schemaName, where)
		case isFixedTable(logical, set):
			return fmt.Errorf("custom table %q (entity set %q) is the name of a built-in table%s", logical, set, where)
		case logicals[logical] || sets[strings.ToLower(set)]:
			return fmt.Errorf("custom table %q: duplicate logical name or entity set %q (the Work 365 settings table counts)%s", logical, set, where)
		}
		logicals[logical], sets[strings.ToLower(set)] = true, true
	}
	return nil
}

// validateTeams checks the teams: types, business units, roles (none on access teams) and members.
func validateTeams(dv *Dataverse, domain string, bus, roles, users map[string]bool, at locator) error {
	seen := map[string]bool{}
	defaults := map[string]bool{}
	root := fixtureBusinessUnits(dv, domain)[0].Name
	for i, t := range dv.Teams {
		where := lineSuffix(at("teams", i))
		bu := t.BusinessUnit
		if bu == "" {
			bu = root
		}
		if !bus[strings.ToLower(bu)] {
			return fmt.Errorf("team %q: unknown business unit %q%s", t.Name, t.BusinessUnit, lineSuffix(at("teams", i, "business_unit")))
		}
		name := t.Name
		switch {
		case t.Default && (t.Type != 0 || len(t.Members) > 0):
			return fmt.Errorf("teams[%d]: a business unit's default team is an owner team whose members are the unit's users: it takes no type or members%s", i, where)
		case t.Default && name != "" && !strings.EqualFold(name, bu):
			return fmt.Errorf("teams[%d]: the default team of business unit %q is named after it, not %q%s", i, bu, name, where)
		case t.Default && defaults[strings.ToLower(bu)]:
			return fmt.Errorf("teams[%d]: the default team of business unit %q is listed twice%s", i, bu, where)
		case !t.Default && name == "":
			return fmt.Errorf("teams[%d]: name is required%s", i, where)
		case t.Type < 0 || t.Type > 3:
			return fmt.Errorf("team %q: type %d is not 0 (owner), 1 (access), 2 (Entra security group) or 3 (Entra Office group)%s", name, t.Type, lineSuffix(at("teams", i, "type")))
		case t.Type == 1 && len(t.Roles) > 0:
			return fmt.Errorf("team %q: an access team cannot hold security roles%s", name, lineSuffix(at("teams", i, "roles")))
		case t.ObjectID != "" && (t.Type < 2 || !isGUID(t.ObjectID)):
			return fmt.Errorf("team %q: azureactivedirectoryobjectid is a GUID and only for Entra group teams (type 2 or 3)%s", name, lineSuffix(at("teams", i, "azureactivedirectoryobjectid")))
		}
		if t.Default {
			defaults[strings.ToLower(bu)] = true
		} else {
			key := strings.ToLower(bu) + "\x00" + strings.ToLower(name)
			if seen[key] || strings.EqualFold(name, bu) {
				return fmt.Errorf("team %q: duplicate team name in business unit %q (its default team is named after it)%s", name, bu, where)
			}
			seen[key] = true
		}
		for j, r := range t.Roles {
			if !roles[strings.ToLower(r)] {
				return fmt.Errorf("team %q: unknown role %q (not in the environment's roles list)%s", name, r, lineSuffix(at("teams", i, "roles", j)))
			}
		}
		for j, m := range t.Members {
			if !users[strings.ToLower(m)] {
				return fmt.Errorf("team %q: unknown user key %q%s", name, m, lineSuffix(at("teams", i, "members", j)))
			}
		}
	}
	return nil
}
