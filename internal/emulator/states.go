package emulator

import (
	"fmt"
	"net/http"
	"strings"
)

// Runtime states of an environment (BAP properties.states.runtime.id; learn.microsoft.com/power-platform/admin/admin-mode).
const (
	stateEnabled   = "Enabled"
	stateAdminMode = "AdminMode"
	stateDisabled  = "Disabled"
	stateWarning   = "Warning"
)

var validStates = map[string]bool{"": true, stateEnabled: true, stateAdminMode: true, stateDisabled: true, stateWarning: true}

// adminModeRoles may use an organization in administration mode (learn.microsoft.com/power-platform/admin/admin-mode).
var adminModeRoles = []string{"System Administrator", "System Customizer"}

// stateRefusal is the answer of an organization whose runtime state refuses the caller, or nil: a disabled
// organization refuses everyone, one in administration mode everyone without System Administrator or System
// Customizer (held directly or through a team). Warning and Enabled serve normally.
func (s *Server) stateRefusal(env *environment, caller row) *response {
	switch env.fixture.State {
	case stateDisabled:
		// Undocumented: our choice. A disabled environment stays so until an administrator enables it, so the
		// answer is a 403 that invites no retry (not a 429 or 5xx).
		return dvError(http.StatusForbidden, ErrCodeOrganizationDisabled, fmt.Sprintf(
			"The organization '%s' is disabled (environment state Disabled). An administrator must enable the environment in the Power Platform admin center before its Web API can be used.", env.domain))
	case stateAdminMode:
		st := env.store
		st.mu.RLock()
		roles := st.rolesOf(asString(caller["systemuserid"]))
		st.mu.RUnlock()
		for _, held := range roles {
			for _, allowed := range adminModeRoles {
				if strings.EqualFold(held, allowed) {
					return nil
				}
			}
		}
		return dvError(http.StatusForbidden, ErrCodeAdminMode, fmt.Sprintf(
			"The organization '%s' is in administration mode: only users with the System Administrator or System Customizer security role can use it. The user with SystemUserId=%s holds neither.", env.domain, caller["systemuserid"]))
	}
	return nil
}
