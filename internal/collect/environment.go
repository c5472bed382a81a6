package collect

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// reader reads one Dataverse organization. Its requests go through the environment's own bound and the tenant's
// share of the collector's request slots.
type reader struct {
	c        *Collector
	dv       *api.Dataverse
	env      *snapshot.Environment
	sem      chan struct{}
	requests *tenantSlots
}

// newReader returns the reader of an organization (for env, nil for none) whose requests count against the
// tenant's share of the request slots.
func (c *Collector) newReader(dv *api.Dataverse, env *snapshot.Environment, requests *tenantSlots) *reader {
	return &reader{c: c, dv: dv, env: env, sem: make(chan struct{}, c.opts.PerEnvironment), requests: requests}
}

// requestSlot is the request slot of one list or get. It is lent out while the request waits to be tried again
// (api.Yielder), so that a request waiting out a Retry-After or a backoff does not keep others from being sent;
// the environment's own slot stays taken meanwhile, so the environment's bound is unchanged.
type requestSlot struct {
	slots *tenantSlots
	held  bool
}

func (s *requestSlot) Yield() { s.free() }

func (s *requestSlot) Resume(ctx context.Context) error {
	if s.held {
		return nil
	}
	if err := s.slots.acquire(ctx); err != nil {
		return err
	}
	s.held = true
	return nil
}

func (s *requestSlot) free() {
	if s.held {
		s.held = false
		s.slots.release()
	}
}

// hold takes a slot of env (nil: none), then a request slot, and returns the context to send the request with
// and the function that gives both back.
func hold(ctx context.Context, requests *tenantSlots, env chan struct{}) (context.Context, func(), error) {
	if env != nil {
		select {
		case env <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	slot := &requestSlot{slots: requests}
	if err := slot.Resume(ctx); err != nil {
		if env != nil {
			<-env
		}
		return nil, nil, err
	}
	return api.WithYielder(ctx, slot), func() {
		slot.free()
		if env != nil {
			<-env
		}
	}, nil
}

// list reads every page of a collection under the environment's bounds.
func list[T any](ctx context.Context, r *reader, stage, path string, fn func(T) error) error {
	ctx, done, err := hold(ctx, r.requests, r.sem)
	if err != nil {
		return inStage(stage, err)
	}
	defer done()
	return inStage(stage, api.Each(ctx, r.dv, path, fn))
}

// get reads one object under the environment's bounds.
func (r *reader) get(ctx context.Context, stage, path string, v any) error {
	ctx, done, err := hold(ctx, r.requests, r.sem)
	if err != nil {
		return inStage(stage, err)
	}
	defer done()
	return inStage(stage, r.dv.Get(ctx, path, v))
}

// read collects in dependent steps: the Work 365 solution (where none is found, only whether Work 365's
// tables exist anyway); then, concurrently, everything that depends only on it — the schema of the settings
// table and, through it, the setting itself —; then the members of the teams that hold a Work 365 role; then
// the service user when it is not one of the application users already read.
func (r *reader) read(ctx context.Context) (*snapshot.Dataverse, error) {
	out := &snapshot.Dataverse{
		ApplicationUsers:     []snapshot.User{},
		ServiceRoleHolders:   []snapshot.User{},
		Flows:                []snapshot.Flow{},
		ConnectionReferences: []snapshot.ConnectionReference{},
		EmailTemplates:       []snapshot.EmailTemplate{},
	}
	sol, err := r.solution(ctx)
	if err != nil {
		return nil, err
	}
	out.Work365 = sol
	if !sol.Installed {
		tables, err := r.work365Tables(ctx)
		if err != nil {
			return nil, err
		}
		if len(tables) > 0 {
			return nil, inStage("solutions", &missingSolutionError{tried: sol.Tried, tables: tables, prefix: r.c.opts.TablePrefix})
		}
		return out, nil
	}

	var (
		setting  settingRow
		appTeams map[string][]snapshot.Team
		teams    map[string]*teamRoles
		holders  []snapshot.User
		disabled []ownerRow
		jobs     snapshot.FailedJobs
		flows    []ownedRow
		connRefs []ownedRow
		tmpls    []ownedRow
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if out.Schema, err = r.schema(gctx); err != nil {
			return err
		}
		setting, err = r.serviceUserSetting(gctx, out.Schema)
		return err
	})
	g.Go(func() (err error) { out.RootBusinessUnit, err = r.rootBusinessUnit(gctx); return })
	g.Go(func() (err error) { out.ApplicationUsers, err = r.applicationUsers(gctx); return })
	g.Go(func() (err error) { appTeams, err = r.applicationUserTeams(gctx); return })
	g.Go(func() (err error) { teams, err = r.teamsWithRoles(gctx); return })
	g.Go(func() (err error) { holders, err = r.serviceRoleHolders(gctx); return })
	g.Go(func() (err error) { disabled, err = r.disabledUsers(gctx); return })
	g.Go(func() (err error) { jobs, err = r.failedJobs(gctx); return })
	g.Go(func() (err error) { flows, err = r.cloudFlows(gctx); return })
	g.Go(func() (err error) { connRefs, err = r.connectionReferences(gctx); return })
	g.Go(func() (err error) { tmpls, err = r.emailTemplates(gctx); return })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out.FailedJobs = jobs

	// Roles held through teams: every role of the application users' teams; the Work 365 roles of the people
	// who are members of a team that holds one.
	for i := range out.ApplicationUsers {
		u := &out.ApplicationUsers[i]
		for _, tm := range appTeams[strings.ToLower(u.ID)] {
			if t := teams[strings.ToLower(tm.ID)]; t != nil {
				u.Roles = append(u.Roles, t.rolesOf()...)
			}
		}
	}
	members, err := r.work365TeamMembers(ctx, teams)
	if err != nil {
		return nil, err
	}
	holders = mergeTeamHolders(holders, members, teams, r.c.opts.RoleNames)
	out.ServiceRoleHolders = people(holders)

	out.ServiceUser = snapshot.ServiceUser{Configured: setting.userID != "", SettingID: setting.id, UserID: setting.userID}
	out.ServiceUser.SettingModifiedOn, out.ServiceUser.SettingModifiedBy = setting.modified()
	if setting.userID != "" {
		u, err := r.serviceUser(ctx, setting.userID, out.ApplicationUsers, holders)
		if err != nil {
			return nil, err
		}
		out.ServiceUser.User = u
	}

	owners := flaggedOwners(disabled, holders)
	for _, f := range flows {
		if o, ok := owners[strings.ToLower(f.ownerID)]; ok {
			out.Flows = append(out.Flows, snapshot.Flow{ID: f.id, Name: f.name, State: f.state, Owner: o})
		}
	}
	for _, cr := range connRefs {
		if o, ok := owners[strings.ToLower(cr.ownerID)]; ok {
			out.ConnectionReferences = append(out.ConnectionReferences, snapshot.ConnectionReference{
				ID: cr.id, LogicalName: cr.name, DisplayName: cr.display, ConnectorID: cr.extra, Owner: o})
		}
	}
	for _, t := range tmpls {
		if o, ok := owners[strings.ToLower(t.ownerID)]; ok {
			out.EmailTemplates = append(out.EmailTemplates, snapshot.EmailTemplate{ID: t.id, Title: t.name, Personal: t.flag, Owner: o})
		}
	}
	return out, nil
}

// missingSolutionError is an environment with Work 365's tables but no solution found by any of the names tried:
// reporting it as "not installed" would hide an installation under a name this configuration does not know.
type missingSolutionError struct {
	tried  []string
	tables []string
	prefix string
}

func (e *missingSolutionError) Error() string {
	shown := e.tables
	if len(shown) > 5 {
		shown = append(append([]string{}, shown[:5]...), fmt.Sprintf("and %d more", len(e.tables)-5))
	}
	return fmt.Sprintf("the environment has Work 365's tables (%s: %s) but no Work 365 solution was found by %s — "+
		"set work365.solution (the unique name), work365.solution_friendly_name or work365.publisher in the config to "+
		"the names this Work 365 version uses (Power Apps → Solutions lists them)",
		e.prefix+"*", strings.Join(shown, ", "), strings.Join(e.tried, ", or "))
}

// people keeps the role holders that are not application users.
func people(holders []snapshot.User) []snapshot.User {
	out := []snapshot.User{}
	for _, h := range holders {
		if !h.IsApplication() {
			out = append(out, h)
		}
	}
	return out
}

// flaggedOwners are the owners whose flows, connection references and templates are at risk: disabled users,
// and people holding a Work 365 role (the legacy human service account, which is retired after the switch).
// System-managed users such as SYSTEM are disabled by design; they are kept with their object ID (they have
// none) so that the rules can tell them apart.
func flaggedOwners(disabled []ownerRow, holders []snapshot.User) map[string]snapshot.Owner {
	owners := map[string]snapshot.Owner{}
	for _, d := range disabled {
		owners[strings.ToLower(d.id)] = snapshot.Owner{ID: d.id, Name: d.name, DomainName: d.domain, Disabled: true,
			Application: d.application, ObjectID: d.objectID}
	}
	for _, h := range holders {
		if h.IsApplication() {
			continue
		}
		key := strings.ToLower(h.ID)
		o := owners[key]
		o.ID, o.Name, o.DomainName = h.ID, h.FullName, h.DomainName
		o.Disabled = o.Disabled || h.Disabled
		o.HoldsServiceRole = true
		owners[key] = o
	}
	return owners
}

// appIDFilter is an OData filter matching any of the configured App IDs, in a stable order.
func (r *reader) appIDFilter() string {
	ids := make([]string, 0, len(r.c.opts.AppIDs))
	for _, id := range r.c.opts.AppIDs {
		ids = append(ids, strings.ToLower(id))
	}
	sort.Strings(ids)
	ids = dedupe(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "applicationid eq " + id
	}
	return strings.Join(parts, " or ")
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
