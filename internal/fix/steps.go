package fix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/work365/audit/internal/api"
)

// Roles that audit fix never assigns, whatever a policy asks: they would give Work 365's service identity (or
// anyone) full control of the environment, the opposite of what the guide asks.
var forbiddenRoles = []string{"System Administrator", "System Customizer"}

// RoleNames are the Work 365 roles: the only ones audit fix assigns.
type RoleNames struct {
	Service string // Work 365 Service
	Portal  string // Work 365 Portal Service
}

// allowed reports whether audit fix may assign a role of that name, and why not.
func (n RoleNames) allowed(role string) (bool, string) {
	for _, f := range forbiddenRoles {
		if strings.EqualFold(role, f) {
			return false, fmt.Sprintf("audit fix never assigns %q: it would give full control of the environment; assign it by hand if you really mean to", role)
		}
	}
	if (n.Service != "" && strings.EqualFold(role, n.Service)) || (n.Portal != "" && strings.EqualFold(role, n.Portal)) {
		return true, ""
	}
	return false, fmt.Sprintf("audit fix assigns only the Work 365 roles (%q and %q), not %q: assign it by hand if it is needed", n.Service, n.Portal, role)
}

// step applies one step: it reads the state, checks that the step still makes sense (its rule's precondition,
// and the invariant that Work 365 always runs as an enabled user holding Work 365 Service), skips what is
// already true, and writes what is not.
func (r *envRun) step(ctx context.Context, st Step) (status, reason string, err error) {
	p := st.Params
	switch st.Action {
	case ActCreateAppUser:
		live, deleted, err := appUsers(ctx, r.dv, appID(p))
		if err != nil {
			return "", "", err
		}
		if live != nil {
			return OutcomeAlready, fmt.Sprintf("the application user %q already exists", live.FullName), nil
		}
		if deleted != nil {
			return "", "", fmt.Errorf("a soft-deleted application user for App ID %s (%s) blocks creating a new one: it has to be purged first (a manual step of the plan)", appID(p), deleted.ID)
		}
		bu := str(p, "business_unit_id")
		if bu == "" {
			if bu, err = rootUnit(ctx, r.dv); err != nil {
				return "", "", err
			}
		}
		body := map[string]any{"applicationid": appID(p), "accessmode": 4, "isdisabled": false,
			"businessunitid@odata.bind": "/businessunits(" + bu + ")"}
		return wrote(r.write(ctx, st, writeCall{method: http.MethodPost, path: "systemusers", body: body,
			before: map[string]any{"application_user": nil}, after: map[string]any{"app_id": appID(p)},
			landed: func(ctx context.Context) (bool, error) {
				live, _, err := appUsers(ctx, r.dv, appID(p))
				return live != nil, err
			}}))

	case ActEnableUser:
		u, err := r.userOf(ctx, p)
		if err != nil {
			return "", "", err
		}
		if !u.IsDisabled {
			return OutcomeAlready, fmt.Sprintf("%q is enabled", u.FullName), nil
		}
		return wrote(r.write(ctx, st, writeCall{method: http.MethodPatch, path: "systemusers(" + u.ID + ")", body: map[string]any{"isdisabled": false},
			before: u.state(), after: map[string]any{"is_disabled": false},
			landed: func(ctx context.Context) (bool, error) {
				now, err := user(ctx, r.dv, u.ID)
				return now != nil && !now.IsDisabled, err
			}}))

	case ActAssignRole:
		if ok, why := r.a.opts.Roles.allowed(str(p, "role")); !ok {
			return "", "", errors.New(why)
		}
		u, err := r.userOf(ctx, p)
		if err != nil {
			return "", "", err
		}
		role, err := roleInUnit(ctx, r.dv, str(p, "role"), u.BusinessUnitID)
		if err != nil {
			return "", "", err
		}
		if role == nil {
			return "", "", fmt.Errorf("the role %q does not exist in the business unit of %q (%s): check that Work 365 and its security roles are installed completely; audit does not guess another role",
				str(p, "role"), u.FullName, u.BusinessUnitID)
		}
		if u.holds(role.ID) {
			return OutcomeAlready, fmt.Sprintf("%q already holds %q", u.FullName, role.Name), nil
		}
		if u.IsDisabled {
			// Dataverse refuses security roles to disabled users unless the organization allows it
			// (allowRoleAssignmentOnDisabledUsers): the user is enabled first, by its own step.
			return "", "", fmt.Errorf("%q is disabled, and Dataverse does not assign security roles to disabled users: enable it first (W365.APPUSER.3 plans that step; run audit fix without --rule, or with --rule W365.APPUSER.3 too)", u.FullName)
		}
		before := u.state()
		before["role_id"] = role.ID
		return wrote(r.write(ctx, st, writeCall{method: http.MethodPost, path: "systemusers(" + u.ID + ")/systemuserroles_association/$ref",
			body: map[string]any{"@odata.id": r.dv.Base() + "roles(" + role.ID + ")"}, before: before, after: map[string]any{"role_id": role.ID},
			landed: func(ctx context.Context) (bool, error) {
				now, err := user(ctx, r.dv, u.ID)
				return now != nil && now.holds(role.ID), err
			}}))

	case ActRemoveRole:
		u, err := user(ctx, r.dv, str(p, "user_id"))
		if err != nil {
			return "", "", err
		}
		roleID := str(p, "role_id")
		if u == nil || !u.holds(roleID) {
			return OutcomeAlready, fmt.Sprintf("the role %q is no longer held", str(p, "role")), nil
		}
		if why, err := r.removalRefused(ctx, st, u, roleID); err != nil || why != "" {
			return OutcomeNotApplied, why, err
		}
		before := u.state()
		before["role_id"] = roleID
		return wrote(r.write(ctx, st, writeCall{method: http.MethodDelete, path: "systemusers(" + u.ID + ")/systemuserroles_association(" + roleID + ")/$ref",
			before: before, after: map[string]any{"role_id": roleID, "held": false},
			landed: func(ctx context.Context) (bool, error) {
				now, err := user(ctx, r.dv, u.ID)
				return now == nil || !now.holds(roleID), err
			}}))

	case ActSetServiceUser:
		u, err := r.userOf(ctx, p)
		if err != nil {
			return "", "", err
		}
		schema := r.ep.Schema
		if schema == nil || schema.EntitySet == "" || schema.Navigation == "" {
			return "", "", fmt.Errorf("where this environment keeps Work 365's service user was not read: run audit scan to see why, then audit fix again")
		}
		cur, err := readSetting(ctx, r.dv, schema)
		if err != nil {
			return "", "", err
		}
		if cur == nil || cur.id == "" {
			return "", "", fmt.Errorf("Work 365 has no settings row in %s: open Work 365 → Admin Hub once so that it creates it, then run audit fix again", schema.EntitySet)
		}
		if strings.EqualFold(cur.userID, u.ID) {
			return OutcomeAlready, fmt.Sprintf("the service user is already %q", u.FullName), nil
		}
		// Work 365 must always run as an enabled user that holds Work 365 Service: never switch to one that does not.
		if why, err := r.unfitServiceUser(ctx, u); err != nil || why != "" {
			if err != nil {
				return "", "", err
			}
			return "", "", errors.New(why)
		}
		// The write binds through the lookup's navigation property (case-sensitive); reads use _<lookup>_value.
		return wrote(r.write(ctx, st, writeCall{method: http.MethodPatch, path: schema.EntitySet + "(" + cur.id + ")",
			body:   map[string]any{schema.Navigation + "@odata.bind": "/systemusers(" + u.ID + ")"},
			before: settingBefore(schema, cur), after: map[string]any{"user_id": u.ID},
			landed: func(ctx context.Context) (bool, error) {
				now, err := readSetting(ctx, r.dv, schema)
				return now != nil && strings.EqualFold(now.userID, u.ID), err
			}}))

	case ActClearCache:
		if !r.wrote {
			return OutcomeAlready, "nothing changed in this environment in this run, so the cache holds no stale service user", nil
		}
		name := r.a.opts.Settings.ClearCacheAction
		// Clearing a cache twice does no harm, but whether it happened cannot be read back: a lost answer stays
		// unknown, and the cache is cleared again by the next change.
		_, err := r.write(ctx, st, writeCall{method: http.MethodPost, path: name, body: map[string]any{}})
		if api.IsNotFound(err) {
			return OutcomeManual, fmt.Sprintf("the environment has no %s action: in Dynamics 365 for %q open Work 365 → Admin Hub → Administration → Clear Cache", name, r.ep.Name), nil
		}
		if err != nil {
			return "", "", err
		}
		return OutcomeApplied, "", nil
	}
	return "", "", fmt.Errorf("unknown action %q", st.Action)
}

// removalRefused says why a role must not be removed now, on the state read just before: Work 365 Service is
// never taken from the user Work 365 runs as, and W365.LEGACY.1's removal from people waits until the service
// user is an application user (the person may still be what Work 365 runs as, or become it again).
func (r *envRun) removalRefused(ctx context.Context, st Step, u *liveUser, roleID string) (string, error) {
	role := str(st.Params, "role")
	legacy := contains(st.Rules, "W365.LEGACY.1")
	if !legacy && !strings.EqualFold(role, r.a.opts.Roles.Service) {
		return "", nil
	}
	su, err := r.serviceUser(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case su == nil:
		if legacy {
			return "the Work 365 service-user setting is not set (or not readable) now, so the person may still be needed: left as it is", nil
		}
	case strings.EqualFold(su.ID, u.ID):
		return fmt.Sprintf("%q is the Work 365 service user now: Work 365 Service is not taken from it", u.FullName), nil
	case legacy && (su.ApplicationID == "" || su.IsDisabled || su.DeletedState != 0):
		return fmt.Sprintf("the Work 365 service user is %q now, not an enabled application user, so the role of %q is still needed: left as it is", su.FullName, u.FullName), nil
	}
	return "", nil
}

// serviceUser reads the user the settings row points to now; nil when there is no setting, it is empty or the
// schema is unknown.
func (r *envRun) serviceUser(ctx context.Context) (*liveUser, error) {
	if r.ep.Schema == nil || r.ep.Schema.EntitySet == "" {
		return nil, nil
	}
	cur, err := readSetting(ctx, r.dv, r.ep.Schema)
	if err != nil || cur == nil || cur.userID == "" {
		return nil, err
	}
	return user(ctx, r.dv, cur.userID)
}

// unfitServiceUser says why a user cannot be what Work 365 runs as: it must be enabled, not deleted, and hold
// Work 365 Service, directly or through a team.
func (r *envRun) unfitServiceUser(ctx context.Context, u *liveUser) (string, error) {
	switch {
	case u.DeletedState != 0:
		return fmt.Sprintf("%q is soft-deleted: Work 365 cannot run as it, so the service user is left as it is", u.FullName), nil
	case u.IsDisabled:
		return fmt.Sprintf("%q is disabled: Work 365 cannot run as it, so the service user is left as it is (enable it first)", u.FullName), nil
	}
	role := r.a.opts.Roles.Service
	if role == "" {
		return "", nil
	}
	held, err := holdsByName(ctx, r.dv, u, role)
	if err != nil || held {
		return "", err
	}
	return fmt.Sprintf("%q does not hold %q, which Work 365 needs to run: the service user is left as it is (assign the role first)", u.FullName, role), nil
}

// userOf finds the user a step is about: by App ID (the live application user) or by user ID.
func (r *envRun) userOf(ctx context.Context, p map[string]any) (*liveUser, error) {
	if app := appID(p); app != "" {
		live, _, err := appUsers(ctx, r.dv, app)
		if err != nil {
			return nil, err
		}
		if live == nil {
			return nil, fmt.Errorf("there is no application user for App ID %s in this environment (it must be created first)", app)
		}
		return live, nil
	}
	u, err := user(ctx, r.dv, str(p, "user_id"))
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, fmt.Errorf("the user %s no longer exists", str(p, "user_id"))
	}
	return u, nil
}
