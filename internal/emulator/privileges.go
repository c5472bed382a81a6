package emulator

import (
	"net/http"
	"sort"
	"strings"
)

// Privileges the emulator grants: every Read privilege of the tables it serves, and with full access the
// privileges its writes need. Real Dataverse derives them from the caller's security roles; the emulator
// derives them from the environment's access setting (documented in docs/emulator.md).
var (
	readPrivileges = []string{
		"prvReadUser", "prvReadRole", "prvReadBusinessUnit", "prvReadTeam", "prvReadSolution", "prvReadPublisher", "prvReadAsyncOperation",
		"prvReadWorkflow", "prvReadConnectionReference", "prvReadTemplate", "prvReadSdkMessage",
	}
	writePrivileges = []string{"prvCreateUser", "prvWriteUser", "prvDeleteUser", "prvAssignRole"}
)

// privilegesOf lists the caller's privileges in an environment, with the settings table's own.
func privilegesOf(env *environment, access string) []string {
	out := append([]string{}, readPrivileges...)
	table := settingsEntity(env)
	if table != "" {
		out = append(out, "prvRead"+table)
	}
	if access == "full" {
		out = append(out, writePrivileges...)
		if table != "" {
			out = append(out, "prvWrite"+table)
		}
	}
	sort.Strings(out)
	return out
}

// settingsEntity is the logical name of the Work 365 settings table.
func settingsEntity(env *environment) string {
	if env.store == nil || env.store.settingsSet == "" {
		return ""
	}
	return env.store.schemas[env.store.settingsSet].logical
}

// retrieveUserPrivileges answers the RetrieveUserPrivileges function bound to a systemuser, as the Web API
// does: {"RolePrivileges":[{"Depth","PrivilegeId","BusinessUnitId","PrivilegeName"}]}.
func (s *Server) retrieveUserPrivileges(req *dvRequest, access string) *response {
	id := req.segs[0].key
	if !strings.EqualFold(id, asString(req.caller["systemuserid"])) {
		if req.st.tables[setUsers][id] == nil {
			return recordNotFound("systemuser", id)
		}
	}
	var privs []map[string]any
	for _, name := range privilegesOf(req.env, access) {
		privs = append(privs, map[string]any{
			"Depth": "Global", "PrivilegeName": name, "BusinessUnitId": req.caller["_businessunitid_value"],
			"PrivilegeId": deterministicID(req.env.id, "privilege", strings.ToLower(name)),
		})
	}
	return dvJSON(http.StatusOK, map[string]any{
		"@odata.context": req.base + "$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse",
		"RolePrivileges": privs,
	})
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}
